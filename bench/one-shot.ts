// What vsync would cost without the agent: a new process that loads the SDK, reads the key, derives it,
// and runs one push or pull. `node dist/bench/one-shot.js push|pull <cwd> <env>`, keys from VSYNC_KEY.
import { keychainFor, storageFactory } from '../daemon/adapters.js';
import { KeyRing } from '../daemon/vault/key-ring.js';
import { VaultService } from '../daemon/vault/vault-service.js';
import { silent } from '../shared/progress.js';

const [mode, cwd, env] = process.argv.slice(2) as [string, string, string];
const keychain = keychainFor(process.env);
const service = new VaultService({
  storageFor: storageFactory(),
  keychain,
  keys: new KeyRing(keychain),
  environment: process.env,
  now: () => new Date(),
});
if (mode === 'push') await service.push(cwd, env, {}, silent);
else await service.pull(cwd, env, {}, silent);
