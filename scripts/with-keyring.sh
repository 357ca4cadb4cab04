#!/usr/bin/env bash
# Runs a command against a throwaway, unlocked gnome-keyring Secret Service on a private session D-Bus, so the
# keychain contract tests (test/contract/keychain.test.ts) exercise the real OS keychain path without touching
# the user's own keyring.
#
#   bash scripts/with-keyring.sh <cmd...>
#
#   e.g. bash scripts/with-keyring.sh npx tap test/contract/keychain.test.ts
#
# What it does:
#   1. Makes a temp dir, then re-executes itself under `dbus-run-session` with scripts/keyring-bus/session.conf: a
#      session bus whose one activatable service is org.freedesktop.secrets, started by this script (`--serve`).
#      Nothing of the caller's bus is used: somebody's real keyring is never reached, let alone unlocked.
#   2. `--serve` runs `gnome-keyring-daemon --unlock --components=secrets --foreground` with HOME / XDG_* pointing
#      into the temp dir and a fixed test password on stdin. The first start creates and unlocks a fresh "login"
#      collection (the default alias), so libsecret and @napi-rs/keyring can create items without a prompt. (An
#      EMPTY password does not work: the daemon then creates no login keyring and the first store tries to run a
#      GUI prompter.) Only the daemon sees the temp HOME; the command keeps the caller's HOME.
#      Because the bus starts the daemon on demand, a daemon that dies (gnome-keyring now and then aborts on an
#      assertion; a CI run lost its keyring that way once, and every later keychain call then met a LOCKED
#      replacement that the default session bus's activation started) is replaced by the next call with one that
#      opens the same login keyring with the same password: unlocked, with every item. Each restart is said on
#      stderr with the dead daemon's last log lines, and counted at the end. No prompter is activatable either: a
#      locked collection fails at once instead of waiting for a GUI.
#   3. Proves the Secret Service answers by storing, looking up and clearing a probe item with secret-tool (the
#      first call starts the daemon), exports VSYNC_TEST_KEYRING=gnome-keyring (and VSYNC_TEST_KEYRING_DIR, the temp
#      dir: `starts` counts the daemon's starts, `pid` is the running one's pid), and runs the command.
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

readonly PASSWORD='vsync-test-password'

# --serve <dir>: what the private bus runs to start org.freedesktop.secrets
# (scripts/keyring-bus/services/org.freedesktop.secrets.service).
if [ "${1:-}" = --serve ]; then
  dir=$2
  starts=$(($(cat "$dir/starts" 2>/dev/null || echo 0) + 1))
  echo "$starts" >"$dir/starts"
  if [ "$starts" -gt 1 ]; then
    {
      echo "with-keyring: *** gnome-keyring-daemon died; the bus starts it again, unlocked (start #$starts). Its last log lines:"
      tail -n 20 "$dir/daemon.log" 2>/dev/null | sed 's/^/with-keyring:   | /'
    } >&2
  fi
  echo "--- start #$starts" >>"$dir/daemon.log"
  echo "$$" >"$dir/pid" # exec keeps the pid: this is the daemon's
  # The password on stdin without a newline, and this process becomes the daemon (the bus watches its pid).
  exec env -u DISPLAY -u WAYLAND_DISPLAY -u GNOME_KEYRING_CONTROL -u VSYNC_WITH_KEYRING_DIR -u VSYNC_WITH_KEYRING_SCRIPT HOME="$dir/home" \
    XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" XDG_CACHE_HOME="$dir/cache" XDG_RUNTIME_DIR="$dir/run" \
    gnome-keyring-daemon --unlock --foreground --components=secrets --control-directory="$dir/control" \
    < <(printf '%s' "$PASSWORD") >>"$dir/daemon.log" 2>&1
fi

[ "$#" -gt 0 ] || die "usage: bash scripts/with-keyring.sh <cmd...>"

for tool in dbus-run-session dbus-send gnome-keyring-daemon secret-tool; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (apt-get install dbus gnome-keyring libsecret-tools)"
done

# 1. The temp dir and the private bus (scripts/keyring-bus/: its configuration and its one service, which finds
# this script and the temp dir in the bus's environment).
if [ -z "${VSYNC_WITH_KEYRING_DIR:-}" ]; then
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  keyring_dir=$(mktemp -d "${TMPDIR:-/tmp}/vsync-keyring.XXXXXX")
  mkdir -m 700 "$keyring_dir/home" "$keyring_dir/data" "$keyring_dir/config" "$keyring_dir/cache" "$keyring_dir/run" "$keyring_dir/control"
  exec env VSYNC_WITH_KEYRING_DIR="$keyring_dir" VSYNC_WITH_KEYRING_SCRIPT="$here/with-keyring.sh" \
    dbus-run-session --config-file="$here/keyring-bus/session.conf" -- bash "$here/with-keyring.sh" "$@"
fi
keyring_dir=$VSYNC_WITH_KEYRING_DIR
unset VSYNC_WITH_KEYRING_DIR VSYNC_WITH_KEYRING_SCRIPT
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || die "DBUS_SESSION_BUS_ADDRESS is not set although running under dbus-run-session"

# Prints the pid of the process owning org.freedesktop.secrets on the session bus; fails if nobody owns it.
# (GetConnectionUnixProcessID never triggers D-Bus activation, unlike a call to the service itself.)
secrets_owner_pid() {
  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
    awk '{ print $NF }'
}

cleanup() {
  local pid starts
  starts=$(cat "$keyring_dir/starts" 2>/dev/null || echo 0)
  if [ "$starts" -gt 1 ]; then echo "with-keyring: *** gnome-keyring-daemon died $((starts - 1)) time(s) during this run" >&2; fi
  pid=$(secrets_owner_pid) || pid=
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$keyring_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# 2 and 3. The first call starts the daemon; prove that it answers.
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

export GNOME_KEYRING_CONTROL="$keyring_dir/control" VSYNC_TEST_KEYRING=gnome-keyring VSYNC_TEST_KEYRING_DIR="$keyring_dir"

# 4. Run the command; the EXIT trap cleans up.
set +e
"$@"
status=$?
set -e
exit "$status"
