// vsync lock: drop the agent's unlocked keys. With no agent running no key is held, so there is nothing to
// drop and no reason to start one.
import type { LockResult } from '../../shared/api.js';
import { isNoAgent } from '../agent-client.js';
import { defineCommand, route } from '../command.js';
import { lockLine } from '../render.js';
import { expectLock } from '../result-shape.js';

export interface Lock {
  readonly name: 'lock';
}

const LOCK = route('POST', '/v1/lock');

export const lockCommand = defineCommand<Lock>({
  name: 'lock',
  summary: 'drop every key the agent holds unlocked',
  about: 'Drops every key the agent holds unlocked; the next operation reads them from the keychain again.',
  positionals: [],
  options: [],
  routes: [LOCK],
  build: () => ({ name: 'lock' }),
  async run(_command, ctx) {
    let result: LockResult;
    try {
      result = expectLock(await ctx.client.call({ ...LOCK, body: {} }));
    } catch (err) {
      if (!isNoAgent(err)) throw err;
      result = { dropped: 0 };
    }
    if (ctx.json) return ctx.out.json(result);
    ctx.out.line(lockLine(result));
  },
});
