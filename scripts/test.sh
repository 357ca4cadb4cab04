#!/usr/bin/env bash
# The test command (`npm test`): builds, starts the real components the suites need, runs tap, stops them.
#
#   npm test                          everything
#   npm test -- test/unit/foo.test.ts one file (still with the real components)
#
# Everything is the contract and integration suites under tap, then the unit files with the unit lane's
# runner (scripts/test-unit.sh: the same files, transpiled by esbuild, each its own Node process), and one
# totals line for both at the end, in tap's form, which .ci/run reads. The unit files under tap's runner cost
# ~1.5 s of CPU each for its loaders (CONTRIBUTING.md), about 80 s of CI's wall for 80 files.
#
# Real components, each started once per run and stopped by pid at exit:
#   - a single-node Ceph RGW on 127.0.0.1 (scripts/rgw.sh): the S3 storage contract suite;
#   - a throwaway gnome-keyring Secret Service on a private D-Bus (scripts/with-keyring.sh): the keychain suite.
# tap runs with TMPDIR in this run's own folder; after it, whatever a test left (agents of this checkout, user
# managers, temp folders) is ended or removed and named (test/helpers/reaper.ts is the net inside the tests).
# Where a component's packages are missing, its suite skips with a loud reason, except under CI (CI set),
# where a component that cannot start fails the run: CI never passes by skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*" >&2; }

npm run --silent build
npm run --silent typecheck:tests
npm run --silent lint

state=$(mktemp -d "${TMPDIR:-/tmp}/vsync-test.XXXXXX")
rgw_dir="$state/rgw"
# tap runs with TMPDIR here (os.tmpdir() reads it), so every temp folder, socket folder and HOME a test makes
# is this run's, and goes with $state. Kept short (socket paths under it must stay within 103 bytes), and open
# as /tmp is (sticky, world-writable, its parent searchable): socket-trust's other user makes folders in it.
tests_tmp="$state/tmp"
chmod 711 "$state"
mkdir -m 1777 "$tests_tmp"

# The last nets under test/helpers/reaper.ts: what is still running or still on disk after tap was left by a
# test that did not stop or remove what it made (or that tap had to SIGKILL). Each is named, so the leak gets
# fixed, and ended by pid: this checkout's agents and this run's user managers only, never a developer's own.

# `systemd --user` managers (test/helpers/user-manager.ts) whose XDG_RUNTIME_DIR is under this run's TMPDIR.
# SIGTERM first: a user manager then stops its units (the agent among them) and exits.
reap_managers() {
  local pid pids=() runtime
  for pid in $(pgrep -x systemd || true); do
    runtime=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^XDG_RUNTIME_DIR=//p') || continue
    case "$runtime" in "$tests_tmp"/*) ;; *) continue ;; esac
    say "stopping a systemd user manager a test left running: pid $pid, XDG_RUNTIME_DIR=$runtime"
    pids+=("$pid")
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    running "${pids[@]}" || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
# Whether any of the pids still runs (a zombie does not: an orphan waits for a PID 1 that may never reap it).
running() {
  local pid
  for pid in "$@"; do
    [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$pid" ] || return 0
  done
  return 1
}
reap_agents() {
  local pids
  pids=$(pgrep -f "$PWD/dist/daemon/main.js" || true)
  [ -n "$pids" ] || return 0
  say "killing agents a test left running: $(echo $pids)"
  kill -KILL $pids 2>/dev/null || true
}
# What tests left in their TMPDIR, by name (random suffixes folded: "vsa-XXXXXX x3"), then removed with $state.
# tsx-<uid> is tsx's transform cache, not a test's.
report_temp() {
  [ -d "$tests_tmp" ] || return 0
  local left
  left=$(find "$tests_tmp" -mindepth 1 -maxdepth 1 ! -name 'tsx-*' -printf '%f\n' | sed -E 's/([-._])[A-Za-z0-9]{6}$/\1XXXXXX/' | sort | uniq -c |
    awk '{ printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1 }')
  [ -z "$left" ] || say "removing temp folders tests left behind in $tests_tmp: $left"
}
cleanup() {
  reap_managers
  reap_agents
  if [ -d "$rgw_dir" ]; then bash scripts/rgw.sh stop "$rgw_dir" || say "could not stop RGW in $rgw_dir"; fi
  report_temp
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ceph RGW
if command -v radosgw >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "starting Ceph RGW"
  started=$(date +%s)
  if exports=$(bash scripts/rgw.sh start "$rgw_dir"); then
    eval "$exports"
    say "Ceph RGW is up at $VSYNC_TEST_S3_ENDPOINT ($(( $(date +%s) - started )) s)"
  else
    rm -rf "$rgw_dir"
    say "Ceph RGW failed to start (the log is above)"
    [ -z "${CI:-}" ] || exit 1
  fi
else
  say "*** Ceph RGW unavailable (needs root and: apt-get install radosgw ceph-mon ceph-osd uuid-runtime curl): the S3 suite will skip ***"
  [ -z "${CI:-}" ] || { say "CI requires Ceph RGW"; exit 1; }
fi

# gnome-keyring runs the whole tap run inside its private session bus, so every suite that needs it sees it.
run=(env TMPDIR="$tests_tmp" npx tap "$@")
if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-run-session >/dev/null 2>&1; then
  run=(bash scripts/with-keyring.sh "${run[@]}")
else
  say "*** gnome-keyring unavailable (apt-get install gnome-keyring dbus libsecret-tools): the keychain suite will skip ***"
  [ -z "${CI:-}" ] || { say "CI requires gnome-keyring"; exit 1; }
fi

if [ "$#" -gt 0 ]; then
  "${run[@]}"
  exit
fi

tap_log="$state/tap.log"
unit_log="$state/unit.log"
set +e
"${run[@]}" test/contract/*.test.ts test/integration/*.test.ts 2>&1 | tee "$tap_log"
tap_rc=${PIPESTATUS[0]}
# After the integration suites: the unit lane transpiles into dist/ with esbuild, and those suites ran tsc's build.
TMPDIR="$tests_tmp" bash scripts/test-unit.sh 2>&1 | tee "$unit_log"
unit_rc=${PIPESTATUS[0]}
set -e

# "# { total: N, pass: N, fail: N[, skip: N] }": the last of each log, added up. A run that failed without a
# failing test (a crash before its totals) counts one failure more.
count() {
  local n
  n=$(grep -E '^# \{ total: [0-9]+' "$1" | tail -n 1 | sed -nE "s/.*$2: ([0-9]+).*/\1/p" || true)
  echo "${n:-0}"
}
pass=$(( $(count "$tap_log" pass) + $(count "$unit_log" pass) ))
fail=$(( $(count "$tap_log" fail) + $(count "$unit_log" fail) ))
skip=$(( $(count "$tap_log" skip) + $(count "$unit_log" skip) ))
if [ "$tap_rc" -ne 0 ] && [ "$(count "$tap_log" fail)" -eq 0 ]; then fail=$((fail + 1)); fi
if [ "$unit_rc" -ne 0 ] && [ "$(count "$unit_log" fail)" -eq 0 ]; then fail=$((fail + 1)); fi
echo "# { total: $((pass + fail + skip)), pass: $pass, fail: $fail, skip: $skip }"
[ "$tap_rc" -eq 0 ] && [ "$unit_rc" -eq 0 ]
