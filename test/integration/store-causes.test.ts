// A store that cannot be used says why, with the real CLI and a real agent: an S3 endpoint that refuses the
// connection, a host name that does not resolve, TLS that fails (https:// spoken to a plain-HTTP server; a
// self-signed certificate; a certificate for another name), no credentials anywhere, credentials the server
// refuses, a bucket that does not exist; and a directory store whose folder cannot be written, whose hint is
// about the folder. Each: its code, its cause in the message, its own hint, its exit code, and the store
// left as it was (doctor's scratch object included).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { generateKey } from '../../daemon/crypto/key.js';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { exitCodes } from '../../shared/errors.js';
import { vsync } from '../helpers/cli.js';
import { keyUser, lines, repoName } from '../helpers/doctor-users.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { bucketStatus, createBucket, shareConfig } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

// Credentials for a server that never checks them (every S3 request here fails before any is looked at),
// so that the machine's own (or RGW's) play no part.
const SOME_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-checked', AWS_EC2_METADATA_DISABLED: 'true' };

/** A port nothing listens on: listened on, then closed. */
async function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A server on 127.0.0.1 that answers every request 500 (never reached when TLS fails first), counting them. */
async function listening(server: Server): Promise<{ port: number; requests: () => number }> {
  let count = 0;
  server.on('request', (_req, res) => {
    count++;
    res.statusCode = 500;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as { port: number }).port, requests: () => count };
}

/**
 * A user whose agent has `env` (and a key of its own), and whose CLI runs with the same environment: the CLI
 * refuses an agent started with another one than the command has.
 */
async function causeUser(t: TestContext, base: string, name: string, repo: string, env: Record<string, string> = {}) {
  const agentEnv = { VSYNC_KEY: generateKey(), ...env };
  const u = await keyUser(t, base, name, repo, agentEnv);
  const cli = (args: string[]) => vsync(args, { cwd: u.repo, env: { ...u.env, ...agentEnv } });
  return { ...u, cli, envFile: () => u.envFile() };
}

const initS3 = (endpoint: string, bucket = 'vsync-causes') => [
  'init',
  'dev',
  '--bucket',
  bucket,
  '--endpoint',
  endpoint,
  '--region',
  'us-east-1',
  '--path-style',
];

/** `vsync push dev` and `vsync doctor dev` against a vault on `endpoint`, for one user with `env` in the agent. */
async function pushAndDoctor(t: TestContext, name: string, endpoint: string, env: Record<string, string> = SOME_CREDENTIALS) {
  const { base, cleanup } = tempBase(`vsync-causes-${name}-`);
  t.teardown(cleanup);
  const repo = repoName();
  const u = await causeUser(t, base, name, repo, env);
  const init = await u.cli(initS3(endpoint));
  t.equal(init.code, 0, init.stderr);
  writeFileSync(u.envFile(), 'A=1\n');
  const push = await u.cli(['push', 'dev']);
  t.equal(readFileSync(u.envFile(), 'utf8'), 'A=1\n', 'the vault folder is as it was');
  const doctor = await u.cli(['doctor', 'dev']);
  return { u, repo, push, doctor, store: lines(doctor.stdout).slice(4, 6) };
}

/** The doctor's store lines after a store that failed the read: the checks that need it are skipped. */
const READ_FAILED = [
  'skip  clock          the store cannot be read',
  'skip  if-none-match  the store cannot be read',
  'skip  if-match       the store cannot be read',
  '❌ 1 check failed: store',
];
const TRANSIENT = 'the store did not answer in time or answered with a temporary failure';

