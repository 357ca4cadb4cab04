// The passphrase of a share file, from where the user keeps it: a file given with --passphrase-file, or the
// terminal, with echo off. Never from argv (other users see it in `ps`) or the environment.
import type { ReadStream } from 'node:tty';
import { VsyncError } from '../../shared/errors.js';
import { onDemand } from '../on-demand.js';

// A passphrase is at most 1,024 characters; anything much larger is not a passphrase file.
const MAX_FILE_BYTES = 8 * 1024;

const fileHint = 'the file must hold the passphrase alone, on one line (a line end after it is ignored)';

/** The passphrase in `path`: its one line, without the line end editors and `echo` add. */
export async function readPassphraseFile(path: string): Promise<string> {
  const { readFile } = onDemand.fsPromises();
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new VsyncError('SHARE_PASSPHRASE_INVALID', `cannot read --passphrase-file ${path} (${code})`, { hint: fileHint });
  }
  if (bytes.length > MAX_FILE_BYTES)
    throw new VsyncError('SHARE_PASSPHRASE_INVALID', `--passphrase-file ${path} holds ${bytes.length} bytes`, { hint: fileHint });
  const text = bytes.toString('utf8').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text))
    throw new VsyncError('SHARE_PASSPHRASE_INVALID', `--passphrase-file ${path} holds more than one line`, { hint: fileHint });
  if (text === '') throw new VsyncError('SHARE_PASSPHRASE_INVALID', `--passphrase-file ${path} is empty`, { hint: fileHint });
  return text;
}

/**
 * Asks on the terminal with echo off; undefined when the user gives up (Ctrl-C, or Ctrl-D on an empty line).
 * Raw mode is set before the prompt is written, so nothing typed after the prompt appears is ever shown.
 */
export function askPassphrase(
  prompt: string,
  input: ReadStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<string | undefined> {
  if (!input.isTTY) {
    throw new VsyncError('SHARE_PASSPHRASE_INVALID', 'no terminal to ask for it on (standard input is not a terminal)', {
      hint: 'give --passphrase-file <file>, a file holding the passphrase on one line',
    });
  }
  return new Promise((resolve) => {
    let typed: string[] = [];
    // Inside an escape sequence (an arrow key, a function key): its characters are not part of the passphrase.
    let sequence: 'none' | 'start' | 'inside' = 'none';
    const finish = (value: string | undefined): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      resolve(value);
    };
    const onEnd = (): void => finish(undefined);
    const onData = (chunk: string): void => {
      for (const c of chunk) {
        if (sequence === 'start') {
          sequence = c === '[' || c === 'O' ? 'inside' : 'none';
          continue;
        }
        if (sequence === 'inside') {
          if (c >= '@' && c <= '~') sequence = 'none';
          continue;
        }
        if (c === '\r' || c === '\n') {
          finish(typed.join(''));
          return;
        }
        // Raw mode turns off the terminal's own handling of these, so they are handled here.
        if (c === '\u0003' || (c === '\u0004' && typed.length === 0)) {
          finish(undefined); // Ctrl-C, or Ctrl-D on an empty line
          return;
        }
        if (c === '\u007f' || c === '\b') typed = typed.slice(0, -1);
        else if (c === '\u0015')
          typed = []; // Ctrl-U
        else if (c === '\u001b') sequence = 'start';
        else if (c >= ' ') typed.push(c);
      }
    };
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
    output.write(prompt);
  });
}
