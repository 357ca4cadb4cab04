#!/usr/bin/env bash
# The fast lane (`npm run test:unit`): the unit tests alone, with no Ceph RGW, no gnome-keyring and no type
# check. Use it while changing the domain, the client or the wire contract; run `npm test` (everything, with
# the real components) before a commit. Arguments are tap options (`npm run test:unit -- --reporter=tap`).
#
# esbuild transpiles the sources and the tests into dist/ (well under a second; `npm run build` adds tsc's
# type check), and tap runs the JavaScript: a tsx loader in each of the ~60 test processes costs ~0.3 s of
# CPU apiece, a sixth of the lane on a 2-core machine. Some unit tests run the built programs as child
# processes, which is why dist/ holds them too. One file by hand: `npx tap test/unit/foo.test.ts` (tsx).
set -euo pipefail
cd "$(dirname "$0")/.."
find daemon client shared test -name '*.ts' ! -name '*.d.ts' -print0 |
  xargs -0 npx esbuild --outdir=dist --outbase=. --format=esm --platform=node --target=node20 --sourcemap --log-level=warning
npm run --silent bundle
exec npx tap --node-arg=--enable-source-maps dist/test/unit/*.test.js "$@"
