#!/usr/bin/env bash
# Runs a command against a throwaway, unlocked gnome-keyring Secret Service on a private session D-Bus, so the
# keychain contract tests (test/contract/keychain.test.ts) exercise the real OS keychain path without touching
# the user's own keyring.
#
#   bash scripts/with-keyring.sh <cmd...>
#   dbus-run-session -- bash scripts/with-keyring.sh <cmd...>       (same thing, bus made by the caller)
#
#   e.g. dbus-run-session -- bash scripts/with-keyring.sh npx tap test/contract/keychain.test.ts
#
# What it does:
#   1. Makes sure it runs on a private session bus: unless its parent is dbus-run-session (or it re-executed
#      itself already), it re-executes itself under `dbus-run-session`. It refuses to go on if something already
#      owns org.freedesktop.secrets on that bus: that is somebody's real keyring, never ours to unlock.
#   2. Starts `gnome-keyring-daemon --unlock --components=secrets` with HOME / XDG_* pointing into a temp dir and
#      a fixed test password on stdin. That creates and unlocks a fresh "login" collection (the default
#      alias), so libsecret and @napi-rs/keyring can create items without a prompt. (An EMPTY password does not
#      work: the daemon then creates no login keyring and the first store tries to run a GUI prompter.)
#      Only the daemon sees the temp HOME; the command keeps the caller's HOME.
#   3. Exports what the daemon prints (GNOME_KEYRING_CONTROL=...), checks that the Secret Service answers by
#      storing, looking up and clearing a probe item with secret-tool, exports VSYNC_TEST_KEYRING=gnome-keyring,
#      and runs the command.
#   4. On exit (any exit) stops the daemon and deletes the temp dir; exits with the command's status.
#      The command is run as a child rather than exec'd so that this cleanup can happen.
#
# Exits 1 with a message on stderr if the keyring cannot be started or does not answer.
# Needs: dbus-run-session and dbus-send (dbus), gnome-keyring, libsecret-tools (secret-tool).
# Harmless noise as root in a container: "dbus-daemon[...]: Failed to set fd limit to 65536: Operation not permitted".

set -euo pipefail

die() {
  echo "with-keyring: $*" >&2
  exit 1
}

[ "$#" -gt 0 ] || die "usage: bash scripts/with-keyring.sh <cmd...>"

for tool in dbus-run-session dbus-send dbus-update-activation-environment gnome-keyring-daemon secret-tool; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (apt-get install dbus gnome-keyring libsecret-tools)"
done

# Prints the pid of the process owning org.freedesktop.secrets on the session bus; fails if nobody owns it.
# (GetConnectionUnixProcessID never triggers D-Bus activation, unlike a call to the service itself.)
secrets_owner_pid() {
  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
    awk '{ print $NF }'
}

# 1. A private bus.
parent_comm=$(cat "/proc/$PPID/comm" 2>/dev/null || true) # truncated to 15 characters: "dbus-run-sessio"
if [ -z "${VSYNC_WITH_KEYRING_BUS:-}" ] && [ "${parent_comm#dbus-run-sessio}" = "$parent_comm" ]; then
  export VSYNC_WITH_KEYRING_BUS=1
  exec dbus-run-session -- bash "${BASH_SOURCE[0]}" "$@"
fi
unset VSYNC_WITH_KEYRING_BUS
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || die "DBUS_SESSION_BUS_ADDRESS is not set although running under dbus-run-session"

if secrets_owner_pid >/dev/null; then
  die "org.freedesktop.secrets is already running on $DBUS_SESSION_BUS_ADDRESS: this is not a private bus; refusing to unlock it"
fi

# 2. The daemon, confined to a temp dir.
keyring_dir=$(mktemp -d "${TMPDIR:-/tmp}/vsync-keyring.XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$keyring_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -m 700 "$keyring_dir/home" "$keyring_dir/data" "$keyring_dir/config" "$keyring_dir/cache" "$keyring_dir/run" "$keyring_dir/control"

# Any daemon the bus itself would start on demand (org.freedesktop.secrets is D-Bus-activatable, e.g. if ours
# dies) gets the same confined environment, so it can never open or create keyrings under the caller's HOME. No
# display either: an unlock prompt (gcr-prompter, activated when something hits a locked collection) then fails at
# once, as "prompt dismissed", instead of popping up on a developer's desktop and waiting.
dbus-update-activation-environment HOME="$keyring_dir/home" XDG_DATA_HOME="$keyring_dir/data" \
  XDG_CONFIG_HOME="$keyring_dir/config" XDG_CACHE_HOME="$keyring_dir/cache" XDG_RUNTIME_DIR="$keyring_dir/run" \
  DISPLAY= WAYLAND_DISPLAY= ||
  die "could not set the activation environment of the private bus"

# GNOME_KEYRING_CONTROL is dropped and the control directory given explicitly so that it can never find and
# unlock a daemon of the caller's desktop session.
# Without --foreground the daemon forks and the parent returns once it is initialised; the bus name is claimed a
# moment later (observed: right after the parent returns, the name often has no owner yet), so wait for it below
# before anything calls the service: a call before that would D-Bus-activate a second, locked daemon.
if ! daemon_env=$(printf '%s' 'vsync-test-password' |
  env -u DISPLAY -u WAYLAND_DISPLAY -u GNOME_KEYRING_CONTROL HOME="$keyring_dir/home" XDG_DATA_HOME="$keyring_dir/data" \
    XDG_CONFIG_HOME="$keyring_dir/config" XDG_CACHE_HOME="$keyring_dir/cache" XDG_RUNTIME_DIR="$keyring_dir/run" \
    gnome-keyring-daemon --unlock --components=secrets --control-directory="$keyring_dir/control" 2>"$keyring_dir/daemon.log"); then
  cat "$keyring_dir/daemon.log" >&2 || true
  die "gnome-keyring-daemon failed to start"
fi

for _ in $(seq 1 100); do
  daemon_pid=$(secrets_owner_pid) && [ -n "$daemon_pid" ] && break
  daemon_pid=
  sleep 0.1
done
[ -n "$daemon_pid" ] || {
  cat "$keyring_dir/daemon.log" >&2 || true
  die "gnome-keyring-daemon started but did not claim org.freedesktop.secrets on the bus within 10 s"
}

# 3. Export what it printed (NAME=value lines only), then prove the Secret Service answers.
while IFS= read -r line; do
  case "$line" in
    [A-Z_]*=*) export "${line?}" ;;
  esac
done <<<"$daemon_env"

probe_value="probe-$$-$RANDOM"
probe_attrs=(service tools.vsync.keyring-probe username "probe-$$")
printf '%s' "$probe_value" | secret-tool store --label='vsync keyring probe' "${probe_attrs[@]}" 2>"$keyring_dir/probe.log" ||
  {
    cat "$keyring_dir/probe.log" "$keyring_dir/daemon.log" >&2 || true
    die "the Secret Service did not accept a probe item (is the login keyring unlocked?)"
  }
got=$(secret-tool lookup "${probe_attrs[@]}" 2>>"$keyring_dir/probe.log") || got=
[ "$got" = "$probe_value" ] || {
  cat "$keyring_dir/probe.log" >&2 || true
  die "the Secret Service did not return the probe item"
}
secret-tool clear "${probe_attrs[@]}" || die "the Secret Service did not delete the probe item"

export VSYNC_TEST_KEYRING=gnome-keyring

# 4. Run the command; the EXIT trap cleans up.
set +e
"$@"
status=$?
set -e
exit "$status"
