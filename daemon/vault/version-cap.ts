// How large a version object the agent will download: VSYNC_MAX_VERSION_BYTES, 256 MiB by default. A vault
// version is a few KiB and the bundle caps (bundle/limits.ts) refuse anything near this once decrypted; the
// cap exists so that someone who can write the store cannot make the agent hold gigabytes before those
// checks run. It is judged on the size the store declares, and again on the bytes it actually sends.
import { constants } from 'node:buffer';
import { z } from 'zod';

export const VERSION_CAP_VARIABLE = 'VSYNC_MAX_VERSION_BYTES';
export const DEFAULT_MAX_VERSION_BYTES = 256 * 1024 * 1024;

/** The `latest` object holds 15 characters (and maybe a newline): anything past this is not a pointer. */
export const MAX_POINTER_BYTES = 1024;

/** The setting as daemon/main.ts reads it from the environment: a whole number of bytes, at least 1 KiB. */
export const MaxVersionBytesSetting = z.coerce
  .number()
  .int()
  .min(1024)
  // One Buffer holds the download; more than Node can allocate would fail later, and less helpfully.
  .max(Math.min(constants.MAX_LENGTH - 1, Number.MAX_SAFE_INTEGER));
