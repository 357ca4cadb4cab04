#!/usr/bin/env node
// `vsync`: turns argv into one call to the agent and renders the answer. This build knows only --version
// and --help: the agent and its commands (init, push, pull, versions, use, status, lock) come next.
import { reportError } from '../shared/error-output.js';
import { VsyncError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';

const USAGE = `usage: vsync <command> [options]

  --version   print the version
  --help      print this text

This build carries vsync's storage, crypto and keychain layers; the agent (vsyncd)
and the commands that talk to it are not part of it yet. See README.md.
`;

const [first] = process.argv.slice(2);
if (first === '--version' || first === '-V') {
  process.stdout.write(`vsync ${VERSION}\n`);
} else if (first === undefined || first === '--help' || first === '-h') {
  process.stdout.write(USAGE);
} else {
  reportError('vsync', new VsyncError('USAGE', `unknown command ${JSON.stringify(first)}`));
}
