// The one error registry. Every failure vsync reports carries one of these codes; the agent maps it to an
// HTTP status, the client to an exit code, and docs/ERRORS.md documents each (test/unit/errors-doc.test.ts
// fails when the two disagree). Messages say what happened; hints say what the user can do about it.

export interface ErrorSpec {
  readonly message: string;
  readonly hint: string;
  readonly http: number;
  readonly exit: number;
}

// Exit codes, grouped so a script can branch on the class of failure without parsing text.
export const exitCodes = {
  usage: 2,
  config: 3,
  integrity: 4,
  storage: 5,
  conflict: 6,
  keychain: 7,
  agent: 8,
  internal: 70,
  /** `vsync run` could not start its command: a shell's answer for a command it cannot run. */
  notStarted: 127,
} as const;

const x = exitCodes;

export const registry = {
  USAGE: {
    message: 'invalid usage',
    hint: 'run `vsync --help` for the commands and their options',
    http: 400,
    exit: x.usage,
  },

  // Names and paths
  NAME_INVALID: {
    message: 'invalid name',
    hint: 'env names match ^[a-z][a-z0-9_-]{0,63}$; repo names use only a-z, 0-9, "." and "_" (at most 100 characters)',
    http: 400,
    exit: x.usage,
  },

  REPO_UNKNOWN: {
    message: 'cannot tell which repo this folder belongs to',
    hint: 'check that `git rev-parse --show-toplevel` works here (install git; for "dubious ownership", see git config safe.directory)',
    http: 422,
    exit: x.config,
  },

  REPO_NOT_GIT: {
    message: 'this folder is not in a git checkout, so it has no repo name to share with teammates',
    hint: "run init inside your project's git checkout, or name the repo: `vsync init <env> --repo <name>` (written to .vsync; teammates must use the same name)",
    http: 422,
    exit: x.config,
  },

  STORE_FOLDER_INVALID: {
    message: 'this folder cannot hold a store',
    hint: 'give --store a folder you can write, on a real disk (not under /proc, /sys or /dev); it is made on the first push if it does not exist',
    http: 422,
    exit: x.config,
  },

  // Config files
  CONFIG_NOT_FOUND: {
    message: 'no config for this repo and env',
    hint: 'run `vsync init <env>` first, or copy the config a teammate shares',
    http: 404,
    exit: x.config,
  },
  CONFIG_INVALID: {
    message: 'the config file is not valid',
    hint: 'the file is gzip-compressed JSON; check it with `gunzip -c <file> | jq .` and fix the named field',
    http: 422,
    exit: x.config,
  },
  // Key material
  KEY_INVALID: {
    message: 'the key is not 32 bytes of standard base64 (44 characters)',
    hint: 'the keychain entry or VSYNC_KEY must hold the key text exactly as vsync wrote it',
    http: 422,
    exit: x.keychain,
  },
  SALT_INVALID: {
    message: 'the salt is not 16 to 18 bytes of standard base64',
    hint: 'the config field encryption.salt must hold the salt text exactly as vsync wrote it',
    http: 422,
    exit: x.config,
  },
  KEY_MISMATCH: {
    message: 'this key is not the key the config was made with',
    hint: 'the keychain holds a different key for this repo and env; import the team key, or check VSYNC_KEY',
    http: 409,
    exit: x.keychain,
  },

  // Envelope and seal (docs/FORMAT.md)
  ENVELOPE_TRUNCATED: {
    message: 'the encrypted file is too short to be an RQE1 envelope',
    hint: 'the object was cut short in transfer or storage; pull another version or push again',
    http: 422,
    exit: x.integrity,
  },
  ENVELOPE_UNKNOWN_FORMAT: {
    message: 'the encrypted file does not start with a known magic (RQE1)',
    hint: 'this is not a vsync envelope, or it was written by a newer vsync; upgrade, or check the object',
    http: 422,
    exit: x.integrity,
  },
  DECRYPT_FAILED: {
    message: 'decryption failed: the key is wrong or the data was altered',
    hint: 'GCM authentication failed, so nothing was written; if the key is right, the object was tampered with or damaged',
    http: 422,
    exit: x.integrity,
  },
  SEAL_INVALID: {
    message: 'the decrypted bundle does not carry a valid RQEM0001 seal',
    hint: 'the version was not written by `vsync push`; pull another version',
    http: 422,
    exit: x.integrity,
  },
  TIMESTAMP_INVALID: {
    message: 'not a vsync timestamp (YYYYMMDD-HHmmss, UTC)',
    hint: 'versions are named like 20260516-113304; list them with `vsync versions <env>`',
    http: 400,
    exit: x.usage,
  },

  // Bundles (zip archives of a vault folder)
  BUNDLE_SOURCE_INVALID: {
    message: 'the vault folder cannot be bundled',
    hint: 'the vault folder must be a folder inside the repo holding regular files only',
    http: 422,
    exit: x.usage,
  },
  BUNDLE_UNSAFE_ENTRY: {
    message: 'the archive holds an entry that would land outside the vault folder, or is not a regular file',
    hint: 'nothing was extracted; the version was not written by vsync or was tampered with',
    http: 422,
    exit: x.integrity,
  },
  BUNDLE_NAME_TOO_LONG: {
    message: 'the archive holds a name this file system cannot hold',
    hint: 'nothing was extracted; a name part is over 255 bytes, or the path is over 4095 bytes under this checkout: pull an older version with --at, or clone the repo to a shorter path',
    http: 422,
    exit: x.integrity,
  },
  BUNDLE_TOO_LARGE: {
    message: 'the bundle is over a cap on its files or bytes',
    hint: "nothing was written or extracted. A vault folder is a few small secret files; if this one is meant to be larger, raise the cap the message names on every machine that uses the vault (limits in the vault's config, or the agent's environment and then `vsync daemon stop`)",
    http: 413,
    exit: x.integrity,
  },
  BUNDLE_CORRUPT: {
    message: 'the archive could not be read',
    hint: 'nothing was extracted; the zip inside the envelope is damaged',
    http: 422,
    exit: x.integrity,
  },

  // Storage (daemon/storage/storage.ts states the contract)
  STORAGE_NOT_FOUND: {
    message: 'no such object in the store',
    hint: 'check the repo and env, and that a teammate has pushed; `vsync versions <env>` lists what is there',
    http: 404,
    exit: x.storage,
  },
  STORAGE_PRECONDITION_FAILED: {
    message: 'the object changed (or already exists) since it was last read',
    hint: 'another machine wrote first; pull, then try again',
    http: 409,
    exit: x.conflict,
  },
  STORAGE_TRANSIENT: {
    message: 'the store did not answer in time or answered with a temporary failure',
    hint: 'check the network and the endpoint, then try again',
    http: 503,
    exit: x.storage,
  },
  STORAGE_PERMANENT: {
    message: 'the store refused the request',
    hint: 'check the bucket name, the endpoint, and that your AWS credentials may read and write it',
    http: 502,
    exit: x.storage,
  },
  // S3 failures a newcomer meets first, each with its own fix (daemon/storage/s3-failures.ts); not retried.
  STORAGE_BUCKET_NOT_FOUND: {
    message: 'the bucket does not exist',
    hint: 'create it (`aws s3 mb s3://<bucket>`; for a server other than AWS, `aws --endpoint-url <url> s3api create-bucket --bucket <bucket>`), or correct the bucket, region or endpoint in the config',
    http: 502,
    exit: x.storage,
  },
  STORAGE_NO_CREDENTIALS: {
    message: 'no AWS credentials were found for the S3 store',
    hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (`aws configure` writes ~/.aws/credentials), where the agent starts; then `vsync daemon stop`, so that the next command starts an agent that sees them',
    http: 502,
    exit: x.storage,
  },
  STORAGE_CREDENTIALS_REFUSED: {
    message: 'the S3 store refused these credentials',
    hint: 'check the access key id and secret (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the AWS_PROFILE in use) are the ones for this endpoint, and that they may read and write the bucket',
    http: 502,
    exit: x.storage,
  },
  STORAGE_OBJECT_TOO_LARGE: {
    message: 'the object is larger than the reader allows',
    hint: 'nothing was kept of it; the object was not written by vsync or someone replaced it; `vsync versions <env>` shows sizes',
    http: 413,
    exit: x.storage,
  },
  STORAGE_CONFIG_INVALID: {
    message: 'the storage settings are not valid',
    hint: 'an S3 store needs a bucket; a directory store needs an absolute folder path',
    http: 422,
    exit: x.config,
  },
  STORAGE_CONDITIONAL_WRITES_IGNORED: {
    message: 'the store does not honour conditional writes (If-None-Match: *, If-Match)',
    hint: "two machines pushing at once can then overwrite each other's push unnoticed; use a store that enforces them (AWS S3, Ceph RGW, the directory store), or push from one machine at a time",
    http: 502,
    exit: x.storage,
  },
  STORAGE_CLOCK_SKEWED: {
    message: "this machine's clock is off from the store's",
    hint: 'set the clock right (on Linux: timedatectl set-ntp true); version names come from this clock, and S3 refuses requests signed more than 15 minutes off',
    http: 422,
    exit: x.storage,
  },

  // Keychain
  KEYCHAIN_NOT_FOUND: {
    message: 'no key in the keychain for this repo and env',
    hint: 'run `vsync init <env>` to make one, or import the team key; on a headless machine set VSYNC_KEY',
    http: 404,
    exit: x.keychain,
  },
  KEYCHAIN_UNAVAILABLE: {
    message: 'the OS keychain cannot be reached',
    hint: 'on Linux a Secret Service (gnome-keyring, KeePassXC) must run on the session D-Bus; on a headless machine set VSYNC_KEY',
    http: 503,
    exit: x.keychain,
  },
  KEYCHAIN_READ_ONLY: {
    message: 'the key comes from VSYNC_KEY, which vsync never writes',
    hint: 'unset VSYNC_KEY to store or delete keys in the OS keychain',
    http: 409,
    exit: x.keychain,
  },
  KEY_ROTATED: {
    message: "this vault's key was rotated, and this machine holds an earlier one",
    hint: 'ask a teammate who has the new key for a share file (`vsync key export <env>`), then `vsync key import <file>` here',
    http: 409,
    exit: x.keychain,
  },
  KEY_RETIRED: {
    message: 'the version is encrypted under an earlier key of this vault, which this machine no longer holds',
    hint: 'versions from before a key rotation open only with the key they were pushed under: pull a later version, or ask whoever still holds the old key',
    http: 409,
    exit: x.keychain,
  },
  KEY_LOCKED: {
    message: 'the agent is locked: an automatic push or pull does not unlock it',
    hint: 'run any vsync command for this vault (vsync push <env>, vsync pull <env>) to unlock it; waiting work goes on then',
    http: 423,
    exit: x.keychain,
  },

  // Vault operations
  VAULT_EXISTS: {
    message: 'this vault is already initialised here',
    hint: 'use it as it is (`vsync push <env>`, `vsync pull <env>`); to start over, `vsync forget <env>` (backs the key up, then removes the config and the key), then `vsync init <env>`',
    http: 409,
    exit: x.config,
  },
  VAULT_KEY_EXISTS: {
    message: 'the keychain already holds a key for this repo and env, with no config beside it',
    hint: 'if a teammate shared this vault, `vsync key import <share file>` brings both; to start over, `vsync forget <env>` (backs the key up first), then `vsync init <env>`',
    http: 409,
    exit: x.keychain,
  },
  VAULT_EXISTS_IN_STORE: {
    message: 'the store already holds this vault: someone has initialised and pushed it',
    hint: 'join it with its key: a teammate runs `vsync key export <env>` and you `vsync key import <file>`; a new key made here could not open its versions',
    http: 409,
    exit: x.config,
  },
  VAULT_CONFLICT: {
    message: 'the remote moved since this machine last synced',
    hint: 'pull --force to take the remote version (your folder is backed up first), re-apply your edits and push; or push --force to replace the remote version',
    http: 409,
    exit: x.conflict,
  },
  VAULT_FOLDER_MISSING: {
    message: 'the watched vault folder is not there',
    hint: 'put it back (git checkout it, or vsync pull); watching goes on and pushes once it is there',
    http: 409,
    exit: x.config,
  },
  VAULT_CHANGED_DURING_PUSH: {
    message: 'the vault folder kept changing while it was read',
    hint: 'something changed the folder while it was being read; try again once it is quiet',
    http: 409,
    exit: x.conflict,
  },
  VAULT_CHANGED_DURING_PULL: {
    message: 'the vault folder was edited while it was being replaced',
    hint: 'nothing was replaced and the edits are in the folder: push them, or pull again (`--force` replaces them, after a backup)',
    http: 409,
    exit: x.conflict,
  },
  VAULT_PATH_UNSAFE: {
    message: 'the path to the vault folder leaves the repo or goes through a symlink',
    hint: 'a vault folder and every folder above it, up to the repo root, must be real folders inside the repo; replace the symlink with a folder (check what your last `git pull` brought in)',
    http: 422,
    exit: x.config,
  },
  VAULT_UNPUSHED_CHANGES: {
    message: 'the vault folder holds changes that were never pushed',
    hint: 'push them first, or pull --force to replace them (a backup of the folder was written either way)',
    http: 409,
    exit: x.conflict,
  },
  VAULT_ROLLBACK: {
    message: 'the remote pointer names a version older than one this machine has already seen',
    hint: 'someone moved latest back; if that is intended, pull that version by name with --at <ts>',
    http: 409,
    exit: x.integrity,
  },
  VAULT_SEAL_MISMATCH: {
    message: "the version's sealed timestamp is not the one asked for",
    hint: 'the object was renamed or the pointer moved by someone without the key; nothing was written',
    http: 422,
    exit: x.integrity,
  },
  VAULT_POINTER_INVALID: {
    message: 'the remote latest pointer does not hold a version timestamp',
    hint: 'someone wrote junk to latest; push from a good machine (push --force) or write a real version name to it',
    http: 422,
    exit: x.integrity,
  },
  VAULT_KEYS_INVALID: {
    message: "the vault's key history (its `keys` object) in the store is not one vsync wrote",
    hint: 'it holds no secret, only key checks: someone who can write the store, or another tool, changed it; restore it from a teammate who rotated, or remove it and rotate again',
    http: 422,
    exit: x.integrity,
  },
  VAULT_EMPTY: {
    message: 'nothing has been pushed for this repo and env yet',
    hint: 'push from the machine that has the secrets: `vsync push <env>`',
    http: 404,
    exit: x.storage,
  },
  VAULT_VERSION_NOT_FOUND: {
    message: 'no such version in the store',
    hint: 'list the versions with `vsync versions <env>`',
    http: 404,
    exit: x.storage,
  },
  VAULT_VERSION_FROM_FUTURE: {
    message: "the version is named more than a day after this machine's clock",
    hint: "a broken clock or someone who can write the store named it; check this machine's clock, pull an older version with --at <ts>, or replace latest with `vsync push --force`",
    http: 422,
    exit: x.integrity,
  },
  VAULT_VERSION_TOO_LARGE: {
    message: 'the version in the store is larger than this agent accepts',
    hint: "nothing was downloaded past the cap; a vault version is a few KiB. If it is genuine, raise VSYNC_MAX_VERSION_BYTES in the agent's environment",
    http: 413,
    exit: x.integrity,
  },
  BACKUP_NONE: {
    message: 'this machine has no backup of this repo and env',
    hint: 'a backup is written before each pull replaces the vault folder; `vsync backups <env>` lists them',
    http: 404,
    exit: x.storage,
  },
  BACKUP_NOT_FOUND: {
    message: 'no backup with that timestamp on this machine',
    hint: 'list the backups with `vsync backups <env>` and name one of them (YYYYMMDD-HHmmss)',
    http: 404,
    exit: x.storage,
  },
  USE_ENV_IS_FILE: {
    message: '.env is a regular file, and use never replaces one',
    hint: 'move its contents into the vault folder (and push), then remove .env and run use again',
    http: 409,
    exit: x.usage,
  },
  USE_TARGET_MISSING: {
    message: 'the vault folder has no env file for this env',
    hint: 'pull the env first (`vsync pull <env>`), or write the file and push it (`vsync push <env>`)',
    http: 404,
    exit: x.config,
  },
  USE_NOTHING_PUSHED: {
    message: 'the vault folder has no env file for this env, and nobody has pushed one',
    hint: 'write the variables to infra/vault/<env>/.env.<env> (KEY=value lines), then `vsync push <env>` and `vsync use <env>`',
    http: 404,
    exit: x.config,
  },
  USE_NOT_PULLED: {
    message: 'the env file is in the store but not in this checkout',
    hint: 'pull it first: `vsync pull <env>`, then `vsync use <env>`',
    http: 404,
    exit: x.config,
  },

  // vsync run
  RUN_FILE_NOT_FOUND: {
    message: 'the env file to run with is not there',
    hint: 'run reads .env.<env> in the vault folder (or the file --file names, a path inside the vault folder); pull the env first, or name the file',
    http: 404,
    exit: x.usage,
  },
  RUN_FILE_INVALID: {
    message: 'the env file to run with cannot be read as one',
    hint: 'it must be a regular file (not a symlink) of UTF-8 dotenv text, at most 1 MiB',
    http: 422,
    exit: x.usage,
  },
  RUN_COMMAND_NOT_STARTED: {
    message: 'the command could not be started',
    hint: 'check its name and that it is on PATH and executable; vsync runs it without a shell',
    http: 422,
    exit: x.notStarted,
  },

  // Share files: vsync key export / import (docs/FORMAT.md §12)
  SHARE_FILE_EXISTS: {
    message: 'the share file already exists, and export never replaces a file',
    hint: 'name another file with --out <file>, or remove the old one (once imported, a share file is no longer needed)',
    http: 409,
    exit: x.usage,
  },
  SHARE_FILE_UNREADABLE: {
    message: 'the share file cannot be read',
    hint: 'check the path: give the .share file that `vsync key export` wrote',
    http: 422,
    exit: x.usage,
  },
  SHARE_FILE_UNWRITABLE: {
    message: 'the share file cannot be written',
    hint: 'give --out a file in a folder that exists and that you may write to',
    http: 422,
    exit: x.usage,
  },
  SHARE_FILE_INVALID: {
    message: 'the file is not a whole, unaltered vsync share file',
    hint: 'ask for a new export (`vsync key export <env>`) and bring the file over unchanged; nothing was imported',
    http: 422,
    exit: x.integrity,
  },
  SHARE_PASSPHRASE_WRONG: {
    message: 'the passphrase does not open this share file',
    hint: 'type it as `vsync key export` printed it (for a passphrase vsync made, case, spaces and dashes do not matter); nothing was imported',
    http: 422,
    exit: x.usage,
  },
  SHARE_PASSPHRASE_INVALID: {
    message: 'the passphrase cannot be used',
    hint: 'leave out --passphrase-file and vsync makes a strong one; a passphrase of your own must be 16 to 1024 characters',
    http: 400,
    exit: x.usage,
  },
  SHARE_CONFLICT: {
    message: 'this machine already holds a different key or config for this vault',
    hint: "import never replaces them: find out which key is the team's current one; to take the share's, remove this machine's keychain entry and config file first",
    http: 409,
    exit: x.conflict,
  },

  // The agent and its socket
  AGENT_ENVIRONMENT_CHANGED: {
    message: 'the agent was started with another environment than this command has',
    hint: "run `vsync daemon restart`: the agent starts again with this shell's environment (its watches resume; keys are read again)",
    http: 409,
    exit: x.agent,
  },
  AGENT_UNREACHABLE: {
    message: 'no vsync agent answers on the socket',
    hint: 'start it with `vsync daemon start` (or let vsync start it: unset VSYNC_NO_AUTOSTART); its log says why it stopped',
    http: 503,
    exit: x.agent,
  },
  AGENT_ALREADY_RUNNING: {
    message: 'another vsync agent is already running on this socket',
    hint: 'use it (`vsync daemon status`), or stop it first with `vsync daemon stop`',
    http: 409,
    exit: x.agent,
  },
  // The agent's configuration failures exit with the config class: starting again cannot help, so the
  // systemd unit names that status in RestartPreventExitStatus= (systemd/vsyncd.service).
  AGENT_SOCKET_UNSAFE: {
    message: 'the socket folder is not private to this user',
    hint: 'the folder must be owned by you with mode 0700: chmod 700 <folder>, or point VSYNC_SOCKET elsewhere',
    http: 500,
    exit: x.config,
  },
  AGENT_SOCKET_PATH_TOO_LONG: {
    message: 'the socket path is too long for a Unix socket',
    hint: 'set VSYNC_SOCKET to a shorter path (at most 103 bytes), e.g. /tmp/vsync-$UID/vsyncd.sock',
    http: 500,
    exit: x.config,
  },
  AGENT_SETTINGS_INVALID: {
    message: 'an agent setting in the environment is not valid',
    hint: 'run `vsyncd --help` for the VSYNC_* variables and their ranges; a service takes them from `systemctl --user show-environment` and its unit',
    http: 500,
    exit: x.config,
  },
  AGENT_LISTEN_FDS_INVALID: {
    message: 'the socket the service manager passed cannot be used',
    hint: 'vsyncd takes one listening Unix socket (LISTEN_FDS=1, fd 3) bound at the path it would use itself (VSYNC_SOCKET, else $XDG_RUNTIME_DIR/vsync/vsyncd.sock); write the units again with `vsync daemon install`',
    http: 500,
    exit: x.config,
  },
  AGENT_BAD_REQUEST: {
    message: 'the request is not valid',
    hint: 'see docs/API.md for the request schemas; unknown fields are refused',
    http: 400,
    exit: x.usage,
  },
  AGENT_HTTP_INVALID: {
    message: 'the request is not HTTP/1.1 the agent can read',
    hint: 'the agent speaks plain HTTP/1.1 on its Unix socket (docs/API.md); HTTP/2, TLS and CONNECT are not served',
    http: 400,
    exit: x.usage,
  },
  AGENT_HEADERS_TOO_LARGE: {
    message: 'the request headers are over the size limit',
    hint: 'a vsync request has a few short headers; the agent reads at most 16 KiB of them',
    http: 431,
    exit: x.usage,
  },
  AGENT_REQUEST_TIMEOUT: {
    message: 'the request did not arrive in time',
    hint: 'the headers and body of a request must arrive within VSYNC_REQUEST_TIMEOUT_SECONDS (default 30); answers are not limited',
    http: 408,
    exit: x.agent,
  },
  AGENT_TOO_MANY_CONNECTIONS: {
    message: 'the agent has too many connections in use',
    hint: 'every connection is busy with a request (at most VSYNC_MAX_CONNECTIONS, default 1024); try again in a moment, or find the program holding them',
    http: 503,
    exit: x.agent,
  },
  AGENT_SHUTTING_DOWN: {
    message: 'the agent is shutting down',
    hint: 'try again in a moment; vsync starts a new agent when none answers',
    http: 503,
    exit: x.agent,
  },
  AGENT_OPERATION_CANCELLED: {
    message: 'the operation was cancelled: its client went away before it finished',
    hint: 'nothing was left half-done: the vault folder is as before or fully replaced, and latest names a version that exists; run the command again',
    http: 499,
    exit: x.agent,
  },

  // Running the agent as a service: vsync daemon install / uninstall
  SERVICE_MANAGER_UNAVAILABLE: {
    message: 'no service manager to run vsyncd under',
    hint: 'a service needs the systemd user manager (`systemctl --user`) on Linux or launchd on macOS; without one, vsync starts the agent on first use, or start it with `vsync daemon start`',
    http: 503,
    exit: x.agent,
  },
  SERVICE_INSTALL_FAILED: {
    message: 'a step of installing or uninstalling the service failed',
    hint: 'the steps before it stay done and running the command again repeats them; `systemctl --user status vsyncd` and `journalctl --user -u vsyncd` (on macOS ~/Library/Logs/vsyncd.log) say more',
    http: 500,
    exit: x.agent,
  },

  FILE_SYSTEM_REFUSED: {
    message: "this machine's file system refused the agent",
    hint: 'check the folder exists, its permissions and the free space; under the systemd service, folders outside your home and /tmp are read-only unless a ReadWritePaths= drop-in opens them (systemd/README.md)',
    http: 500,
    exit: x.config,
  },
  INTERNAL: {
    message: 'an unexpected internal error',
    hint: 'this is a bug; please report it with the agent log',
    http: 500,
    exit: x.internal,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof registry;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(registry, code);
}

/**
 * A failure with a registry code. `detail` says what about this case is specific (which field, which key,
 * which versions); it is shown after the registry message and must never hold secret material.
 */
export class VsyncError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly hint: string;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; hint?: string }) {
    const spec = registry[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, { cause: options?.cause });
    this.name = 'VsyncError';
    this.code = code;
    this.detail = detail;
    this.hint = options?.hint ?? spec.hint;
  }

  get http(): number {
    return registry[this.code].http;
  }

  get exit(): number {
    return registry[this.code].exit;
  }
}

/** Whether `err` is a VsyncError, and with one of `codes` when any are named. */
export function isVsyncError(err: unknown, ...codes: ErrorCode[]): err is VsyncError {
  return err instanceof VsyncError && (codes.length === 0 || codes.includes(err.code));
}
