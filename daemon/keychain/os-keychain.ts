// The OS keychain adapter: macOS Keychain, Windows Credential Manager, or a Secret Service (gnome-keyring,
// KeePassXC, KWallet) on the Linux session D-Bus, through @napi-rs/keyring (keyring-rs). One generic password
// per vault: service `tools.vsync`, account/username `<repo>/<env>`.
//
// Facts about @napi-rs/keyring 2.1.2 this file relies on (checked against gnome-keyring 42 on Debian 12):
// - On Linux the library, by default, SILENTLY falls back to the kernel keyutils keyring when no Secret Service is
//   reachable: keys would then go to kernel memory and vanish at reboot, and "no keychain" would look like "no
//   key". We therefore pin the store to 'secret-service' (the option is ignored on macOS and Windows); then an
//   unreachable Secret Service throws instead.
// - A missing entry is not an error: getPassword() resolves null, deletePassword() resolves false.
// - Every failure is a plain Error with code 'GenericFailure'; the kind is only in the message prefix
//   ("Platform failure: DBus error: ...", "Couldn't access platform storage: ...", "Entry is matched by ...").
// - The AsyncEntry constructor opens its own session-bus connection synchronously (about 10 ms, and it throws when
//   the bus or the Secret Service is missing); the connection lives as long as the entry object. So entries are
//   kept per account here and dropped after any failure, so that the next call reconnects.
// - libdbus reads DBUS_SESSION_BUS_ADDRESS once per process: changing it later has no effect.
// - gnome-keyring (42 here, 50 upstream: its work items 190, 196, 199) now and then aborts on an assertion
//   ("gkd_secret_service_get_pkcs11_session: assertion 'client' failed"): it took down a CI run's keyring once,
//   and here a successor started while five clients had calls in flight. The upstream reports name bursts of
//   concurrent sessions as the trigger, so calls go one at a time (keychain calls are rare: it costs nothing).
//   The successor (D-Bus or systemd starts one) knows none of the old sessions, so a call whose Secret Service
//   went away under it (it died while answering, or a kept entry's session is a dead one's) is asked once more,
//   of a fresh entry.
// - The Secret Service item carries exactly the attributes {service: 'tools.vsync', username: '<repo>/<env>'},
//   label `keyring:<repo>/<env>@tools.vsync`, in the default collection ("login"), so a user can recover a key by
//   hand with `secret-tool lookup service tools.vsync username <repo>/<env>`.
//
// The key text is never logged and never put into an error.
import type { AsyncEntry } from '@napi-rs/keyring';
import { VsyncError } from '../../shared/errors.js';
import { KEYCHAIN_SERVICE, type Keychain } from './keychain.js';

const MAX_CACHED_ENTRIES = 64;

