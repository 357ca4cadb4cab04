// vsync key export <env> | vsync key import <file>: bring a teammate in. The agent reads and writes the share
// file itself, since it holds the keychain: the key never crosses the socket, and the paths are made
// absolute here, against the folder the user typed them in. The passphrase is read here, from a file or
// the terminal, and goes to the agent in the request body (never argv, never a log).
import { resolve } from 'node:path';
import type { KeyExportRequest, KeyImportRequest } from '../../shared/api.js';
import { defineCommand, route, usage } from '../command.js';
import { type Context, print } from '../context.js';
import { keyExportLines, keyImportPrintout } from '../render.js';
import { expectKeyExport, expectKeyImport } from '../result-shape.js';
import { askPassphrase, readPassphraseFile } from './key-passphrase.js';

/** Paths as typed: run() resolves them against the working folder. */
export type Key =
  | { readonly name: 'key'; readonly action: 'export'; readonly env: string; readonly out?: string; readonly passphraseFile?: string }
  | { readonly name: 'key'; readonly action: 'import'; readonly file: string; readonly passphraseFile?: string };

const EXPORT = route('POST', '/v1/key/export');
const IMPORT = route('POST', '/v1/key/import');

/** The shell's convention for a command the user interrupted. */
const INTERRUPTED = 130;

export const keyCommand = defineCommand<Key>({
  name: 'key',
  summary: [
    ['key export <env>', "write <env>'s key and config to a share file for a teammate"],
    ['key import <file>', "take a teammate's share file into this machine's keychain and config"],
  ],
  usage: ['vsync key export <env> [--out <file>] [--passphrase-file <file>]', 'vsync key import <file> [--passphrase-file <file>]'],
  about: `Brings a teammate in. export writes <env>'s key and config (the store's settings and the salt) to a share
file (mode 0600, never over an existing file), encrypted under a passphrase it prints once. Send the file
and the passphrase by two different channels: either alone is useless, together they give the key.
The teammate runs import in their checkout: it asks for the passphrase (typing is not shown) and stores the
key in the OS keychain and the config; then \`vsync pull <env>\`. Importing the same file again is harmless;
import never replaces a different key or config that is already there.`,
  // The second word is checked by build(), to name what is missing.
  positionals: ['<export|import>', '[<env|file>]'],
  actions: [{ name: 'export' }, { name: 'import' }],
  options: [
    { name: 'out', value: 'file', help: 'export: where to write (default ./<repo>-<env>.share)' },
    {
      name: 'passphrase-file',
      value: 'file',
      help: `export: use the passphrase in <file> (one line, 16 characters at least)
instead of making one; import: read it from <file> instead of asking`,
    },
  ],
  routes: [EXPORT, IMPORT],
  build({ positionals: [action, target], values }) {
    const out = values.get('out');
    const passphraseFile = values.get('passphrase-file');
    const file = passphraseFile !== undefined ? { passphraseFile } : {};
    if (action === 'export') {
      if (target === undefined) throw usage('key export needs <env>', 'key');
      return { name: 'key', action, env: target, ...(out !== undefined ? { out } : {}), ...file };
    }
    if (target === undefined) throw usage('key import needs <file>, the share file to import', 'key');
    if (out !== undefined) throw usage('--out goes with key export', 'key');
    return { name: 'key', action: 'import', file: target, ...file };
  },
  run: key,
});

async function key(command: Key, ctx: Context): Promise<void> {
  const cwd = ctx.cwd();
  const passphraseFile = command.passphraseFile !== undefined ? resolve(cwd, command.passphraseFile) : undefined;
  if (command.action === 'export') {
    const body: KeyExportRequest = {
      cwd,
      env: command.env,
      ...(command.out !== undefined ? { out: resolve(cwd, command.out) } : {}),
      ...(passphraseFile !== undefined ? { passphrase: await readPassphraseFile(passphraseFile) } : {}),
    };
    const result = expectKeyExport(await ctx.request({ ...EXPORT, body }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of keyExportLines(result, passphraseFile)) ctx.out.line(line);
    return;
  }

  const file = resolve(cwd, command.file);
  const passphrase =
    passphraseFile !== undefined ? await readPassphraseFile(passphraseFile) : await askPassphrase(`passphrase for ${command.file}: `);
  if (passphrase === undefined) {
    process.exitCode = INTERRUPTED;
    return;
  }
  const body: KeyImportRequest = { cwd, file, passphrase };
  const result = expectKeyImport(await ctx.request({ ...IMPORT, body }));
  if (ctx.json) return ctx.out.json(result);
  print(ctx.out, keyImportPrintout(result));
}
