#!/usr/bin/env node
// `vsync`: turns argv into one call to the agent and prints the answer. Kept to Node's own modules and the
// zod-free parts of shared/, so a command starts in about Node's own start-up time.
import { parseArgs, type Command } from './args.js';
import { printFailure } from './failure.js';

// Modules are loaded only when needed, a command's only when it runs: each ES module costs Node most of a
// millisecond to resolve, read and compile, and --version or --help need none of the commands.
async function run(command: Command, json: boolean): Promise<void> {
  const ctx = (await import('./context.js')).processContext(json);
  switch (command.name) {
    case 'init':
      return (await import('./commands/init.js')).init(command, ctx);
    case 'push':
      return (await import('./commands/push.js')).push(command, ctx);
    case 'pull':
      return (await import('./commands/pull.js')).pull(command, ctx);
    case 'versions':
      return (await import('./commands/versions.js')).versions(command, ctx);
    case 'backups':
      return (await import('./commands/backups.js')).backups(command, ctx);
    case 'use':
      return (await import('./commands/use.js')).use(command, ctx);
    case 'watch':
      return (await import('./commands/watch.js')).watch(command, ctx);
    case 'status':
      return (await import('./commands/status.js')).status(ctx);
    case 'events':
      return (await import('./commands/events.js')).events(ctx);
    case 'lock':
      return (await import('./commands/lock.js')).lock(ctx);
    case 'daemon':
      return (await import('./commands/daemon.js')).daemon(command, ctx);
    case 'doctor':
      return (await import('./commands/doctor.js')).doctor(command, ctx);
    case 'key':
      return (await import('./commands/key.js')).key(command, ctx);
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
  if (invocation.name === 'version') process.stdout.write(`vsync ${(await import('../shared/version.js')).VERSION}\n`);
  else if (invocation.name === 'help') process.stdout.write((await import('./help.js')).helpText(invocation.topic));
  else await run(invocation.command, invocation.json);
} catch (err) {
  await printFailure(err, json);
}
