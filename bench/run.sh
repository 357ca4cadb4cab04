#!/usr/bin/env bash
# `npm run bench`: builds, starts a Ceph RGW when it can (root, packages installed), runs bench/run.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
if [ "${1:-}" = --keyring ]; then
  # gnome-keyring dying under the keychain: on the throwaway keyring's private bus, nothing else.
  exec bash scripts/with-keyring.sh node --no-warnings dist/bench/keyring-crash.js
fi
state=$(mktemp -d "${TMPDIR:-/tmp}/vsync-bench.XXXXXX")
trap '[ -d "$state/rgw" ] && bash scripts/rgw.sh stop "$state/rgw"; rm -rf "$state"' EXIT
if command -v radosgw >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && exports=$(bash scripts/rgw.sh start "$state/rgw" 2>"$state/rgw.log"); then
  eval "$exports"
else
  echo "bench: Ceph RGW not started; S3 rows will be skipped" >&2
fi
node --no-warnings dist/bench/run.js "$@"
case "${1:-}" in --peers | --growth | --agent | --team) exit 0 ;; esac
# The agent under abuse (idle connections, requests in flight): its own process, so its sockets and load
# never share an event loop with the benchmarks above.
node --no-warnings dist/bench/abuse.js