/** The error push printed, and the doctor's store check: the same message and hint. */
function sameInBoth(t: TestContext, run: Awaited<ReturnType<typeof pushAndDoctor>>, message: RegExp, hint: string, exit: number) {
  t.equal(run.push.code, exit, run.push.stderr);
  const [error, said] = run.push.stderr.trimEnd().split('\n');
  t.match(error, new RegExp(`^vsync: error: ${message.source}$`));
  t.equal(said, `vsync: hint: ${hint}`);
  t.equal(run.doctor.code, exit);
  t.match(run.store[0], new RegExp(`^fail  store {10}${message.source}$`));
  t.equal(run.store[1], `                     hint: ${hint}`);
  t.same(lines(run.doctor.stdout).slice(6), READ_FAILED);
}

t.test('an endpoint that refuses the connection: retried, then named with its host and port', async (t) => {
  const port = await freePort();
  const run = await pushAndDoctor(t, 'refused', `http://127.0.0.1:${port}`);
  sameInBoth(
    t,
    run,
    new RegExp(`${TRANSIENT}: ${run.repo}/dev/latest: connection refused by 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
    `nothing listens at 127.0.0.1:${port}: is the S3 server running there? Check the host and port of the endpoint http://127.0.0.1:${port}`,
    exitCodes.storage,
  );
});

t.test('a host name that does not resolve: named, with a hint about the spelling', async (t) => {
  const run = await pushAndDoctor(t, 'dns', 'http://vsync-no-such-host.invalid:9000');
  sameInBoth(
    t,
    run,
    new RegExp(`${TRANSIENT}: ${run.repo}/dev/latest: cannot resolve host vsync-no-such-host\\.invalid \\((ENOTFOUND|EAI_AGAIN)\\)`),
    /ENOTFOUND/.test(run.push.stderr)
      ? "check the spelling of the endpoint http://vsync-no-such-host.invalid:9000 (`--endpoint` of `vsync init`), and that this machine's DNS (or VPN) knows its host"
      : 'check that this machine is online and its DNS answers, then try again',
    exitCodes.storage,
  );
});

t.test('https:// to a plain-HTTP server: TLS fails, with a hint to say http://', async (t) => {
  const server = createHttpServer();
  t.teardown(() => server.close());
  const { port, requests } = await listening(server);
  const run = await pushAndDoctor(t, 'plain', `https://127.0.0.1:${port}`);
  sameInBoth(
    t,
    run,
    new RegExp(
      `the store refused the request: ${run.repo}/dev/latest: TLS with 127\\.0\\.0\\.1:${port} failed: the server does not speak TLS \\(EPROTO\\)`,
    ),
    `the endpoint says https:// but the server answers plain HTTP: give it as http://127.0.0.1:${port} (a local server), or turn on TLS at the server`,
    exitCodes.storage,
  );
  t.equal(requests(), 0, 'no request got through');
});

/** A certificate for localhost, made for this test (self-signed, so also its own CA). */
function certificate(base: string): { key: Buffer; cert: Buffer; certFile: string } {
  const key = join(base, 'tls-key.pem');
  const certFile = join(base, 'tls-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      certFile,
      '-days',
      '1',
    ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']),
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key), cert: readFileSync(certFile), certFile };
}

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

t.test(
  'a TLS server whose certificate this machine does not trust, or that names another host',
  { skip: !haveOpenssl && 'no openssl to make a certificate' },
  async (t) => {
    const { base, cleanup } = tempBase('vsync-causes-cert-');
    t.teardown(cleanup);
    const { key, cert, certFile } = certificate(base);
    const server = createHttpsServer({ key, cert });
    t.teardown(() => server.close());
    const { port, requests } = await listening(server as unknown as Server);
    const certHint =
      "the endpoint's certificate is not one this machine trusts: give the agent its CA (NODE_EXTRA_CA_CERTS=<ca.pem> where the agent starts, then `vsync daemon stop`), fix the certificate, or for a local server without TLS give the endpoint as http://";

    const selfSigned = await pushAndDoctor(t, 'selfsigned', `https://localhost:${port}`);
    sameInBoth(
      t,
      selfSigned,
      new RegExp(
        `the store refused the request: ${selfSigned.repo}/dev/latest: TLS with localhost:${port} failed: the certificate is self-signed \\(DEPTH_ZERO_SELF_SIGNED_CERT\\)`,
      ),
      certHint,
      exitCodes.storage,
    );

    // Trusted (its CA given to the agent), but asked for by another name than the one it holds.
    const other = await pushAndDoctor(t, 'altname', `https://127.0.0.1:${port}`, { ...SOME_CREDENTIALS, NODE_EXTRA_CA_CERTS: certFile });
    sameInBoth(
      t,
      other,
      new RegExp(
        `the store refused the request: ${other.repo}/dev/latest: TLS with 127\\.0\\.0\\.1:${port} failed: the certificate is for another host name than the endpoint's \\(ERR_TLS_CERT_ALTNAME_INVALID\\)`,
      ),
      certHint,
      exitCodes.storage,
    );
    t.equal(requests(), 0, 'no request got through');
  },
);

