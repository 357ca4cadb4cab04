#!/usr/bin/env bash
# The test command (`npm test`): builds, starts the real components the suites need, runs tap, stops them.
#
#   npm test                          everything
#   npm test -- test/unit/foo.test.ts one file (still with the real components)
#
# Real components, each started once per run and stopped by pid at exit:
#   - a single-node Ceph RGW on 127.0.0.1 (scripts/rgw.sh): the S3 storage contract suite;
#   - a throwaway gnome-keyring Secret Service on a private D-Bus (scripts/with-keyring.sh): the keychain suite.
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
# The last net under test/helpers/reaper.ts: an agent of this checkout still running after tap was left by a
# test that did not stop what it started. It is killed by pid, and named, so the leak gets fixed.
reap_agents() {
  local pids
  pids=$(pgrep -f "$PWD/dist/daemon/main.js" || true)
  [ -n "$pids" ] || return 0
  say "killing agents a test left running: $(echo $pids)"
  kill -KILL $pids 2>/dev/null || true
}
cleanup() {
  reap_agents
  if [ -d "$rgw_dir" ]; then bash scripts/rgw.sh stop "$rgw_dir" || say "could not stop RGW in $rgw_dir"; fi
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
run=(npx tap "$@")
if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-run-session >/dev/null 2>&1; then
  run=(bash scripts/with-keyring.sh "${run[@]}")
else
  say "*** gnome-keyring unavailable (apt-get install gnome-keyring dbus libsecret-tools): the keychain suite will skip ***"
  [ -z "${CI:-}" ] || { say "CI requires gnome-keyring"; exit 1; }
fi

"${run[@]}"