function platformName(): string {
  switch (process.platform) {
    case 'darwin':
      return 'macos-keychain';
    case 'win32':
      return 'windows-credential-manager';
    default:
      return 'secret-service';
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Turns an error thrown by @napi-rs/keyring into a VsyncError; the original stays as `cause`. */
export function mapKeyringError(err: unknown, account: string, service: string = KEYCHAIN_SERVICE): VsyncError {
  if (err instanceof VsyncError) return err;
  const where = `account "${account}" of service "${service}"`;
  const message = messageOf(err);

  if (/^No matching (entry|credential)/i.test(message)) {
    return new VsyncError('KEYCHAIN_NOT_FOUND', `no entry for ${where}`, { cause: err });
  }
  if (/^Entry is matched by/i.test(message)) {
    return new VsyncError('KEYCHAIN_UNAVAILABLE', `more than one keychain entry matches ${where}`, {
      cause: err,
      hint: `another program wrote a duplicate; list them with \`secret-tool search --all service ${service} username ${account}\` and remove all but one`,
    });
  }
  return new VsyncError('KEYCHAIN_UNAVAILABLE', `${unavailableReason(message)} (${where})`, { cause: err });
}

// The Secret Service that a call went to is gone: it died while answering, or was replaced since the entry's
// session was opened (its successor knows none of the old sessions).
const ANSWER_LOST = /recipient disconnected from message bus without replying/i;
const SESSION_GONE = /The session (wrapping the secret )?does not exist/i;
const serviceWentAway = (message: string): boolean => ANSWER_LOST.test(message) || SESSION_GONE.test(message);

function unavailableReason(message: string): string {
  if (ANSWER_LOST.test(message)) {
    return 'the Secret Service stopped while answering (it may have crashed)';
  }
  if (SESSION_GONE.test(message)) {
    return 'the Secret Service was restarted during the call';
  }
  if (
    /DBUS_SESSION_BUS_ADDRESS|autolaunch|Failed to connect to socket|No such file or directory|Connection refused|disconnected/i.test(
      message,
    )
  ) {
    return 'no D-Bus session bus';
  }
  if (
    /not provided by any \.service files|ServiceUnknown|No DBus session or Secret Service provider|no secret service provider/i.test(
      message,
    )
  ) {
    return 'no Secret Service on the session bus';
  }
  if (/locked|prompt/i.test(message)) {
    return 'the keyring is locked and was not unlocked';
  }
  if (/^Couldn't access platform storage/i.test(message)) {
    return 'the keychain refused access';
  }
  if (/timed? ?out|NoReply/i.test(message)) {
    return 'the keychain did not answer in time';
  }
  return 'the keychain failed';
}

/** The three calls of @napi-rs/keyring's AsyncEntry that this adapter makes. */
export type KeyringEntry = Pick<AsyncEntry, 'getPassword' | 'setPassword' | 'deletePassword'>;

/** Opens the library's entry for one account (its own bus connection); a test gives its own. */
export type OpenEntry = (service: string, account: string) => Promise<KeyringEntry>;

async function openKeyringEntry(service: string, account: string): Promise<KeyringEntry> {
  // The native module is loaded at the first keychain call, not at the agent's start (~8 MiB), and never
  // by an agent whose keys come from VSYNC_KEY.
  const { AsyncEntry } = await import('@napi-rs/keyring');
  // Pinned to the Secret Service on Linux: no silent fallback to the kernel keyring (see the top of the file).
  return new AsyncEntry(service, account, { linux: { store: 'secret-service' } });
}

export class OsKeychain implements Keychain {
  readonly name: string = platformName();
  readonly writable = true;
  readonly #service = KEYCHAIN_SERVICE;
  readonly #entries = new Map<string, KeyringEntry>();
  readonly #open: OpenEntry;
  #queue: Promise<void> = Promise.resolve();

  constructor(open: OpenEntry = openKeyringEntry) {
    this.#open = open;
  }

  async get(account: string): Promise<string> {
    const key = await this.#call(account, (entry) => entry.getPassword());
    if (key === null) {
      throw new VsyncError('KEYCHAIN_NOT_FOUND', `no entry for account "${account}" of service "${this.#service}"`);
    }
    return key;
  }

  async set(account: string, key: string): Promise<void> {
    await this.#call(account, (entry) => entry.setPassword(key));
  }

  async delete(account: string): Promise<void> {
    let askedAgain = false;
    const deleted = await this.#call(account, (entry, again) => {
      askedAgain = again;
      return entry.deletePassword();
    });
    // Asked again because the first answer was lost: the first may have deleted it, and gone is what was asked.
    if (!deleted && !askedAgain) {
      throw new VsyncError('KEYCHAIN_NOT_FOUND', `no entry for account "${account}" of service "${this.#service}"`);
    }
  }

  /** Runs `op` after every call before it has ended (see the top of the file: one at a time). */
  #call<T>(account: string, op: (entry: KeyringEntry, again: boolean) => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => this.#attempt(account, op));
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #attempt<T>(account: string, op: (entry: KeyringEntry, again: boolean) => Promise<T>): Promise<T> {
    try {
      return await op(await this.#entry(account), false);
    } catch (err) {
      // The entry's bus connection may be what failed; the next call builds a fresh one.
      this.#entries.delete(account);
      if (!serviceWentAway(messageOf(err))) throw mapKeyringError(err, account, this.#service);
    }
    try {
      return await op(await this.#entry(account), true);
    } catch (err) {
      this.#entries.delete(account);
      throw mapKeyringError(err, account, this.#service);
    }
  }

  async #entry(account: string): Promise<KeyringEntry> {
    let entry = this.#entries.get(account);
    if (entry === undefined) {
      entry = await this.#open(this.#service, account);
      if (this.#entries.size >= MAX_CACHED_ENTRIES) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#entries.set(account, entry);
    }
    return entry;
  }
}
