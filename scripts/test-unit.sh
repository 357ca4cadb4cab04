#!/usr/bin/env bash
# The fast lane (`npm run test:unit`): the unit tests alone, with no Ceph RGW, no gnome-keyring and no type
# check. Use it while changing the domain, the client or the wire contract; run `npm test` (everything, with
# the real components) before a commit. Arguments go to the runner (`npm run test:unit -- --verbose`,
# `-- --jobs 1`).
#
# esbuild transpiles the sources and the tests into dist/ (well under a second; `npm run build` adds tsc's
# type check), and scripts/run-tests.mjs runs the JavaScript, each file its own Node process: a tsx loader
# would cost ~0.3 s of CPU in each of the ~60 processes, and tap's runner another ~0.7 s (its processinfo
# loader, for coverage we do not collect). Some unit tests run the built programs as child processes, which
# is why dist/ holds them too. One file by hand: `npx tap test/unit/foo.test.ts` (tap's runner, tsx).
set -euo pipefail
cd "$(dirname "$0")/.."
find daemon client shared test -name '*.ts' ! -name '*.d.ts' -print0 |
  xargs -0 npx esbuild --outdir=dist --outbase=. --format=esm --platform=node --target=node20 --sourcemap --log-level=warning
npm run --silent bundle
exec node scripts/run-tests.mjs "$@" dist/test/unit/*.test.js
