// `npm run bundle`: the CLI as one CommonJS file, dist/client/vsync.cjs, from tsc's output. CommonJS because
// Node 20 starts a CommonJS entry ~6 ms sooner than an ES module one, and `vsync` is one process per command
// (issue 11's start-up target; `npm run bench` prints the figure). The sources use import.meta.url to find
// files beside the build; in the bundle that is the bundle's own URL.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/client/main.js'],
  outfile: 'dist/client/vsync.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
