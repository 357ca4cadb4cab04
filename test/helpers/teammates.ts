// Teammates for integration tests: each a HOME with a git checkout of the same repo, a real agent on its
// own socket, and the real CLI run from the checkout. Keys come from the agent's environment when the
// caller passes VSYNC_KEY in `agentEnv`, else from the Secret Service scripts/test.sh started.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import type { Storage } from '../../daemon/storage/storage.js';
import { configRoot } from '../../shared/paths.js';
import { freshSocket, startAgent, type Agent } from './agent.js';
import { vsync, type CliRun } from './cli.js';
import { removeOnExit } from './reaper.js';
import type { TestContext } from './tap-types.js';

const run = promisify(execFile);

export interface User {
  readonly name: string;
  readonly home: string;
  readonly repo: string;
  readonly env: Record<string, string>;
  agent: Agent;
  cli(args: string[], cwd?: string): Promise<CliRun>;
  envFile(): string;
}

/**
 * A HOME with a git checkout of `repoName` in it, a fresh socket path, and the CLI run there against that
 * socket; the caller starts the agent.
 */
export async function checkout(base: string, name: string, repoName: string) {
  const home = join(base, name);
  const repo = join(home, 'projects', 'myrepo');
  mkdirSync(repo, { recursive: true });
  await run('git', ['init', '-q', repo]);
  writeFileSync(join(repo, '.vsync'), `repo=${repoName}\n`);
  writeFileSync(join(repo, '.gitignore'), '.env\ninfra/vault/\n');
  const socket = freshSocket();
  const env = { HOME: home, VSYNC_SOCKET: socket, VSYNC_NO_AUTOSTART: '1', NO_COLOR: '1' };
  return {
    home,
    repo,
    socket,
    env,
    cli: (args: string[], cwd = repo): Promise<CliRun> => vsync(args, { cwd, env }),
    envFile: () => join(repo, 'infra', 'vault', 'dev', '.env.dev'),
  };
}

export async function user(base: string, name: string, repoName: string, agentEnv: Record<string, string> = {}): Promise<User> {
  const { socket, ...place } = await checkout(base, name, repoName);
  const agent = await startAgent({ home: place.home, socket, env: agentEnv });
  // The user's shell is the one the agent started from: what it was given, the CLI has too (the agent
  // refuses a command whose credentials differ from its own: AGENT_ENVIRONMENT_CHANGED).
  const env = { ...place.env, ...agentEnv };
  return { name, ...place, env, agent, cli: (args: string[], cwd = place.repo) => vsync(args, { cwd, env }) };
}

/** Stops `u`'s agent and starts another with `agentEnv`, which `u`'s shell (its CLI) gets too, as user() does. */
export async function restartAgent(u: User, agentEnv: Record<string, string> = {}): Promise<void> {
  await u.agent.stop();
  Object.assign(u.env, agentEnv);
  u.agent = await startAgent({ home: u.home, socket: u.env.VSYNC_SOCKET!, env: agentEnv });
}

/**
 * Alice and Bob with their agents (started together, each with `agents`' environment for it), in a fresh
 * folder, for one repo of a random name: at teardown their agents stop, the vault's key leaves the Secret
 * Service, and the folder goes.
 */
export async function aliceAndBob(
  t: TestContext,
  prefix: string,
  agents: { readonly alice?: Record<string, string>; readonly bob?: Record<string, string> } = {},
): Promise<{ base: string; repoName: string; a: User; b: User }> {
  const base = removeOnExit(mkdtempSync(join(tmpdir(), prefix)));
  const repoName = `it_${randomBytes(4).toString('hex')}`;
  const [a, b] = await Promise.all([user(base, 'alice', repoName, agents.alice), user(base, 'bob', repoName, agents.bob)]);
  t.teardown(async () => {
    await a.agent.stop();
    await b.agent.stop();
    await run('secret-tool', ['clear', 'service', 'tools.vsync', 'username', `${repoName}/dev`]).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });
  return { base, repoName, a, b };
}

export function repoOf(u: User): string {
  return /repo=(\S+)/.exec(readFileSync(join(u.repo, '.vsync'), 'utf8'))![1]!;
}

export function shareConfig(from: User, to: User, repoName: string): void {
  const src = join(configRoot({ HOME: from.home }), repoName);
  const dst = join(configRoot({ HOME: to.home }), repoName);
  mkdirSync(dst, { recursive: true, mode: 0o700 });
  for (const f of readdirSync(src)) writeFileSync(join(dst, f), readFileSync(join(src, f)), { mode: 0o600 });
}

/** A new bucket on the test RGW (VSYNC_TEST_S3_ENDPOINT). */
export async function createBucket(prefix: string): Promise<string> {
  const bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
  const admin = new S3Client({ endpoint: process.env.VSYNC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  return bucket;
}

/** Whether `bucket` exists at `endpoint`: `'there'`, or the HTTP status HEAD answered (404: no such bucket). */
export async function bucketStatus(endpoint: string, bucket: string): Promise<'there' | number | undefined> {
  const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
  try {
    return await admin.send(new HeadBucketCommand({ Bucket: bucket })).then(
      () => 'there' as const,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode,
    );
  } finally {
    admin.destroy();
  }
}

/**
 * Where a team's vault lives for a test: on RGW, a new bucket (the init arguments name it, and `remote`
 * reads it directly, closed at teardown); on the directory store, the default folder under `home`.
 */
export async function teamStore(
  t: TestContext,
  store: 'dir' | 's3',
  home: string,
  bucketPrefix: string,
): Promise<{ initArgs: string[]; remote: Storage }> {
  if (store === 'dir') return { initArgs: ['init', 'dev'], remote: new DirStorage(join(home, '.local', 'share', 'vsync', 'store')) };
  const bucket = await createBucket(bucketPrefix);
  const s3 = new S3Storage({ bucket, endpoint: process.env.VSYNC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
  t.teardown(() => s3.destroy());
  return {
    initArgs: [
      'init',
      'dev',
      '--bucket',
      bucket,
      '--endpoint',
      process.env.VSYNC_TEST_S3_ENDPOINT!,
      '--region',
      'us-east-1',
      '--path-style',
    ],
    remote: s3,
  };
}
