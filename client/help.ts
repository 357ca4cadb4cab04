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
  use [<env>]                 point ./.env at <env>'s env file, or say where it points
  watch [<env>]               push <env> on every save (--follow: pull teammates' pushes too);
                              with no <env>, list the watched vaults
  status                      the agent, its unlocked keys, each vault's last operation, the watches
  events                      print what the agent does (pushes, pulls, conflicts, …) as it happens
  lock                        drop every key the agent holds unlocked
  daemon start|stop|status    manage the agent (vsyncd)

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

  start        start the agent in the background unless one is running
  stop         ask the agent to finish what it is doing and exit
  status       say whether the agent is running (exit code 8 when it is not)

${COMMON}
`,
};

export function helpText(topic?: CommandName): string {
  return topic === undefined ? GLOBAL : COMMANDS[topic];
}
