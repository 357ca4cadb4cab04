// vsync init <env>: the agent makes the key, config and vault folder; a relative --store is resolved here,
// against the folder the user typed it in, since the agent runs elsewhere.
import { resolve } from 'node:path';
import type { InitRequest } from '../../shared/api.js';
import { defineCommand, route, usage } from '../command.js';
import { print, streamProgress } from '../context.js';
import { initPrintout } from '../render.js';
import { expectInit } from '../result-shape.js';

export interface Init {
  readonly name: 'init';
  readonly env: string;
  /** As typed: run() resolves a relative folder against the working folder. */
  readonly store?: string;
  readonly bucket?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly prefix?: string;
  readonly pathStyle: boolean;
  /** The repo's name, for a folder outside git (written to `.vsync`). */
  readonly repo?: string;
}

const INIT = route('POST', '/v1/init');

export const initCommand = defineCommand<Init>({
  name: 'init',
  summary: 'make a key, a config and the vault folder for <env>',
  usage: [
    'vsync init <env> [--repo <name>] [--store <dir> | --bucket <bucket> [--endpoint <url>]',
    '           [--region <region>] [--prefix <prefix>] [--path-style]]',
  ],
  about: `Makes a key for this repo and <env> in the OS keychain, a config file and the vault folder
(infra/vault/<env>/), and adds the vault folder and .env to the repo's .gitignore. Versions go to a
local folder store (the default, or --store) or to S3. The repo's name (the first part of every key
and store path) is the committed .vsync file's, else the origin remote's, else the checkout folder's;
outside a git checkout, name it with --repo.`,
  positionals: ['<env>'],
  options: [
    { name: 'repo', value: 'name', help: "the repo's name, written to .vsync (needed outside a git checkout)" },
    { name: 'store', value: 'dir', help: 'a folder to keep versions in (relative to here is fine)' },
    { name: 'bucket', value: 'bucket', help: "an S3 bucket instead; credentials come from the AWS SDK's usual chain" },
    { name: 'endpoint', value: 'url', help: "an S3-compatible server's URL" },
    { name: 'region', value: 'region', help: "the bucket's region" },
    { name: 'prefix', value: 'prefix', help: 'a key prefix inside the bucket' },
    { name: 'path-style', help: 'address the bucket by path (most S3-compatible servers need this)' },
  ],
  routes: [INIT],
  build({ positionals: [env], values, flags }) {
    const command = {
      name: 'init',
      env: env!,
      store: values.get('store'),
      bucket: values.get('bucket'),
      endpoint: values.get('endpoint'),
      region: values.get('region'),
      prefix: values.get('prefix'),
      pathStyle: flags.has('path-style'),
      repo: values.get('repo'),
    } as const;
    if (command.store !== undefined && command.bucket !== undefined)
      throw usage('give --store (a local folder) or --bucket (S3), not both', 'init');
    const s3Only = (['endpoint', 'region', 'prefix'] as const).filter((o) => command[o] !== undefined).map((o) => `--${o}`);
    if (command.pathStyle) s3Only.push('--path-style');
    if (command.bucket === undefined && s3Only.length > 0) throw usage(`${s3Only.join(', ')} go with --bucket`, 'init');
    return command;
  },
  async run(command, ctx) {
    const cwd = ctx.cwd();
    const body: InitRequest = {
      cwd,
      env: command.env,
      ...(command.store !== undefined ? { store: resolve(cwd, command.store) } : {}),
      ...(command.bucket !== undefined ? { bucket: command.bucket } : {}),
      ...(command.endpoint !== undefined ? { endpoint: command.endpoint } : {}),
      ...(command.region !== undefined ? { region: command.region } : {}),
      ...(command.prefix !== undefined ? { prefix: command.prefix } : {}),
      ...(command.pathStyle ? { forcePathStyle: true } : {}),
      ...(command.repo !== undefined ? { repo: command.repo } : {}),
    };
    const result = expectInit(await ctx.request({ ...INIT, body, ...streamProgress(ctx) }));
    if (ctx.json) return ctx.out.json(result);
    print(ctx.out, initPrintout(result));
  },
});
