#!/usr/bin/env node
// `vsyncd`: the per-user agent. This is the one place that will wire adapters (storage, keychain) into the
// domain and start the server; this build knows only --version and --help.
import { reportError } from '../shared/error-output.js';
import { VsyncError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';

const USAGE = `usage: vsyncd [--version | --help]

The agent's server is not part of this build yet; its storage, crypto, bundle and
keychain layers are (see README.md).
`;

const [first] = process.argv.slice(2);
if (first === '--version' || first === '-V') {
  process.stdout.write(`vsyncd ${VERSION}\n`);
} else if (first === undefined || first === '--help' || first === '-h') {
  process.stdout.write(USAGE);
} else {
  reportError('vsyncd', new VsyncError('USAGE', `unknown option ${JSON.stringify(first)}`, { hint: 'run `vsyncd --help`' }));
}
