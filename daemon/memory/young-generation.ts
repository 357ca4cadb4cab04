// Imported first by main.ts, for its side effect, before the agent's other modules load and allocate: keeps
// V8's young generation at its starting size (two semi-spaces of 1 MiB) instead of letting it grow to 16 MiB
// each, first while fastify and zod load and then under a large push or pull, and stay there. Measured with
// `npm run bench -- --growth`: an idle agent ~6 MiB smaller, and 20-27 MiB less RSS after a large operation;
// streams' buffers live outside the heap, so operations are no slower for it. Set from inside the process
// (see v8-heap.ts for why); V8 reads this flag each time it would grow the space.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
