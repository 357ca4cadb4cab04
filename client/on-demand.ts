// Node's modules that only some commands use, loaded when first asked for. They are outside Node's start-up
// snapshot, so loading one costs start-up time (node:net ~5 % of `node -e 0`), and `vsync
// --version` or a usage error should not pay for a request it never makes. require(), not import(): in the
// CommonJS bundle an import() would first start Node's ES module loader, which costs about as much again.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const onDemand = {
  net: () => load('node:net') as typeof import('node:net'),
  childProcess: () => load('node:child_process') as typeof import('node:child_process'),
  fsPromises: () => load('node:fs/promises') as typeof import('node:fs/promises'),
};
