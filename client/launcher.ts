#!/usr/bin/env node
// `vsync`: runs the bundled CLI (vsync-main.cjs, beside this file) from the V8 code cache that `npm run
// bundle` made for it. Compiling the ~110 KB bundle was the largest single piece of the client's start-up
// over `node -e 0` (issue 11's target for `vsync status`; `npm run bench -- --agent` prints it). Node 22 has
// this built in (module.enableCompileCache); Node 20 does not.
//
// V8 checks a cache against the length of its source only, so a cache from another build of the same length
// would run that build's code: the bundle's last line names its build (a SHA-256 of the rest), the cache
// starts with the same name, and a cache for another build is not offered. One that V8 refuses (another Node,
// other V8 flags) costs a compile, as without a cache.
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { BODY, BUILD_LINE_BYTES, CACHE } from './code-cache.js';

const body = join(import.meta.dirname, BODY);
const source = readFileSync(body, 'utf8');
const script = new Script(Module.wrap(source), { filename: body, cachedData: cacheFor(source.slice(-BUILD_LINE_BYTES)) });
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(body), module, body, import.meta.dirname);

function cacheFor(build: string): Buffer | undefined {
  let cache: Buffer;
  try {
    cache = readFileSync(join(import.meta.dirname, CACHE));
  } catch {
    return undefined;
  }
  return cache.toString('latin1', 0, BUILD_LINE_BYTES) === build ? cache.subarray(BUILD_LINE_BYTES) : undefined;
}
