// One wire contract: the zod schemas in shared/ (api.ts, events.ts). The client reads answers without zod
// (client/result-shape.ts, for start-up time), so this test holds each of its readers to its schema: every
// schema field read, with the same kind and the same optionality; and the answers the real server gives
// (the domain over the in-memory store, through fastify's inject) pass both the schema and the reader.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import * as api from '../../shared/api.js';
import { AgentEventSchema } from '../../shared/events.js';
import * as reader from '../../client/result-shape.js';
import { appFixture } from '../helpers/app-fixture.js';

type AnySchema = z.ZodType;
interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  options?: AnySchema[];
}
const def = (s: AnySchema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** What result-shape.ts calls the kind of a schema field, with `?` when it may be left out. */
function kindOf(field: AnySchema): string {
  let d = def(field);
  let optional = false;
  while (d.type === 'optional' || d.type === 'default') {
    optional = true;
    d = def(d.innerType!);
  }
  const kind = (
    {
      string: 'string',
      enum: 'string',
      literal: 'string',
      number: 'number',
      int: 'number',
      boolean: 'boolean',
      array: 'array',
      object: 'object',
      record: 'object',
      union: 'object',
    } as Record<string, string>
  )[d.type];
  return `${kind ?? `(${d.type})`}${optional ? '?' : ''}`;
}

function fieldsOf(schema: AnySchema): Record<string, string> {
  return Object.fromEntries(Object.entries(def(schema).shape!).map(([name, field]) => [name, kindOf(field)]));
}

const elementOf = (schema: AnySchema, field: string): AnySchema =>
  def(def(schema).shape![field]!).innerType ?? (def(def(schema).shape![field]!) as unknown as { element: AnySchema }).element;

const S = reader.SHAPES;
const pairs: Array<[string, reader.Shape, AnySchema]> = [
  ['init', S.init, api.InitResultSchema],
  ['push', S.push, api.PushResultSchema],
  ['pull', S.pull, api.PullResultSchema],
  ['lock', S.lock, api.LockResultSchema],
  ['key export', S.keyExport, api.KeyExportResultSchema],
  ['key import', S.keyImport, api.KeyImportResultSchema],
  ['use', S.use, api.UseResultSchema],
  ['versions', S.versions, api.VersionsResultSchema],
  ['version entry', S.versionEntry, elementOf(api.VersionsResultSchema, 'versions')],
  ['doctor', S.doctor, api.DoctorResultSchema],
  ['doctor agent', S.doctorAgent, def(api.DoctorResultSchema).shape!.agent!],
  ['doctor check', S.doctorCheck, api.DoctorCheckSchema],
  ['backups', S.backups, api.BackupsResultSchema],
  ['backup entry', S.backupEntry, elementOf(api.BackupsResultSchema, 'backups')],
  ['restore', S.restore, api.RestoreResultSchema],
  ['status vault', S.statusVault, elementOf(api.StatusResultSchema, 'vaults')],
  ['operation', S.operation, api.OperationRecordSchema],
  ['watch entry', S.watchEntry, api.WatchEntrySchema],
  ['unwatch', S.unwatch, api.UnwatchResultSchema],
  ['watch list', S.watchList, api.WatchListResultSchema],
  ['diff', S.diff, api.DiffResultSchema],
  ['file change', S.fileChange, api.FileChangeSchema],
  ['key change', S.keyChange, api.KeyChangeSchema],
  ['masked value', S.maskedValue, api.MaskedValueSchema],
  ['env', S.env, api.EnvResultSchema],
  ['log', S.log, api.LogResultSchema],
  ['key rotate', S.keyRotate, api.KeyRotateResultSchema],
  ['log entry', S.logEntry, api.LogEntrySchema],
];

t.test("each of the client's readers reads every field of its schema, as the schema has it", async (t) => {
  for (const [name, shape, schema] of pairs) t.same({ ...shape }, fieldsOf(schema), name);
  // status: `watches` is read as optional on purpose (an agent from before watching), required in the schema.
  t.same({ ...S.status, watches: 'array' }, fieldsOf(api.StatusResultSchema), 'status');
});

t.test('a diff side: the reader knows every field of every kind, and only `kind` as required', async (t) => {
  const fields: Record<string, string> = {};
  for (const option of def(api.DiffSideSchema).options!) {
    for (const [name, kind] of Object.entries(fieldsOf(option))) fields[name] = name === 'kind' ? 'string' : `${kind.replace(/\?$/, '')}?`;
  }
  t.same({ ...S.diffSide }, fields);
});

t.test('every event type: the reader and the schema agree', async (t) => {
  const options = def(AgentEventSchema).options!;
  const types = options.map((o) => (def(def(o).shape!.type!) as unknown as { values: string[] }).values[0]!);
  t.same(Object.keys(reader.EVENT_SHAPES).sort(), [...types].sort(), 'the same event types');
  for (const option of options) {
    const { id, at, type, ...fields } = fieldsOf(option);
    t.same({ id, at, type }, { id: 'number', at: 'string', type: 'string' });
    const name = (def(def(option).shape!.type!) as unknown as { values: string[] }).values[0]!;
    t.same({ ...reader.EVENT_SHAPES[name as keyof typeof reader.EVENT_SHAPES] }, fields, name);
  }
});

t.test('the check itself: a field the reader leaves out, or reads as another kind, is seen', async (t) => {
  t.notSame({ repo: 'string', env: 'string' }, fieldsOf(api.UnwatchResultSchema));
  t.notSame({ ...S.unwatch, stopped: 'string' }, fieldsOf(api.UnwatchResultSchema));
  t.notSame({ ...S.pull, backup: 'string' }, fieldsOf(api.PullResultSchema), 'optionality counts');
});

t.test('the answers the server really gives pass the schema and the reader', async (t) => {
  const { repo, app } = appFixture(t, 'vsync-wire-');
  const post = async (url: string, payload: object) => {
    const res = await app.inject({ method: 'POST', url, payload });
    t.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 200)}`);
    return res.json() as unknown;
  };
  const get = async (url: string) => (await app.inject({ method: 'GET', url })).json() as unknown;
  const q = `cwd=${encodeURIComponent(repo)}&env=dev`;
  const both = <T>(name: string, answer: unknown, schema: z.ZodType<T>, read: (v: unknown) => unknown) => {
    t.same(schema.parse(answer), answer, `${name}: the schema takes it as it is`);
    t.same(read(answer), answer, `${name}: the reader takes it`);
  };

  both('init', await post('/v1/init', { cwd: repo, env: 'dev' }), api.InitResultSchema, reader.expectInit);
  writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), 'A=1\n');
  both('push', await post('/v1/push', { cwd: repo, env: 'dev' }), api.PushResultSchema, reader.expectPush);
  both('pull', await post('/v1/pull', { cwd: repo, env: 'dev', force: true }), api.PullResultSchema, reader.expectPull);
  both('versions', await get(`/v1/versions?${q}`), api.VersionsResultSchema, reader.expectVersions);
  both('backups', await get(`/v1/backups?${q}`), api.BackupsResultSchema, reader.expectBackups);
  both('restore', await post('/v1/backups/restore', { cwd: repo, env: 'dev' }), api.RestoreResultSchema, reader.expectRestore);
  both('use', await post('/v1/use', { cwd: repo, env: 'dev' }), api.UseResultSchema, reader.expectUse);
  both('watch', await post('/v1/watch', { cwd: repo, env: 'dev' }), api.WatchEntrySchema, reader.expectWatchEntry);
  both('watch list', await get('/v1/watch'), api.WatchListResultSchema, reader.expectWatchList);
  both('status', await get('/v1/status'), api.StatusResultSchema, reader.expectStatus);
  both('unwatch', await post('/v1/unwatch', { cwd: repo, env: 'dev' }), api.UnwatchResultSchema, reader.expectUnwatch);
  both('doctor', await post('/v1/doctor', { cwd: repo, env: 'dev' }), api.DoctorResultSchema, reader.expectDoctor);
  writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), 'A=2\nB=3\n');
  both('diff', await post('/v1/diff', { cwd: repo, env: 'dev', showValues: true }), api.DiffResultSchema, reader.expectDiff);
  both('log', await get(`/v1/log?${q}`), api.LogResultSchema, reader.expectLog);
  both('env', await post('/v1/env', { cwd: repo, env: 'dev' }), api.EnvResultSchema, reader.expectEnv);
  both('key rotate', await post('/v1/key/rotate', { cwd: repo, env: 'dev' }), api.KeyRotateResultSchema, reader.expectKeyRotate);
  both('lock', await post('/v1/lock', {}), api.LockResultSchema, reader.expectLock);
});
