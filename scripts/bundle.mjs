// `npm run bundle`: the CLI as one CommonJS file, dist/client/vsync-main.cjs, from tsc's output, with V8's code
// cache for it, and the small launcher that runs it from that cache, dist/client/vsync.cjs (the `vsync`
// command; client/launcher.ts says why). CommonJS because Node 20 starts a CommonJS entry ~6 ms sooner than an
// ES module one, and `vsync` is one process per command (issue 11's start-up target; `npm run bench` prints
// the figure). The sources use import.meta.url to find files beside the build; in the bundle that is the
// bundle's own URL.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { build } from 'esbuild';
import { BODY, CACHE, buildLine } from '../dist/client/code-cache.js';

const out = 'dist/client';
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' };

await build({
  ...common,
  entryPoints: ['dist/client/main.js'],
  outfile: join(out, BODY),
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
await build({
  ...common,
  entryPoints: ['dist/client/launcher.js'],
  outfile: join(out, 'vsync.cjs'),
  define: { 'import.meta.dirname': '__dirname' },
});

// The build line goes last, so the launcher finds it without searching; the cache is of the body as written.
const body = join(out, BODY);
const text = readFileSync(body, 'utf8').trimEnd();
const line = buildLine(createHash('sha256').update(text).digest('hex'));
const source = `${text}\n${line}`;
writeFileSync(body, source);
const cache = new Script(Module.wrap(source), { filename: join(process.cwd(), body) }).createCachedData();
writeFileSync(join(out, CACHE), Buffer.concat([Buffer.from(line, 'latin1'), cache]));
