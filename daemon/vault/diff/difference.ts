// What differs, in one line, for the refusals that leave the user to choose (a push over a remote that moved,
// a pull over unpushed edits, --follow meeting both): the vault folder here against the other side, as
// `vsync diff` would list it (summary.ts). Best effort: a failure to read the other side never hides the
// refusal itself, which is reported without it.
import type { ZipInput } from '../../bundle/zip-source.js';
import type { OpenVault, VaultDeps } from '../vault.js';
import { withWorkFolder } from '../work-folder.js';
import { compareContents, type Contents } from './compare.js';
import { vaultMasking } from './compare.js';
import { folderSide, versionSide, zipSide } from './sides.js';
import { summarise } from './summary.js';

/** `; this folder against 20260516-113304: .env.dev (~DB_PASSWORD)`, or '' when that cannot be worked out. */
export async function folderAgainst(deps: VaultDeps, vault: OpenVault, aesKey: Buffer, ts: string, zip?: ZipInput): Promise<string> {
  try {
    return await withWorkFolder(deps.environment, async (work) => {
      const masking = vaultMasking(aesKey, false);
      const [remote, local] = await Promise.all([
        zip !== undefined
          ? zipSide(vault, zip, masking)
          : versionSide(vault, aesKey, ts, { maxBytes: deps.maxVersionBytes, work }, masking),
        folderSide(vault, masking),
      ]);
      const changes = compareContents(remote, local ?? (new Map() as Contents), masking);
      return `; this folder against ${ts}: ${summarise(changes)}`;
    });
  } catch {
    return '';
  }
}
