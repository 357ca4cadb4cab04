// `vsync doctor [<env>]`: checks the backend before it is trusted, each check ok / warn / fail / skip with a
// hint, in the order of DOCTOR_CHECKS (shared/api.ts). Without an env: that the keychain answers. With one:
// the vault's config, its key, its store, the store's clock, and whether the store enforces the conditional
// writes that keep two teammates' pushes apart (write-probe.ts). Failures are reported, never thrown: the
// point is to see all of them at once. Reads the keychain itself, not the agent's key ring, so a key held
// unlocked does not hide a keychain entry that has gone, and nothing is unlocked by looking.
import { DOCTOR_CHECKS, type DoctorCheck, type DoctorCheckName, type DoctorResult } from '../../../shared/api.js';
import { VsyncError, isVsyncError } from '../../../shared/errors.js';
import { assertKeyText } from '../../crypto/key.js';
import { assertKeyMatchesCheck } from '../../crypto/key-check.js';
import { deriveKey } from '../../crypto/kdf.js';
import { keychainAccount, type Keychain } from '../../keychain/keychain.js';
import { pointerKey } from '../remote-layout.js';
import { isFromFuture } from '../../crypto/timestamp.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from '../vault.js';
import { clockCheck, skewMs } from './clock-skew.js';
import { gitExposure } from '../git-exposure.js';
import { probeWrites, scratchKey, type WriteProbe } from './write-probe.js';
import { toVsyncError } from '../../../shared/error-conversion.js';

// An account no vault can have (repo names hold no space): reading it only asks whether the keychain answers.
const PROBE_ACCOUNT = 'vsync doctor/probe';

/** `locate` finds the vault of `env` from the caller's folder (it may fail: REPO_UNKNOWN). */
/** The agent's own part (its version, pid and socket) is added by the route. */
export type DoctorReport = Omit<DoctorResult, 'agent'>;

export async function doctor(deps: VaultDeps, env: string | undefined, locate: (env: string) => Promise<VaultRef>): Promise<DoctorReport> {
  if (env === undefined) return { checks: [await keychainAnswers(deps.keychain)] };
  const checks: DoctorCheck[] = [];
  const skipRest = (detail: string): DoctorCheck[] => {
    const done = new Set(checks.map((c) => c.name));
    return VAULT_CHECKS.filter((name) => !done.has(name)).map((name) => ({ name, status: 'skip', detail }));
  };

  let ref: VaultRef;
  try {
    ref = await locate(env);
  } catch (err) {
    checks.push(failed('config', err));
    return { env, checks: [...checks, ...skipRest('the repo is unknown')] };
  }
  const { repo } = ref;

  let vault: OpenVault | undefined;
  try {
    vault = await openVault(deps, ref);
    checks.push({ name: 'config', status: 'ok', detail: `${vault.configFile} (store ${vault.storage.describe(`${repo}/${env}/`)})` });
  } catch (err) {
    checks.push(failed('config', err));
  }
  checks.push(await keyCheck(deps.keychain, ref, vault));
  if (!vault) return { repo, env, checks: [...checks, ...skipRest('needs the config')] };
  checks.push(await gitCheck(vault));

  // The store: latest read, then a scratch object written and removed (write-probe.ts), so that a store this
  // machine may read but not write fails here, with the store's own cause and hint, not at the first push.
  let read: DoctorCheck;
  try {
    const pointer = await readPointer(vault);
    const detail = pointer
      ? `${vault.storage.describe(pointerKey(repo, env))} → ${pointer.ts}`
      : `${vault.storage.describe(`${repo}/${env}/`)} answers; nothing pushed yet`;
    // The store answers, but with a latest no pull here takes (pull.ts): worth saying before a pull meets it.
    const future = pointer && isFromFuture(pointer.ts, deps.now());
    read = future
      ? {
          name: 'store',
          status: 'warn',
          detail: `${detail}, more than a day after this machine's clock: pull refuses it (VAULT_VERSION_FROM_FUTURE); \`vsync push --force ${env}\` replaces it`,
        }
      : { name: 'store', status: 'ok', detail };
  } catch (err) {
    checks.push(failed('store', err));
    return { repo, env, checks: [...checks, ...skipRest('the store cannot be read')] };
  }

  let probe: WriteProbe;
  try {
    probe = await probeWrites(vault.storage, scratchKey(repo, env), deps.now);
  } catch (err) {
    const where = vault.storage.describe(`${repo}/${env}/`);
    checks.push(failed('store', err, `${where} can be read, but a scratch object could not be written there: `));
    return { repo, env, checks: [...checks, ...skipRest('the store cannot be written')] };
  }
  checks.push(probe.leftover ? leftOver(read, vault.storage.describe(probe.key), probe.leftover) : read);
  const { store, before, after } = probe.clock!;
  checks.push(clockCheck(skewMs(store, before, after)), ...writeChecks(vault, probe));
  return { repo, env, checks };
}

