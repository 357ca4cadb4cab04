/**
 * A read-only key source for headless machines (CI runners, containers): the key text comes from an environment
 * variable instead of the OS keychain.
 *
 * - `VSYNC_KEY_<REPO>_<ENV>` holds the key of one vault; the repo and env are uppercased and every character
 *   that is not A-Z or 0-9 becomes `_` (repo `acme.web`, env `prod-eu` → `VSYNC_KEY_ACME_WEB_PROD_EU`).
 * - `VSYNC_KEY` holds the key for every vault that has no specific variable.
 * The specific variable wins. An empty variable counts as unset.
 *
 * Trade-off: the environment of a process is readable by every process of the same user (and root) through
 * /proc/<pid>/environ, it is inherited by every child process, and it tends to leak into crash reports and
 * `env` dumps. The OS keychain is better wherever there is one. This source is meant for CI runners that inject
 * the key as a masked secret for the length of one job. It never writes: not to the environment (set and delete
 * throw KEYCHAIN_READ_ONLY) and not to disk. The key is validated on every get and never echoed in an error.
 *
 * Different vaults can map to the same specific variable (`a.b`/`c` and `a_b`/`c`, or `a`/`b_c` and `a_b`/`c`
 * all give VSYNC_KEY_A_B_C); a job that needs two such vaults cannot give them different keys this way.
 */
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { assertKeyText } from '../crypto/key.js';
import type { Keychain } from './keychain.js';

export const GENERAL_KEY_VARIABLE = 'VSYNC_KEY';

/** `VSYNC_KEY_<REPO>_<ENV>` for the account `<repo>/<env>`. The account splits at its last "/". */
export function specificKeyVariable(account: string): string {
  const slash = account.lastIndexOf('/');
  const repo = slash < 0 ? account : account.slice(0, slash);
  const env = slash < 0 ? '' : account.slice(slash + 1);
  const part = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return env === '' ? `${GENERAL_KEY_VARIABLE}_${part(repo)}` : `${GENERAL_KEY_VARIABLE}_${part(repo)}_${part(env)}`;
}

export class EnvKeychain implements Keychain {
  readonly name = `env:${GENERAL_KEY_VARIABLE}`;
  readonly writable = false;
  readonly #env: Readonly<Record<string, string | undefined>>;

  /** `env` is read on every get, never written; default process.env. */
  constructor(env: Readonly<Record<string, string | undefined>> = process.env) {
    this.#env = env;
  }

  async get(account: string): Promise<string> {
    const specific = specificKeyVariable(account);
    for (const variable of [specific, GENERAL_KEY_VARIABLE]) {
      const value = this.#env[variable];
      if (value === undefined || value === '') continue;
      try {
        assertKeyText(value);
      } catch (err) {
        if (!isVsyncError(err, 'KEY_INVALID')) throw err;
        // Only the length is reported, never the text.
        throw new VsyncError('KEY_INVALID', `${variable} (used for "${account}") holds ${value.length} characters that are not a key`, {
          hint: `set ${variable} to the 44-character key text exactly as vsync wrote it, with no spaces or newline`,
        });
      }
      return value;
    }
    throw new VsyncError('KEYCHAIN_NOT_FOUND', `neither ${specific} nor ${GENERAL_KEY_VARIABLE} is set (for "${account}")`, {
      hint: `set ${specific} (this vault only) or ${GENERAL_KEY_VARIABLE} (any vault) to the key text, e.g. from a masked CI secret`,
    });
  }

  async set(account: string, _key?: string): Promise<void> {
    throw readOnly('store', account);
  }

  async delete(account: string): Promise<void> {
    throw readOnly('delete', account);
  }
}

function readOnly(what: string, account: string): VsyncError {
  return new VsyncError(
    'KEYCHAIN_READ_ONLY',
    `cannot ${what} the key for "${account}": it comes from the environment (${specificKeyVariable(account)} or ${GENERAL_KEY_VARIABLE})`,
  );
}
