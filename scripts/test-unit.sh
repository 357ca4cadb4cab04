#!/usr/bin/env bash
# The fast lane (`npm run test:unit`): the unit tests alone, with no Ceph RGW, no gnome-keyring and no type
# check. A few unit tests run the built programs as child processes, so dist/ is made first, by esbuild
# alone (a transpile, well under a second; `npm run build` adds tsc's type check). Use it while changing the
# domain, the client or the wire contract; run `npm test` (everything, with the real components) before a
# commit.
set -euo pipefail
cd "$(dirname "$0")/.."
find daemon client shared -name '*.ts' ! -name '*.d.ts' -print0 |
  xargs -0 npx esbuild --outdir=dist --outbase=. --format=esm --platform=node --target=node20 --sourcemap --log-level=warning
npm run --silent bundle
exec npx tap test/unit/*.test.ts "$@"
