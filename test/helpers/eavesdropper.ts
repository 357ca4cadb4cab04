// Another user's listener on the path where vsync looks for its agent: it records every connection and
// every byte it receives (and then hangs up, so a client that did talk to it does not wait forever). What
// a test wants from it is that it heard nothing: see heardBeforeSentinel().
import { connect } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import type { OtherUser } from './other-user.js';

// Run as the other user with `node -e`: the script needs no file the other user could not read.
const SCRIPT = `
const net = require('node:net');
const fs = require('node:fs');
const path = process.argv[1];
let n = 0;
const server = net.createServer((c) => {
  const id = ++n;
  process.stdout.write('conn ' + id + '\\n');
  c.on('data', (d) => {
    process.stdout.write('data ' + id + ' ' + d.length + ' ' + JSON.stringify(d.toString('latin1').slice(0, 80)) + '\\n');
    c.destroy();
  });
  c.on('error', () => undefined);
});
server.listen(path, () => {
  fs.chmodSync(path, 0o666);
  process.stdout.write('listening\\n');
});
`;

const SENTINEL = 'sentinel';

export interface Eavesdropper {
  readonly socket: string;
  readonly child: ChildProcess;
  /** Everything it recorded so far, a line per event. */
  lines(): string[];
  /**
   * Connects and sends a sentinel, waits until the listener has recorded it, and returns all it recorded but
   * the sentinel: connections are accepted in order, so a client that had connected before is in that list.
   */
  heardBeforeSentinel(): Promise<string[]>;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, out: () => string, test: (text: string) => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (test(out())) {
        child.stdout!.off('data', check);
        child.off('exit', exited);
        clearTimeout(timer);
        resolve();
      }
    };
    const exited = () => reject(new Error(`the listener exited before ${what}: ${out()}`));
    const timer = setTimeout(() => reject(new Error(`no ${what} within 30 s: ${out()}`)), 30_000);
    child.stdout!.on('data', check);
    child.once('exit', exited);
    check();
  });
}

export async function startEavesdropper(user: OtherUser, socket: string): Promise<Eavesdropper> {
  const child = user.start(process.execPath, ['-e', SCRIPT, socket]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(
    child,
    () => out,
    (text) => text.includes('listening\n'),
    'listening',
  );
  const lines = () => out.split('\n').filter((line) => line !== '' && line !== 'listening');
  return {
    socket,
    child,
    lines,
    heardBeforeSentinel: async () => {
      const seen = out.split(`"${SENTINEL}"`).length;
      await new Promise<void>((resolve, reject) => {
        const c = connect(socket, () => c.end(SENTINEL));
        c.on('close', () => resolve());
        c.on('error', reject);
      });
      await waitFor(
        child,
        () => out,
        (text) => text.split(`"${SENTINEL}"`).length > seen,
        'the sentinel',
      );
      const all = lines();
      // This sentinel's connection, and those of earlier calls.
      const ids = new Set(all.filter((line) => line.endsWith(` "${SENTINEL}"`)).map((line) => line.split(' ')[1]));
      return all.filter((line) => !ids.has(line.split(' ')[1]!));
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
