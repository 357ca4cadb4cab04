// gnome-keyring dying under the agent, measured: five keychains each loop set + get of their own account while
// the daemon is killed (SIGSEGV, as its assertion aborts end) four times, 0.5 s apart; scripts/with-keyring.sh's
// bus starts an unlocked successor each time. Counted: the calls made, the calls that failed, and the daemon's
// extra deaths (starts beyond the kills: aborts of its own). Two columns: OsKeychain as it is, and as it was
// (an entry kept per account and dropped after a failure; no queue, no second asking). Numbers to read.
//
//   npm run bench -- --keyring
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncEntry } from '@napi-rs/keyring';
import { KEYCHAIN_SERVICE } from '../daemon/keychain/keychain.js';
import { OsKeychain } from '../daemon/keychain/os-keychain.js';
import { table } from './measure.js';

interface Keys {
  get(account: string): Promise<string>;
  set(account: string, key: string): Promise<void>;
}

/** The adapter as it was before it queued its calls and asked again. */
class AsItWas implements Keys {
  readonly #entries = new Map<string, AsyncEntry>();
  async #call<T>(account: string, op: (entry: AsyncEntry) => Promise<T>): Promise<T> {
    try {
      let entry = this.#entries.get(account);
      if (!entry) this.#entries.set(account, (entry = new AsyncEntry(KEYCHAIN_SERVICE, account, { linux: { store: 'secret-service' } })));
      return await op(entry);
    } catch (err) {
      this.#entries.delete(account);
      throw err;
    }
  }
  async get(account: string): Promise<string> {
    return (await this.#call(account, (e) => e.getPassword())) ?? '';
  }
  async set(account: string, key: string): Promise<void> {
    await this.#call(account, (e) => e.setPassword(key));
  }
}

const KEYCHAINS = 5;
const KILLS = 4;
const RUNS = 3;

const harnessFile = (name: string): string => readFileSync(join(process.env.VSYNC_TEST_KEYRING_DIR!, name), 'utf8');
const starts = (): number => Number(harnessFile('starts'));
/** The running daemon's pid (scripts/with-keyring.sh writes it at each start). */
const daemonPid = (): number => Number(harnessFile('pid'));

async function run(make: () => Keys): Promise<{ calls: number; failed: number; aborts: number }> {
  const before = starts();
  let calls = 0;
  let failed = 0;
  let stop = false;
  const loops = Array.from({ length: KEYCHAINS }, async (_, i) => {
    const keys = make();
    const account = `vsync-bench-crash/e${i}`;
    while (!stop) {
      for (const call of [() => keys.set(account, 'k'), () => keys.get(account)]) {
        calls++;
        await call().catch(() => failed++);
      }
    }
  });
  let killed = 0;
  for (let k = 0; k < KILLS; k++) {
    await sleep(500);
    try {
      process.kill(daemonPid(), 'SIGSEGV');
      killed++;
    } catch {
      // between a death and the next start: the file names the dead one
    }
  }
  await sleep(500);
  stop = true;
  await Promise.all(loops);
  return { calls, failed, aborts: starts() - before - killed };
}

if (!process.env.VSYNC_TEST_KEYRING_DIR) {
  console.error('keyring-crash: run me under scripts/with-keyring.sh (npm run bench -- --keyring)');
  process.exit(2);
}
const rows: string[][] = [];
for (const [name, make] of [
  ['as it was', () => new AsItWas()],
  ['now', () => new OsKeychain()],
] as const) {
  for (let r = 1; r <= RUNS; r++) {
    const { calls, failed, aborts } = await run(make);
    rows.push([name, String(r), String(calls), String(failed), String(aborts)]);
  }
}
table(
  `gnome-keyring killed ${KILLS} times under ${KEYCHAINS} keychains looping set + get (${RUNS} runs each)`,
  ['keychain', 'run', 'calls', 'failed', 'its own aborts'],
  rows,
);
