// The one conversion of anything thrown (shared/error-conversion.ts): the file system refusing a call is
// this machine's doing and is named (FILE_SYSTEM_REFUSED); anything else is a bug, INTERNAL, message hidden
// and the original handed over for the log. The agent's answers go through it (requestError).
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { errorBody, requestError } from '../../daemon/server/error-reply.js';
import { toVsyncError } from '../../shared/error-conversion.js';
import { VsyncError } from '../../shared/errors.js';
import { registry } from '../../shared/errors.js';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('it did not throw');
}

t.test('a real refusal by the file system: named, with the call, the path and the errno', async (t) => {
  // sysfs takes no new folders, not even from root: a refusal this test can cause on any Linux machine.
  const err = thrown(() => mkdirSync('/sys/vsync-test-refused'));
  const failure = requestError(err);
  t.equal(failure.code, 'FILE_SYSTEM_REFUSED');
  t.match(failure.message, /^this machine's file system refused the agent: mkdir \/sys\/vsync-test-refused: E(PERM|ROFS|ACCES)$/);
  t.equal(failure.http, registry.FILE_SYSTEM_REFUSED.http);
  t.match(errorBody(failure).error.hint, /ReadWritePaths=/);
});

t.test('read-only, no space, permission denied: each a refusal; a missing file is not one', async (t) => {
  for (const code of ['EROFS', 'ENOSPC', 'EACCES', 'EBUSY', 'ENAMETOOLONG', 'EDQUOT', 'EIO']) {
    const err = Object.assign(new Error(`${code}: x`), { code, syscall: 'open', path: '/srv/repo/infra/vault/dev/.env.dev' });
    t.match(
      toVsyncError(err),
      { code: 'FILE_SYSTEM_REFUSED', message: new RegExp(`open /srv/repo/infra/vault/dev/\\.env\\.dev: ${code}$`) },
      code,
    );
  }
  const missing = Object.assign(new Error('ENOENT'), { code: 'ENOENT', syscall: 'open', path: '/x' });
  t.match(toVsyncError(missing), { code: 'INTERNAL', message: registry.INTERNAL.message }, 'ENOENT where vsync did not expect it is a bug');
  t.match(
    toVsyncError(new Error('secret detail')),
    { code: 'INTERNAL', message: registry.INTERNAL.message },
    "a bug's message stays hidden",
  );
});

t.test('a VsyncError passes through; a bug is handed to the log, whole, and only a bug', async (t) => {
  const coded = new VsyncError('STORAGE_TRANSIENT', 'x');
  const logged: unknown[] = [];
  t.equal(
    toVsyncError(coded, (e) => logged.push(e)),
    coded,
  );
  const bug = new TypeError('cannot read x of undefined');
  const failure = toVsyncError(bug, (e) => logged.push(e));
  t.equal(failure.cause, bug, 'the original is the cause');
  t.same(logged, [bug], 'and went to the log once');
  toVsyncError(Object.assign(new Error('EROFS'), { code: 'EROFS', syscall: 'rename', path: '/x' }), (e) => logged.push(e));
  t.equal(logged.length, 1, 'a refusal is no bug: not logged as one');
  t.match(toVsyncError(undefined), { code: 'INTERNAL' }, 'even undefined thrown');
  t.match(toVsyncError('a string'), { code: 'INTERNAL' });
});
