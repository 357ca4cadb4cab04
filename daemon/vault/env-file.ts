// The variables of one env file of a vault, for `vsync run` (POST /v1/env): read from the vault folder here,
// or from the store's latest version, decrypted in memory and never written anywhere. The file is named by
// its path inside the vault folder, judged by the bundle's own name rules; in the folder it must be a regular
// file reached through real folders (a symlink planted by a hostile commit would hand the command whatever
// it points at), at most KEPT_FILE_BYTES, of UTF-8 text.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvResult } from '../../shared/api.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { KEPT_FILE_BYTES, bundleContents } from '../bundle/bundle-contents.js';
import { nameProblem } from '../bundle/entry-names.js';
import { isErrno } from '../fs/errno.js';
import { parseDotenv } from './diff/dotenv-file.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { fetchVersion } from './version-fetch.js';

export interface EnvOptions {
  /** The file's path in the vault folder; `.env.<env>` by default. */
  readonly file?: string | undefined;
  /** From the store's latest version rather than the folder. */
  readonly latest?: boolean | undefined;
  /** With `latest`: when the store cannot be reached, the folder's file instead (said in `offline`). */
  readonly offlineOk?: boolean | undefined;
}

/** Store failures that mean "cannot reach it now", after which the folder may stand in (offlineOk). */
const UNREACHABLE = ['STORAGE_TRANSIENT'] as const;

export async function envValues(deps: VaultDeps, ref: VaultRef, options: EnvOptions): Promise<EnvResult> {
  const file = options.file ?? `.env.${ref.env}`;
  const problem = nameProblem(file);
  if (problem !== undefined) throw new VsyncError('RUN_FILE_INVALID', `${JSON.stringify(file)}: ${problem}`);
  const vault = await openVault(deps, ref);
  const base = { repo: ref.repo, env: ref.env, file };
  if (!options.latest) return { ...base, source: 'folder', variables: parse(file, await readFromFolder(vault, file)) };
  try {
    const { ts, data } = await readFromLatest(vault, deps, file);
    return { ...base, source: 'version', version: ts, variables: parse(file, data) };
  } catch (err) {
    if (!isVsyncError(err, ...UNREACHABLE)) throw err;
    if (!options.offlineOk) {
      throw new VsyncError(err.code, err.detail, {
        cause: err,
        hint: `${err.hint}; or add --offline-ok to use ${vault.vaultFolder}/${file} here instead`,
      });
    }
    const variables = parse(file, await readFromFolder(vault, file));
    return { ...base, source: 'folder', offline: { code: err.code, message: err.message }, variables };
  }
}

async function readFromLatest(vault: OpenVault, deps: VaultDeps, file: string): Promise<{ ts: string; data: Buffer }> {
  const aesKey = await vault.aesKey();
  const pointer = await readPointer(vault);
  if (!pointer) throw new VsyncError('VAULT_EMPTY', `${vault.ref.repo}/${vault.ref.env} has no latest`);
  const zip = await fetchVersion(vault, aesKey, pointer.ts, { maxBytes: deps.maxVersionBytes });
  const files = await bundleContents(zip, vault.vaultFolder, vault.folder, vault.limits, (path) => path === file);
  const found = files.find((f) => f.path === file);
  if (!found) throw new VsyncError('RUN_FILE_NOT_FOUND', `version ${pointer.ts} holds no ${vault.vaultFolder}/${file}`);
  if (!found.data) throw new VsyncError('RUN_FILE_INVALID', `${vault.vaultFolder}/${file} in version ${pointer.ts} is ${found.size} bytes`);
  return { ts: pointer.ts, data: found.data };
}

async function readFromFolder(vault: OpenVault, file: string): Promise<Buffer> {
  const shown = `${vault.vaultFolder}/${file}`;
  const segments = file.split('/');
  let path = vault.folder;
  for (const [i, segment] of segments.entries()) {
    path = join(path, segment);
    const info = await lstat(path).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new VsyncError('RUN_FILE_NOT_FOUND', `${shown} in ${vault.ref.root}`, { cause: err });
      throw err;
    });
    const last = i === segments.length - 1;
    if (info.isSymbolicLink()) throw new VsyncError('RUN_FILE_INVALID', `${path} is a symlink`);
    if (last ? !info.isFile() : !info.isDirectory())
      throw new VsyncError('RUN_FILE_INVALID', `${path} is not a ${last ? 'regular file' : 'folder'}`);
  }
  // O_NOFOLLOW and fstat: the file opened is the regular file judged, not one swapped in since.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: unknown) => {
    throw isErrno(err, 'ELOOP') ? new VsyncError('RUN_FILE_INVALID', `${path} is a symlink`, { cause: err }) : err;
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new VsyncError('RUN_FILE_INVALID', `${path} is not a regular file`);
    if (info.size > KEPT_FILE_BYTES) throw new VsyncError('RUN_FILE_INVALID', `${path} is ${info.size} bytes`);
    const data = Buffer.alloc(KEPT_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(data, 0, data.length, 0);
    if (bytesRead > KEPT_FILE_BYTES) throw new VsyncError('RUN_FILE_INVALID', `${path} grew past ${KEPT_FILE_BYTES} bytes while read`);
    return data.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function parse(file: string, data: Buffer): Record<string, string> {
  const variables = parseDotenv(data);
  if (variables === undefined) throw new VsyncError('RUN_FILE_INVALID', `${file} is not UTF-8 text`);
  // A plain object for the answer: JSON has no null prototype, and parseEnv drops `__proto__` itself.
  return { ...variables };
}
