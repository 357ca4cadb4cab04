// vsync key export <env> | vsync key import <file>: bring a teammate in. The agent reads and writes the share
// file itself, since it holds the keychain: the key never crosses the socket, and the paths are made
// absolute here, against the folder the user typed them in. The passphrase is read here, from a file or
// the terminal, and goes to the agent in the request body (never argv, never a log).
import { resolve } from 'node:path';
import type { KeyExportRequest, KeyImportRequest, KeyRotateRequest } from '../../shared/api.js';
import { defineCommand, route, usage } from '../command.js';
import { type Context, print, streamProgress } from '../context.js';
import { keyExportLines, keyImportPrintout, keyRotateLines } from '../render.js';
import { expectKeyExport, expectKeyImport, expectKeyRotate } from '../result-shape.js';
import { askPassphrase, readPassphraseFile } from './key-passphrase.js';

/** Paths as typed: run() resolves them against the working folder. */
export type Key =
  | { readonly name: 'key'; readonly action: 'export'; readonly env: string; readonly out?: string; readonly passphraseFile?: string }
  | { readonly name: 'key'; readonly action: 'import'; readonly file: string; readonly passphraseFile?: string }
  | { readonly name: 'key'; readonly action: 'rotate'; readonly env: string };

const EXPORT = route('POST', '/v1/key/export');
const IMPORT = route('POST', '/v1/key/import');
const ROTATE = route('POST', '/v1/key/rotate');

/** Why `key rotate --reencrypt-history` is refused: versions are immutable, and a copy would be a new version. */
export const NO_REENCRYPT_HISTORY = `--reencrypt-history: not done. A version object is never rewritten (docs/FORMAT.md §9: created only
if absent, on S3 and on the directory store alike), so an old version cannot be put under the new key in
place; and a re-encrypted copy would need a new name, which is a new version's time, and would sort after
latest. Versions from before the rotation stay under the old key: anyone who held it (whoever left
included) can still read them, which no re-encryption could undo.`;

/** The shell's convention for a command the user interrupted. */
const INTERRUPTED = 130;

export const keyCommand = defineCommand<Key>({
  name: 'key',
  summary: [
    ['key export <env>', "write <env>'s key and config to a share file for a teammate"],
    ['key import <file>', "take a teammate's share file into this machine's keychain and config"],
    ['key rotate <env>', 'a new key for <env> (someone left): latest re-encrypted under it'],
  ],
  usage: [
    'vsync key export <env> [--out <file>] [--passphrase-file <file>]',
    'vsync key import <file> [--passphrase-file <file>]',
    'vsync key rotate <env>',
  ],
  about: `Brings a teammate in. export writes <env>'s key and config (the store's settings and the salt) to a share
file (mode 0600, never over an existing file), encrypted under a passphrase it prints once. Send the file
and the passphrase by two different channels: either alone is useless, together they give the key.
The teammate runs import in their checkout: it asks for the passphrase (typing is not shown) and stores the
key in the OS keychain and the config; then \`vsync pull <env>\`. Importing the same file again is harmless;
import never replaces a different key or config that is already there, unless the store's key history
shows the share's key is a later key of the vault than this machine's (after a rotation).
rotate makes a new key and salt, re-encrypts latest as a new version under it, moves latest to that
version, records the new key in the store's key history, and only then makes it this machine's key.
Teammates then get KEY_ROTATED until they import a share file of the new key; older versions stay under the
old key. A kill at any point leaves the old key or the new one working (the next command settles it).`,
  // The second word is checked by build(), to name what is missing.
  positionals: ['<export|import|rotate>', '[<env|file>]'],
  actions: [{ name: 'export' }, { name: 'import' }, { name: 'rotate' }],
  options: [
    { name: 'out', value: 'file', help: 'export: where to write (default ./<repo>-<env>.share)' },
    {
      name: 'passphrase-file',
      value: 'file',
      help: `export: use the passphrase in <file> (one line, 16 characters at least)
instead of making one; import: read it from <file> instead of asking`,
    },
    { name: 'reencrypt-history', help: 'rotate: refused, and why (versions are immutable)' },
  ],
  routes: [EXPORT, IMPORT, ROTATE],
  build({ positionals: [action, target], values, flags }) {
    const out = values.get('out');
    const passphraseFile = values.get('passphrase-file');
    const file = passphraseFile !== undefined ? { passphraseFile } : {};
    if (flags.has('reencrypt-history') && action !== 'rotate') throw usage('--reencrypt-history goes with key rotate', 'key');
    if (action === 'rotate') {
      if (target === undefined) throw usage('key rotate needs <env>', 'key');
      if (out !== undefined || passphraseFile !== undefined) throw usage('key rotate takes no --out or --passphrase-file', 'key');
      if (flags.has('reencrypt-history')) throw usage(NO_REENCRYPT_HISTORY, 'key');
      return { name: 'key', action, env: target };
    }
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
  if (command.action === 'rotate') {
    const body: KeyRotateRequest = { cwd, env: command.env };
    const result = expectKeyRotate(await ctx.request({ ...ROTATE, body, ...streamProgress(ctx) }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of keyRotateLines(result)) ctx.out.line(line);
    return;
  }
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
