// The help texts: `vsync --help` and `vsync <command> --help`. Plain text, no colour.
import type { CommandName } from './args.js';

const COMMON = `  --json       print the result as one line of JSON (errors too, on stderr)
  -h, --help   print this text`;

const GLOBAL = `usage: vsync <command> [options]

commands:
  init <env>                  make a key, a config and the vault folder for <env>
  push <env>                  encrypt the vault folder and upload it as a new version
  pull <env>                  back up the vault folder, then download and unpack latest
  versions <env>              list the versions in the store, newest first
  backups <env>               list this machine's backups of <env> (written before each pull)
  backups restore <env> [<ts>]
                              put the newest backup (or <ts>) back in place of the vault folder
  use [<env>]                 point ./.env at <env>'s env file, or say where it points
  watch [<env>]               push <env> on every save (--follow: pull teammates' pushes too);
                              with no <env>, list the watched vaults
  status                      the agent, its unlocked keys, each vault's last operation, the watches
  events                      print what the agent does (pushes, pulls, conflicts, …) as it happens
  lock                        drop every key the agent holds unlocked
  key export <env>            write <env>'s key and config to a share file for a teammate
  key import <file>           take a teammate's share file into this machine's keychain and config
  daemon start|stop|status    manage the agent (vsyncd)
  daemon install|uninstall    run the agent as a service from login on (systemd, launchd), or no more
  doctor [<env>]              check the agent and the keychain, and <env>'s config, key and store

options:
  -V, --version  print the version
${COMMON}

environment:
  VSYNC_SOCKET          the agent's socket (default $XDG_RUNTIME_DIR/vsync/vsyncd.sock,
                        else /tmp/vsync-<uid>/vsyncd.sock)
  VSYNC_NO_AUTOSTART=1  never start the agent; fail when none answers

Run \`vsync <command> --help\` for a command's options.
`;