t.test('no credentials anywhere: told apart from refused ones, and nothing is sent', async (t) => {
  const server = createHttpServer();
  t.teardown(() => server.close());
  const { port, requests } = await listening(server);
  const { base, cleanup } = tempBase('vsync-causes-nocreds-');
  t.teardown(cleanup);
  const missing = join(base, 'no-such-aws-file');
  const run = await pushAndDoctor(t, 'nocreds', `http://127.0.0.1:${port}`, {
    // The agent's HOME has no ~/.aws; whatever this process has is blanked (the SDK skips empty values).
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_SHARED_CREDENTIALS_FILE: missing,
    AWS_CONFIG_FILE: missing,
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  t.notOk(existsSync(join(run.u.home, '.aws')), 'no ~/.aws');
  sameInBoth(
    t,
    run,
    new RegExp(`no AWS credentials were found for the S3 store: ${run.repo}/dev/latest: CredentialsProviderError: .+`),
    'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (`aws configure` writes ~/.aws/credentials), where the agent starts; then `vsync daemon stop`, so that the next command starts an agent that sees them',
    exitCodes.storage,
  );
  t.equal(requests(), 0, 'nothing was sent');
});

t.test('a directory store whose folder cannot be written: doctor fails the store with a folder hint, and leaves nothing', async (t) => {
  const { base, cleanup } = tempBase('vsync-causes-dir-');
  t.teardown(cleanup);
  const repo = repoName();
  const u = await causeUser(t, base, 'dirfile', repo);
  const store = join(base, 'store');
  mkdirSync(store);
  const init = await u.cli(['init', 'dev', '--store', store]);
  t.equal(init.code, 0, init.stderr);
  // Then a file where the store's folder was: reading finds nothing there, writing cannot make the folder.
  rmSync(store, { recursive: true });
  writeFileSync(store, 'not a folder\n');
  const doctor = await u.cli(['doctor', 'dev']);
  t.equal(doctor.code, exitCodes.storage);
  const out = lines(doctor.stdout);
  t.match(
    out[4],
    new RegExp(
      `^fail  store {10}file://${store}/${repo}/dev/ can be read, but a scratch object could not be written there: the store refused the request: creating the folder for ${repo}/dev/_doctor/[0-9a-f]{16}: (ENOTDIR|EEXIST)$`,
    ),
  );
  t.equal(
    out[5],
    `                     hint: a file stands where a folder of the store should be, at ${store} or under it: move that file away; the vault keeps its versions in this folder (\`vsync init <env> --store <folder>\` chose it; it is in the vault's config)`,
  );
  t.notMatch(doctor.stdout, /bucket|credential|AWS/i, 'nothing about S3');
  t.same(out.slice(6), [
    'skip  clock          the store cannot be written',
    'skip  if-none-match  the store cannot be written',
    'skip  if-match       the store cannot be written',
    '❌ 1 check failed: store',
  ]);
  t.equal(readFileSync(store, 'utf8'), 'not a folder\n', 'the file is as it was');

  // The folder made writable: the probe writes and removes its scratch object, and no file stays behind.
  const real = join(base, 'real-store');
  mkdirSync(real);
  const u2 = await causeUser(t, base, 'dirok', repo);
  t.equal((await u2.cli(['init', 'dev', '--store', real])).code, 0);
  const ok = await u2.cli(['doctor', 'dev']);
  t.equal(ok.code, 0, ok.stdout);
  const files = (folder: string): string[] =>
    readdirSync(folder, { withFileTypes: true, recursive: true })
      .filter((e) => !e.isDirectory())
      .map((e) => join(e.parentPath, e.name));
  t.same(files(real), [], 'no object, temp or lock file left in the store');
});

function rgw(t: TestContext): void {
  const endpoint = process.env.VSYNC_TEST_S3_ENDPOINT!;

  t.test('RGW: a bucket that does not exist is named, with the command that creates it; none is made', async (t) => {
    const bucket = `vsync-missing-${randomBytes(4).toString('hex')}`;
    const { base, cleanup } = tempBase('vsync-causes-nobucket-');
    t.teardown(cleanup);
    const repo = repoName();
    const u = await causeUser(t, base, 'nobucket', repo);
    t.equal((await u.cli(initS3(endpoint, bucket))).code, 0);
    writeFileSync(u.envFile(), 'A=1\n');
    const push = await u.cli(['push', 'dev']);
    const doctor = await u.cli(['doctor', 'dev']);
    const host = new URL(endpoint).host;
    sameInBoth(
      t,
      { u, repo, push, doctor, store: lines(doctor.stdout).slice(4, 6) },
      new RegExp(
        `the bucket does not exist: bucket ${bucket} at ${host.replace(/\./g, '\\.')} \\(${repo}/dev/latest: NoSuchBucket, HTTP 404\\)`,
      ),
      `vsync never creates a bucket: create it with \`aws --endpoint-url ${endpoint} s3api create-bucket --bucket ${bucket}\`, or correct the bucket, region or endpoint in the config`,
      exitCodes.storage,
    );
    t.equal(await bucketStatus(endpoint, bucket), 404, 'still no bucket');
  });

  t.test('RGW: a secret the server refuses is told apart from none, and the bucket is left empty', async (t) => {
    const bucket = await createBucket('vsync-causes');
    const { base, cleanup } = tempBase('vsync-causes-denied-');
    t.teardown(cleanup);
    const repo = repoName();
    const teamKey = generateKey();
    const a = await causeUser(t, base, 'owner', repo, { VSYNC_KEY: teamKey });
    t.equal((await a.cli(initS3(endpoint, bucket))).code, 0);
    const denied = await causeUser(t, base, 'denied', repo, { VSYNC_KEY: teamKey, AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    shareConfig(a, denied, repo);
    mkdirSync(join(denied.repo, 'infra', 'vault', 'dev'), { recursive: true });
    writeFileSync(denied.envFile(), 'B=2\n');
    const push = await denied.cli(['push', 'dev']);
    const doctor = await denied.cli(['doctor', 'dev']);
    sameInBoth(
      t,
      { u: denied, repo, push, doctor, store: lines(doctor.stdout).slice(4, 6) },
      new RegExp(`the S3 store refused these credentials: ${repo}/dev/latest: SignatureDoesNotMatch \\(HTTP 403\\)`),
      'the secret does not match the access key id: check AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE in use) is the secret of that key, for this endpoint',
      exitCodes.storage,
    );
    const s3 = new S3Storage({ bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
    t.teardown(() => s3.destroy());
    t.same(await s3.list(''), [], 'the bucket is as it was: empty');

    // The owner's doctor on the same bucket: its scratch object written and removed, nothing left.
    const ok = await a.cli(['doctor', 'dev']);
    t.equal(ok.code, 0, ok.stdout);
    t.same(await s3.list(''), [], 'no scratch object left');
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) rgw(t);
