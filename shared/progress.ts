// What a long operation reports while it runs: the product page's step lines (`[1/5] zipping …`), the
// lines printed under a step (`→ <backup path>`), and warnings. The agent streams these as NDJSON; the
// client prints them as they come.
import { z } from 'zod';

export const ProgressEventSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('step'), n: z.number().int().positive(), of: z.number().int().positive(), text: z.string() }),
  z.strictObject({ kind: z.literal('detail'), text: z.string() }),
  z.strictObject({ kind: z.literal('warning'), text: z.string() }),
]);

export type ProgressEvent = z.infer<typeof ProgressEventSchema>;
export type Progress = (event: ProgressEvent) => void;

export const silent: Progress = () => undefined;
