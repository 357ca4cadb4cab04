// Machines for domain tests: each with its own HOME (configs, state, backups) and repo checkout, sharing
// one store and one keychain the way teammates share a bucket and a team key.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Keychain } from '../../daemon/keychain/keychain.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import type { Storage } from '../../daemon/storage/storage.js';
import { writeFileSync } from 'node:fs';
import { init } from '../../daemon/vault/init.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import type { VaultDeps, VaultRef } from '../../daemon/vault/vault.js';
import { configRoot } from '../../shared/paths.js';
import type { ProgressEvent } from '../../shared/progress.js';
import { removeOnExit } from './reaper.js';

export interface Machine {
  readonly home: string;
  readonly deps: VaultDeps;
  readonly ref: VaultRef;
  /** Every progress event reported to `progress`, in order. */
  readonly events: ProgressEvent[];
  progress(event: ProgressEvent): void;
  /** Step and detail lines as the CLI would print them. */
  lines(): string[];
}

export class Clock {
  constructor(public ms: number = Date.UTC(2026, 4, 16, 11, 33, 4)) {}
  now = (): Date => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export function machine(base: string, name: string, storage: Storage, keychain: Keychain, clock: Clock, env = 'dev'): Machine {
  const home = join(base, name);
  const root = join(home, 'projects', 'myrepo');
  mkdirSync(root, { recursive: true });
  const events: ProgressEvent[] = [];
  return {
    home,
    deps: {
      storageFor: () => storage,
      keychain,
      keys: new KeyRing(keychain),
      environment: { HOME: home },
      now: clock.now,
    },
    ref: { repo: 'vsync', env, root },
    events,
    progress: (e) => events.push(e),
    lines: () => events.map((e) => (e.kind === 'step' ? `[${e.n}/${e.of}] ${e.text}` : e.text)),
  };
}

/** Hands B the config A made, as a teammate would receive it. */
export function shareConfig(from: Machine, to: Machine): void {
  cpSync(join(configRoot(from.deps.environment), from.ref.repo), join(configRoot(to.deps.environment), to.ref.repo), { recursive: true });
}

/** A fresh folder under TMPDIR and its removal; removed anyway when the test process ends (test/helpers/reaper.ts). */
export function tempBase(prefix: string): { base: string; cleanup: () => void } {
  const base = removeOnExit(mkdtempSync(join(tmpdir(), prefix)));
  return { base, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** Alice and Bob, one store and one keychain between them, one clock; Alice has run init and shared the config. */
export async function twoMachines<S extends Storage>(prefix: string, storage: S) {
  const { base, cleanup } = tempBase(prefix);
  const keychain = new MemoryKeychain();
  const clock = new Clock();
  const a = machine(base, 'alice', storage, keychain, clock);
  const b = machine(base, 'bob', storage, keychain, clock);
  await init(a.deps, a.ref, { store: join(base, 'unused-store') });
  shareConfig(a, b);
  return { base, cleanup, storage, keychain, clock, a, b };
}

/** A machine's `.env.dev` in its checkout's vault folder. */
export const envFileOf = (m: Machine): string => join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev');

/** twoMachines, then Alice pushes v=1, Bob pulls it, Alice pushes v=2: Bob's next pull has a version to swap in. */
export async function bobOneBehind<S extends Storage>(prefix: string, storage: S) {
  const day = await twoMachines(prefix, storage);
  const { clock, a, b } = day;
  writeFileSync(envFileOf(a), 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  clock.advance(1);
  writeFileSync(envFileOf(a), 'v=2\n');
  await push(a.deps, a.ref, {}, () => undefined);
  clock.advance(1);
  return day;
}
