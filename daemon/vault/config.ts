// The per-vault config file (docs/FORMAT.md §7): raw gzip of JSON at
// `${XDG_CONFIG_HOME:-~/.config}/vsync/<repo>/env_<env>`, mode 0600 in 0700 folders. It names the store and
// holds the salt; it never holds the key or S3 credentials, so a teammate can be handed a copy.
import { chmod, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, posix } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { toVsyncError } from '../../shared/error-conversion.js';
import { describeIssues } from '../../shared/validation.js';
import { isSaltText } from '../crypto/key.js';
import { nameProblem } from '../bundle/entry-names.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { makeFolders } from '../fs/make-folders.js';

/** A folder inside the repo, by the same rules as the names inside a bundle (so a pull can always land). */
const isRepoRelativeFolder = (path: string): boolean => nameProblem(path) === undefined;

// Bucket names as S3 allows them (3-63 characters, lower-case letters, digits, dots and hyphens).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const S3Block = z.looseObject({
  bucket: z.string().regex(BUCKET, 'must be an S3 bucket name: 3-63 characters of a-z, 0-9, "." and "-"'),
  region: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a region name like eu-west-1')
    .optional(),
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._/-]{0,256}$/, 'may hold only A-Z, a-z, 0-9, ".", "_", "-" and "/"')
    .optional(),
  forcePathStyle: z.boolean().optional(),
});

/** A bundle cap (limits.ts) as a config or the agent's environment may raise or lower it. */
export const capSetting = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

const DirBlock = z.looseObject({
  kind: z.literal('dir'),
  root: z.string().refine(isAbsolute, 'must be an absolute path'),
});

export const ConfigSchema = z
  .looseObject({
    version: z.literal(1, {
      error: (issue) => `version ${JSON.stringify(issue.input)} is not supported by this vsync (it reads version 1); upgrade vsync`,
    }),
    s3: S3Block.optional(),
    store: DirBlock.optional(),
    encryption: z.looseObject({
      salt: z.string().refine(isSaltText, 'must be 16 to 18 bytes as standard base64 text'),
      keyCheck: z
        .string()
        .regex(/^[A-Za-z0-9+/]{22}==$/, 'must be the 24-character keyCheck vsync writes')
        .optional(),
    }),
    limits: z
      .looseObject({
        maxEntries: capSetting.optional(),
        maxEntryBytes: capSetting.optional(),
        maxTotalBytes: capSetting.optional(),
      })
      .optional(),
    files: z
      .looseObject({
        vaultFolder: z
          .string()
          .refine(isRepoRelativeFolder, 'must be a folder inside the repo, like infra/vault/dev (relative, no ".." or ".")'),
      })
      .optional(),
  })
  .refine((c) => (c.s3 === undefined) !== (c.store === undefined), {
    message: 'name exactly one store: "s3" (a bucket) or "store" (a local folder)',
    path: ['s3'],
  });

export type Config = z.infer<typeof ConfigSchema>;

/** The vault folder relative to the repo root: `files.vaultFolder`, else `infra/vault/<env>`. */
export function vaultFolderOf(config: Config, env: string): string {
  return config.files?.vaultFolder ?? posix.join('infra', 'vault', env);
}

const MAX_CONFIG_BYTES = 1 << 20;

export function parseConfig(bytes: Buffer, file: string): Config {
  let json: unknown;
  try {
    // A config is a few hundred bytes and travels between teammates: a gzip bomb must not exhaust memory.
    json = JSON.parse(gunzipSync(bytes, { maxOutputLength: MAX_CONFIG_BYTES }).toString('utf8'));
  } catch (cause) {
    const what = isErrno(cause, 'ERR_BUFFER_TOO_LARGE')
      ? `larger than ${MAX_CONFIG_BYTES} bytes once unzipped`
      : bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
        ? 'gzip data that is not JSON'
        : 'not gzip data';
    throw new VsyncError('CONFIG_INVALID', `${file}: ${what}`, { cause });
  }
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) throw new VsyncError('CONFIG_INVALID', `${file}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export async function readConfig(file: string): Promise<Config> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new VsyncError('CONFIG_NOT_FOUND', file, { cause: err });
    // A disk or a permission saying no is not a broken config: re-running init would not cure it.
    const refused = toVsyncError(err);
    if (isVsyncError(refused, 'FILE_SYSTEM_REFUSED')) throw refused;
    throw new VsyncError('CONFIG_INVALID', `${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
  }
  return parseConfig(bytes, file);
}

/**
 * Validates, then writes atomically: mode 0600, and the file's folder and its parent (the `vsync` config
 * root) made 0700. Bad input never reaches the disk.
 */
export async function writeConfig(file: string, config: Config): Promise<void> {
  const parsed = ConfigSchema.safeParse(config);
  if (!parsed.success) throw new VsyncError('CONFIG_INVALID', `refusing to write ${file}: ${describeIssues(parsed.error)}`);
  const repoFolder = dirname(file);
  await makeFolders(repoFolder, 0o700);
  // mkdir leaves existing folders as they were; these two hold every vault's config and backups.
  await chmod(dirname(repoFolder), 0o700);
  await chmod(repoFolder, 0o700);
  await writeFileAtomic(file, gzipSync(Buffer.from(JSON.stringify(parsed.data), 'utf8')), 0o600);
}