const COMMANDS: Readonly<Record<CommandName, string>> = {
  init: `usage: vsync init <env> [--store <dir> | --bucket <bucket> [--endpoint <url>] [--region <region>]
                  [--prefix <prefix>] [--path-style]]

Makes a key for this repo and <env> in the OS keychain, a config file and the vault folder
(infra/vault/<env>/). Versions go to a local folder store (the default, or --store) or to S3.

  --store <dir>       a folder to keep versions in (relative to here is fine)
  --bucket <bucket>   an S3 bucket instead; credentials come from the AWS SDK's usual chain
  --endpoint <url>    an S3-compatible server's URL
  --region <region>   the bucket's region
  --prefix <prefix>   a key prefix inside the bucket
  --path-style        address the bucket by path (most S3-compatible servers need this)
${COMMON}
`,
  push: `usage: vsync push <env> [--force]

Zips the vault folder, seals and encrypts it, uploads it as a new version and moves latest to it.

  --force      replace the remote latest even if it moved since this machine last synced
${COMMON}
`,
  pull: `usage: vsync pull <env> [--at <ts>] [--force]

Backs up the vault folder, then downloads, decrypts, verifies and unpacks latest (or --at <ts>).

  --at <ts>    pull this version (YYYYMMDD-HHmmss, as \`vsync versions <env>\` lists them)
  --force      replace local changes that were never pushed (they are backed up first)
${COMMON}
`,
  versions: `usage: vsync versions <env>

Lists every version in the store, newest first; * marks the one latest points at.

${COMMON}
`,
  backups: `usage: vsync backups <env>
       vsync backups restore <env> [<ts>]

Each pull first backs up the vault folder, encrypted with the vault's key, to
~/.config/vsync/backups/<repo>/<env>-<ts>.zip.enc; the two newest are kept. The first form lists them,
newest first. The second puts one back (the newest, or <ts>): it decrypts and checks it, backs up the
folder as it is now, then swaps the backup in. The restored folder counts as your edit: push it to share
it, or pull --force to go back to the remote. docs/BACKUPS.md says how to decrypt one by hand.

${COMMON}
`,
  use: `usage: vsync use [<env>]

Points ./.env at <env>'s env file in the vault folder. With no <env>, says where ./.env points.

${COMMON}
`,
  watch: `usage: vsync watch <env> [--follow]
       vsync watch <env> --off
       vsync watch

Has the agent push <env>'s vault folder each time a file in it is saved (once the saves settle), so the
store always holds what is on disk. When the remote moved meanwhile, nothing is pushed: the watch waits for
\`vsync pull <env> --force\` (your folder is backed up first) or \`vsync push <env> --force\`. With no
<env>, lists the watched vaults and how each is doing.

  --follow     also pull each version a teammate pushes, while the folder holds no unpushed edits
  --off        stop watching <env>
${COMMON}
`,
  status: `usage: vsync status

Shows the agent (version, pid, uptime, socket), which keys it holds unlocked, each vault's last
operation, and the watched vaults with their state.

${COMMON}
`,
  events: `usage: vsync events

Prints what the agent does, one line per event, as it happens: watches started and stopped, changes seen
in watched folders, pushes and pulls (by hand, on save, or following the remote) and how they ended,
conflicts, the remote moving, keys locked. Runs until interrupted; fails (exit 8) when the agent stops.

  --json       print each event as the agent sends it: one JSON object per line
  -h, --help   print this text
`,
  lock: `usage: vsync lock

Drops every key the agent holds unlocked; the next operation reads them from the keychain again.

${COMMON}
`,
  daemon: `usage: vsync daemon start|stop|status
       vsync daemon install|uninstall [--dry-run]

  start        start the agent in the background unless one is running
  stop         ask the agent to finish what it is doing and exit
  status       say whether the agent is running (exit code 8 when it is not)
  install      run the agent as a service from login on: on Linux a systemd user unit and its socket
               (~/.config/systemd/user/vsyncd.service, vsyncd.socket), enabled and started; on macOS
               a launchd agent (~/Library/LaunchAgents/tools.vsync.vsyncd.plist), bootstrapped
  uninstall    stop the service and remove those files; vsync starts the agent itself again

  --dry-run    print what install or uninstall would write, remove and run; change nothing
${COMMON}
`,
  doctor: `usage: vsync doctor [<env>]

Checks what vsync relies on before you trust it, one line each: ok, warn, fail (with a hint), or skip
(a check it needs failed first).

  agent          the agent answers, and is of this vsync's version
  config         <env>'s config file for this repo reads
  keychain       <env>'s key is in the keychain and is the key the config was made with;
                 with no <env>: the keychain answers
  store          the bucket (or folder) answers with these credentials
  clock          this machine's clock is within 2 minutes of the store's (fails beyond 15)
  if-none-match  the store refuses a second put-if-absent on a scratch object
  if-match       the store refuses a put-if-match with a stale ETag

The last three write a scratch object under <repo>/<env>/_doctor/ and remove it. Some S3-compatible
servers ignore conditional writes; on those, two teammates pushing at once can lose each other's push.
Exits 0 when nothing failed, else with the exit code of the first failure (docs/ERRORS.md).

${COMMON}
`,
  key: `usage: vsync key export <env> [--out <file>] [--passphrase-file <file>]
       vsync key import <file> [--passphrase-file <file>]

Brings a teammate in. export writes <env>'s key and config (the store's settings and the salt) to a share
file (mode 0600, never over an existing file), encrypted under a passphrase it prints once. Send the file
and the passphrase by two different channels: either alone is useless, together they give the key.
The teammate runs import in their checkout: it asks for the passphrase (typing is not shown) and stores the
key in the OS keychain and the config; then \`vsync pull <env>\`. Importing the same file again is harmless;
import never replaces a different key or config that is already there.

  --out <file>              export: where to write (default ./<repo>-<env>.share)
  --passphrase-file <file>  export: use the passphrase in <file> (one line, 16 characters at least)
                            instead of making one; import: read it from <file> instead of asking
${COMMON}
`,
};

export function helpText(topic?: CommandName): string {
  return topic === undefined ? GLOBAL : COMMANDS[topic];
}
