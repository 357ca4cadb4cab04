// vsync key export <env> | vsync key import <file>: bring a teammate in. The agent reads and writes the share
// file itself, since it holds the keychain: the key never crosses the socket, and the paths are made
// absolute here, against the folder the user typed them in. The passphrase is read here, from a file or
// the terminal, and goes to the agent in the request body (never argv, never a log).
import { resolve } from 'node:path';
import type { KeyExportRequest, KeyImportRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import { print, type Context } from '../context.js';
import { keyExportLines, keyImportPrintout } from '../render.js';
import { expectKeyExport, expectKeyImport } from '../result-shape.js';
import { askPassphrase, readPassphraseFile } from './key-passphrase.js';

/** The shell's convention for a command the user interrupted. */
const INTERRUPTED = 130;

export async function key(command: Extract<Command, { name: 'key' }>, ctx: Context): Promise<void> {
  const cwd = ctx.cwd();
  const passphraseFile = command.passphraseFile !== undefined ? resolve(cwd, command.passphraseFile) : undefined;
  if (command.action === 'export') {
    const body: KeyExportRequest = {
      cwd,
      env: command.env,
      ...(command.out !== undefined ? { out: resolve(cwd, command.out) } : {}),
      ...(passphraseFile !== undefined ? { passphrase: await readPassphraseFile(passphraseFile) } : {}),
    };
    const result = expectKeyExport(await ctx.request({ method: 'POST', path: '/v1/key/export', body }));
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
  const result = expectKeyImport(await ctx.request({ method: 'POST', path: '/v1/key/import', body }));
  if (ctx.json) return ctx.out.json(result);
  print(ctx.out, keyImportPrintout(result));
}
