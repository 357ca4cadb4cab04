// Whom the client talks to. The client hands a passphrase, a key file's path or any command to whatever
// listens on the socket, so before it connects it makes sure only this user could have put a listener
// there; the agent makes the same check before it listens. Both use this one function.
//
// Trusted means: the socket's folder is a real folder (lstat: a symbolic link is refused, whatever it
// points to), owned by this user, with no group or other permission bits; and the socket, if there is one,
// is a socket (lstat again) owned by this user. Under a folder like that nobody else (root aside) can
// create, replace or rename anything, so what was checked is still what connect() reaches. The fallback
// folder /tmp/vsync-<uid> is where this matters most: anyone may create it first, and the sticky /tmp lets
// only its owner remove it again.
//
// The folders above the socket's folder are not checked (see docs/SECURITY.md). Kept to node:fs and the
// error registry, synchronous, two lstat calls: the client pays for it on every command's start-up.
import { lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { VsyncError } from './errors.js';

/** What the check found: no folder yet (nothing to trust or distrust), an empty folder, or a socket. */
export type SocketPresence = 'no-folder' | 'no-socket' | 'socket';

const ELSEWHERE = 'or set XDG_RUNTIME_DIR, or VSYNC_SOCKET, to a path in a folder of your own';

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new VsyncError('AGENT_SOCKET_UNSAFE', `${path} cannot be examined (${code ?? String(err)})`, {
      cause: err,
      hint: `vsync talks to an agent only through a folder it can check is yours alone; ${ELSEWHERE}`,
    });
  }
}

function unsafe(detail: string, hint: string): VsyncError {
  return new VsyncError('AGENT_SOCKET_UNSAFE', detail, { hint });
}

function modeOf(info: Stats): string {
  return (info.mode & 0o7777).toString(8).padStart(4, '0');
}

/** The problem with the socket's folder, as an error; undefined when it is ours alone or missing. */
function folderProblem(folder: string, info: Stats, uid: number): VsyncError | undefined {
  if (info.isSymbolicLink()) {
    return unsafe(
      `${folder} is a symbolic link, not a folder`,
      `vsync does not follow a link to its socket: whoever made the link chooses where it leads. Remove it (rm ${folder}; in /tmp only its owner or root can), ${ELSEWHERE}`,
    );
  }
  if (!info.isDirectory()) {
    return unsafe(`${folder} is not a folder`, `remove ${folder} (it is not vsync's), ${ELSEWHERE}`);
  }
  if (info.uid !== uid) {
    return unsafe(
      `${folder} belongs to uid ${info.uid}, not to you (uid ${uid})`,
      `someone else made this folder, and could listen in it: do not use it. Have it removed (rm -r ${folder}, by its owner or root), ${ELSEWHERE}`,
    );
  }
  if ((info.mode & 0o077) !== 0) {
    return unsafe(
      `${folder} is yours, but others may reach into it: mode ${modeOf(info)}`,
      `make it private: chmod 700 ${folder} (and remove anything in it you did not put there), ${ELSEWHERE}`,
    );
  }
  return undefined;
}

/**
 * Checks the socket's folder alone (the agent, before it creates its socket). Throws AGENT_SOCKET_UNSAFE
 * when the folder is not this user's alone; false when it does not exist.
 */
export function checkSocketFolder(folder: string, uid: number | undefined = process.getuid?.()): boolean {
  // Without uids (Windows) there is nothing to compare; vsync runs on Linux and macOS.
  if (uid === undefined) return true;
  const info = lstatOrUndefined(folder);
  if (!info) return false;
  const problem = folderProblem(folder, info, uid);
  if (problem) throw problem;
  return true;
}

/**
 * Checks the socket and its folder before anything is sent to it. Throws AGENT_SOCKET_UNSAFE when either is
 * not this user's alone; otherwise says what is there.
 */
export function checkSocket(socket: string, uid: number | undefined = process.getuid?.()): SocketPresence {
  if (!checkSocketFolder(dirname(socket), uid)) return 'no-folder';
  const info = lstatOrUndefined(socket);
  if (!info) return 'no-socket';
  if (uid === undefined) return 'socket';
  if (!info.isSocket()) {
    throw unsafe(
      `${socket} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a socket'}`,
      `vsync's socket is always a socket of your own: remove ${socket} if you know what it is, ${ELSEWHERE}`,
    );
  }
  if (info.uid !== uid) {
    throw unsafe(
      `${socket} belongs to uid ${info.uid}, not to you (uid ${uid})`,
      `someone else's program listens there: do not use it. Remove it (rm ${socket}) and find out who put it there, ${ELSEWHERE}`,
    );
  }
  return 'socket';
}