/** The store check when the scratch object stayed: a warning that names it, with the store's reason. */
function leftOver(read: DoctorCheck, where: string, why: VsyncError): DoctorCheck {
  return {
    name: 'store',
    status: read.status === 'ok' ? 'warn' : read.status,
    detail: `${read.detail}; the scratch object ${where} could not be removed: ${why.message}`,
    hint: `remove it by hand (nothing reads it); ${why.hint}`,
  };
}

// The agent's checks, in their order: all but `agent`, which is the client's.
const VAULT_CHECKS = DOCTOR_CHECKS.filter((name) => name !== 'agent');

function failed(name: DoctorCheckName, err: unknown, prefix = ''): DoctorCheck {
  const failure = toVsyncError(err);
  return { name, status: 'fail', code: failure.code, detail: `${prefix}${failure.message}`, hint: failure.hint };
}

async function keychainAnswers(keychain: Keychain): Promise<DoctorCheck> {
  try {
    await keychain.get(PROBE_ACCOUNT);
  } catch (err) {
    if (!isVsyncError(err, 'KEYCHAIN_NOT_FOUND')) return failed('keychain', err);
  }
  return { name: 'keychain', status: 'ok', detail: `${keychain.name} answers` };
}

/** Whether git would commit the vault folder or `.env`: tracked, or not ignored (git-exposure.ts). */
async function gitCheck(vault: OpenVault): Promise<DoctorCheck> {
  const { inGit, warnings } = await gitExposure(vault.ref.root, vault.vaultFolder, { patterns: true });
  if (!inGit) return { name: 'git', status: 'ok', detail: `${vault.ref.root} is not a git checkout: nothing here can be committed` };
  if (warnings.length === 0) return { name: 'git', status: 'ok', detail: `git ignores ${vault.vaultFolder}/ and .env, and tracks neither` };
  return { name: 'git', status: 'warn', detail: warnings.join('; '), hint: 'run the commands named above, in the repo root' };
}

/** The vault's key is there, is a key, and (with the config) is the key the config was made with. */
async function keyCheck(keychain: Keychain, ref: VaultRef, vault: OpenVault | undefined): Promise<DoctorCheck> {
  const account = keychainAccount(ref.repo, ref.env);
  try {
    const text = await keychain.get(account);
    assertKeyText(text);
    if (!vault)
      return {
        name: 'keychain',
        status: 'ok',
        detail: `the key for ${account} is in ${keychain.name} (not compared with the config, which could not be read)`,
      };
    const { salt, keyCheck: check } = vault.config.encryption;
    if (check === undefined) {
      return {
        name: 'keychain',
        status: 'warn',
        detail: `the key for ${account} is in ${keychain.name}, but the config has no keyCheck to compare it with`,
        hint: 'a wrong key will show only when a pull cannot decrypt; a config written by `vsync init` has one',
      };
    }
    assertKeyMatchesCheck(await deriveKey(text, salt), check);
    return { name: 'keychain', status: 'ok', detail: `the key for ${account} is in ${keychain.name} and matches the config's keyCheck` };
  } catch (err) {
    return failed('keychain', err);
  }
}

function writeChecks(vault: OpenVault, probe: WriteProbe): DoctorCheck[] {
  const where = vault.storage.describe(probe.key);
  const ignored = (name: DoctorCheckName, detail: string): DoctorCheck => {
    const err = new VsyncError('STORAGE_CONDITIONAL_WRITES_IGNORED', detail);
    return { name, status: 'fail', code: err.code, detail: err.message, hint: err.hint };
  };
  return [
    probe.ifNoneMatch === 'enforced'
      ? { name: 'if-none-match', status: 'ok', detail: 'a second put-if-absent on a scratch object was refused' }
      : ignored('if-none-match', `a second put-if-absent (If-None-Match: *) on ${where} replaced the object instead of being refused`),
    probe.ifMatch === 'enforced'
      ? { name: 'if-match', status: 'ok', detail: 'a put-if-match with a stale ETag was refused' }
      : probe.ifMatch === 'ignored'
        ? ignored('if-match', `a put-if-match (If-Match) with a stale ETag on ${where} replaced the object instead of being refused`)
        : ignored(
            'if-match',
            `a put-if-match (If-Match) with the current ETag on ${where} was refused, so every push over an existing latest would fail`,
          ),
  ];
}
