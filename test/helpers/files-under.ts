// What a folder holds, file by file, so that "unchanged" can be one comparison of two records.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir`: its path relative to `dir` (with `/`) → its bytes in `encoding`. */
export function filesUnder(dir: string, encoding: BufferEncoding = 'base64'): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), name);
      else out[name] = readFileSync(join(d, e.name)).toString(encoding);
    }
  };
  walk(dir, '');
  return out;
}
