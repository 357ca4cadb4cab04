// docs/ERRORS.md and the registry in shared/errors.ts must say the same thing: the same codes, and for each
// the same message, hint, HTTP status and exit code. Edit both together.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VsyncError, exitCodes, registry } from '../../shared/errors.js';
import { projectRoot } from '../helpers/built.js';

const doc = readFileSync(join(projectRoot, 'docs', 'ERRORS.md'), 'utf8');
const sections = new Map<string, string>();
for (const part of doc.split(/^## /m).slice(1)) {
  const [heading, ...body] = part.split('\n');
  sections.set(heading!.trim(), body.join('\n'));
}

t.same([...sections.keys()].sort(), Object.keys(registry).sort(), 'one section per registry code, no others');

for (const [code, spec] of Object.entries(registry)) {
  const body = sections.get(code) ?? '';
  const field = (name: string) => new RegExp(`^- ${name}: (.*)$`, 'm').exec(body)?.[1];
  t.equal(field('message'), spec.message, `${code} message`);
  t.equal(field('hint'), spec.hint, `${code} hint`);
  t.equal(field('HTTP status'), String(spec.http), `${code} HTTP status`);
  t.equal(field('exit code'), String(spec.exit), `${code} exit code`);
  t.ok(body.split('\n- message:')[0]!.trim().length > 20, `${code} says when it happens`);
}

t.test('registry sanity', async (t) => {
  const exits = new Set<number>(Object.values(exitCodes));
  for (const [code, spec] of Object.entries(registry)) {
    t.ok(exits.has(spec.exit), `${code} uses a documented exit class`);
    t.ok(spec.http >= 400 && spec.http < 600, `${code} HTTP status is an error`);
    t.notOk(spec.message.endsWith('.'), `${code} message has no trailing period (a detail follows it)`);
  }
});

t.test('VsyncError carries the registry entry', async (t) => {
  const err = new VsyncError('STORAGE_NOT_FOUND', 'acme/dev/latest');
  t.equal(err.message, 'no such object in the store: acme/dev/latest');
  t.equal(err.hint, registry.STORAGE_NOT_FOUND.hint);
  t.equal(err.http, 404);
  t.equal(err.exit, exitCodes.storage);
  t.equal(new VsyncError('INTERNAL', undefined, { hint: 'custom' }).hint, 'custom');
});
