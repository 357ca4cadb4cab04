// The CLI (started by launcher.ts): turns argv into one call to the agent and prints the answer. Kept to Node's own modules and the
// zod-free parts of shared/, so a command starts in about Node's own start-up time.
import { VERSION } from '../shared/version.js';
import { parseArgs } from './args.js';
import { runCommand } from './command-table.js';
import { processContext } from './context.js';
import { printFailure } from './failure.js';
import { helpText } from './help.js';

// A reader that went away (`vsync versions dev | head -1`) is not our failure: whatever is left to print has
// nowhere to go, so stop quietly rather than die on an unhandled EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

// A function, not top-level await: the bundle is CommonJS (see package.json's bundle script), which Node
// loads faster than an ES module.
async function main(argv: string[]): Promise<void> {
  // Known before parsing, so even a usage error comes out as JSON when asked.
  // Not past `--`: what follows it is another program's line (vsync run).
  const json = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length).includes('--json');
  try {
    const invocation = parseArgs(argv);
    if (invocation.name === 'version') process.stdout.write(`vsync ${VERSION}\n`);
    else if (invocation.name === 'help') process.stdout.write(helpText(invocation.topic));
    else await runCommand(invocation.command, processContext(invocation.json));
  } catch (err) {
    await printFailure(err, json);
  }
}

void main(process.argv.slice(2));
