#!/usr/bin/env node
// `vsync`: turns argv into one call to the agent and prints the answer. Kept to Node's own modules and the
// zod-free parts of shared/, so a command starts in about Node's own start-up time.
import { parseArgs, type Command } from './args.js';
import { backups } from './commands/backups.js';
import { daemon } from './commands/daemon.js';
import { doctor } from './commands/doctor.js';
import { events } from './commands/events.js';
import { init } from './commands/init.js';
import { key } from './commands/key.js';
import { lock } from './commands/lock.js';
import { pull } from './commands/pull.js';
import { push } from './commands/push.js';
import { status } from './commands/status.js';
import { use } from './commands/use.js';
import { versions } from './commands/versions.js';
import { watch } from './commands/watch.js';
import { processContext } from './context.js';
import { printFailure } from './failure.js';
import { helpText } from './help.js';
import { VERSION } from '../shared/version.js';

// Plain imports: the CLI ships as one esbuild bundle, which holds every module whatever the import style,
// so loading a command lazily would save nothing at start-up.
async function run(command: Command, json: boolean): Promise<void> {
  const ctx = processContext(json);
  switch (command.name) {
    case 'init':
      return init(command, ctx);
    case 'push':
      return push(command, ctx);
    case 'pull':
      return pull(command, ctx);
    case 'versions':
      return versions(command, ctx);
    case 'backups':
      return backups(command, ctx);
    case 'use':
      return use(command, ctx);
    case 'watch':
      return watch(command, ctx);
    case 'status':
      return status(ctx);
    case 'events':
      return events(ctx);
    case 'lock':
      return lock(ctx);
    case 'daemon':
      return daemon(command, ctx);
    case 'doctor':
      return doctor(command, ctx);
    case 'key':
      return key(command, ctx);
  }
}

// A reader that went away (`vsync versions dev | head -1`) is not our failure: whatever is left to print has
// nowhere to go, so stop quietly rather than die on an unhandled EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

const argv = process.argv.slice(2);
// Known before parsing, so even a usage error comes out as JSON when asked.
const json = argv.includes('--json');
try {
  const invocation = parseArgs(argv);
  if (invocation.name === 'version') process.stdout.write(`vsync ${VERSION}\n`);
  else if (invocation.name === 'help') process.stdout.write(helpText(invocation.topic));
  else await run(invocation.command, invocation.json);
} catch (err) {
  await printFailure(err, json);
}
