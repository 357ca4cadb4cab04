// V8 flags the agent sets from inside the process (here and young-generation.ts): the agent is started by the
// client, by systemd, by launchd or by hand, and a flag on each of those command lines would be four places to
// keep in step (and NODE_OPTIONS is the user's). V8 reads these flags when it acts, so setting them after
// start works; if a later V8 stopped reading one, the agent would only use more memory, as before.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's full collection, callable without --expose-gc: the flag, set now, gives a new context `gc`. */
export function fullCollection(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
