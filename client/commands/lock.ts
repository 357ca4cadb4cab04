// vsync lock: drop the agent's unlocked keys. With no agent running no key is held, so there is nothing to
// drop and no reason to start one.
import type { LockResult } from '../../shared/api.js';
import { isNoAgent } from '../agent-client.js';
import type { Context } from '../context.js';
import { lockLine } from '../render.js';
import { expectLock } from '../result-shape.js';

export async function lock(ctx: Context): Promise<void> {
  let result: LockResult;
  try {
    result = expectLock(await ctx.client.call({ method: 'POST', path: '/v1/lock', body: {} }));
  } catch (err) {
    if (!isNoAgent(err)) throw err;
    result = { dropped: 0 };
  }
  if (ctx.json) return ctx.out.json(result);
  ctx.out.line(lockLine(result));
}
