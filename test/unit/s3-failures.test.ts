// The cause of an S3 failure, and its hint (daemon/storage/s3-failures.ts): each unreachable endpoint, TLS
// failure, missing or refused credentials and missing bucket in the shapes Node and the SDK raise them; that
// RetryingStorage retries what may pass (a refused connection: a few times, then the cause) and not the rest;
// and that a directory store's failures speak of its folder, never of buckets or credentials.
import t from 'tap';
import { classifyS3Error } from '../../daemon/storage/s3-failures.js';
import { folderHint } from '../../daemon/storage/dir-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import type { Storage } from '../../daemon/storage/storage.js';
import type { VsyncError } from '../../shared/errors.js';

const sdk = (name: string, status?: number, message = 'UnknownError') =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
const sys = (code: string, extra: Record<string, unknown> = {}, message = code) => Object.assign(new Error(message), { code, ...extra });
const local = { bucket: 'team-secrets', endpoint: 'http://127.0.0.1:7480', region: 'us-east-1' };
const aws = { bucket: 'team-secrets', region: 'eu-west-1' };

type Case = [string, unknown, object, string, RegExp, RegExp];
const cases: Case[] = [
  [
    'connection refused',
    sys('ECONNREFUSED', { address: '127.0.0.1', port: 7480, syscall: 'connect' }),
    local,
    'STORAGE_TRANSIENT',
    /: connection refused by 127\.0\.0\.1:7480 \(ECONNREFUSED\)$/,
    /^nothing listens at 127\.0\.0\.1:7480: is the S3 server running there\? Check the host and port of the endpoint http:\/\/127\.0\.0\.1:7480$/,
  ],
  [
    'DNS: no such host (an endpoint)',
    sys('ENOTFOUND', { hostname: 'rgw.exmaple.com', syscall: 'getaddrinfo' }),
    { ...local, endpoint: 'https://rgw.exmaple.com' },
    'STORAGE_TRANSIENT',
    /: cannot resolve host rgw\.exmaple\.com \(ENOTFOUND\)$/,
    /spelling of the endpoint https:\/\/rgw\.exmaple\.com \(`--endpoint`/,
  ],
  [
    'DNS: no such host (AWS, a misspelt region)',
    sys('ENOTFOUND', { hostname: 'team-secrets.s3.eu-wst-1.amazonaws.com' }),
    { ...aws, region: 'eu-wst-1' },
    'STORAGE_TRANSIENT',
    /cannot resolve host team-secrets\.s3\.eu-wst-1\.amazonaws\.com \(ENOTFOUND\)$/,
    /spelling of the region \(eu-wst-1, `--region`\) and of the bucket/,
  ],
  [
    'DNS: no answer',
    sys('EAI_AGAIN', { hostname: 's3.eu-west-1.amazonaws.com' }),
    aws,
    'STORAGE_TRANSIENT',
    /the DNS server did not answer \(EAI_AGAIN\)$/,
    /online and its DNS answers/,
  ],
  [
    'no route',
    sys('EHOSTUNREACH', { address: '10.0.0.9', port: 443 }),
    local,
    'STORAGE_TRANSIENT',
    /no route to 10\.0\.0\.9:443 \(EHOSTUNREACH\)$/,
    /firewall, a VPN not connected/,
  ],
  [
    'no connection within the connection timeout',
    sdk(
      'TimeoutError',
      undefined,
      '@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 5000 ms.',
    ),
    local,
    'STORAGE_TRANSIENT',
    /no connection to 127\.0\.0\.1:7480 could be made in time \(timed out\)$/,
    /reachable from this machine/,
  ],
  [
    'no answer within the request timeout',
    Object.assign(sdk('TimeoutError', undefined, 'a request has exceeded the configured 30000 ms requestTimeout'), { code: 'ETIMEDOUT' }),
    local,
    'STORAGE_TRANSIENT',
    /127\.0\.0\.1:7480 did not answer in time \(timed out\)$/,
    /slow/,
  ],
  [
    'TLS: self-signed',
    sys('DEPTH_ZERO_SELF_SIGNED_CERT', {}, 'self-signed certificate'),
    { ...local, endpoint: 'https://rgw.local:7443' },
    'STORAGE_PERMANENT',
    /TLS with rgw\.local:7443 failed: the certificate is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/,
    /NODE_EXTRA_CA_CERTS.*http:\/\//,
  ],
  [
    'TLS: unknown authority',
    sys('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    { ...local, endpoint: 'https://rgw.local' },
    'STORAGE_PERMANENT',
    /the certificate is signed by an authority this machine does not know \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/,
    /NODE_EXTRA_CA_CERTS/,
  ],
  [
    'TLS: another name',
    sys('ERR_TLS_CERT_ALTNAME_INVALID'),
    { ...local, endpoint: 'https://10.1.1.1' },
    'STORAGE_PERMANENT',
    /for another host name than the endpoint's \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    /certificate/,
  ],
  [
    'TLS: expired',
    sys('CERT_HAS_EXPIRED'),
    { ...local, endpoint: 'https://rgw.local' },
    'STORAGE_PERMANENT',
    /the certificate has expired \(CERT_HAS_EXPIRED\)$/,
    /certificate/,
  ],
  [
    'TLS spoken to plain HTTP',
    sys('EPROTO', { syscall: 'write' }, 'write EPROTO 80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'),
    { ...local, endpoint: 'https://127.0.0.1:7480' },
    'STORAGE_PERMANENT',
    /TLS with 127\.0\.0\.1:7480 failed: the server does not speak TLS \(EPROTO\)$/,
    /give it as http:\/\/127\.0\.0\.1:7480/,
  ],
  [
    'no credentials at all',
    Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
    aws,
    'STORAGE_NO_CREDENTIALS',
    /: CredentialsProviderError: Could not load credentials from any providers$/,
    /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE \(`aws configure`/,
  ],
  [
    'a profile that does not exist',
    Object.assign(new Error('Profile teamx could not be found or parsed in shared credentials file.'), {
      name: 'CredentialsProviderError',
    }),
    aws,
    'STORAGE_NO_CREDENTIALS',
    /Profile teamx could not be found/,
    /AWS_PROFILE/,
  ],
  [
    'an unknown key id',
    sdk('InvalidAccessKeyId', 403),
    local,
    'STORAGE_CREDENTIALS_REFUSED',
    /InvalidAccessKeyId \(HTTP 403\)$/,
    /no such access key id/,
  ],
  [
    'a wrong secret',
    sdk('SignatureDoesNotMatch', 403),
    local,
    'STORAGE_CREDENTIALS_REFUSED',
    /SignatureDoesNotMatch/,
    /AWS_SECRET_ACCESS_KEY/,
  ],
  ['an expired token', sdk('ExpiredToken', 400), aws, 'STORAGE_CREDENTIALS_REFUSED', /ExpiredToken/, /session token has expired/],
  ['access denied', sdk('AccessDenied', 403), aws, 'STORAGE_CREDENTIALS_REFUSED', /AccessDenied/, /bucket policy or IAM/],
  ['a bare 403', sdk('Forbidden', 403), aws, 'STORAGE_CREDENTIALS_REFUSED', /Forbidden \(HTTP 403\)/, /access key id and secret/],
  [
    'no such bucket (another server)',
    sdk('NoSuchBucket', 404),
    local,
    'STORAGE_BUCKET_NOT_FOUND',
    /^the bucket does not exist: bucket team-secrets at 127\.0\.0\.1:7480 \(acme\/dev\/latest: NoSuchBucket, HTTP 404\)$/,
    /`aws --endpoint-url http:\/\/127\.0\.0\.1:7480 s3api create-bucket --bucket team-secrets`/,
  ],
  [
    'no such bucket (AWS)',
    sdk('NoSuchBucket', 404),
    aws,
    'STORAGE_BUCKET_NOT_FOUND',
    /bucket team-secrets at s3\.eu-west-1\.amazonaws\.com/,
    /`aws s3 mb s3:\/\/team-secrets --region eu-west-1`/,
  ],
  ['a clock too far off', sdk('RequestTimeTooSkewed', 403), aws, 'STORAGE_CLOCK_SKEWED', /RequestTimeTooSkewed/, /set the clock right/],
];

for (const [name, err, target, code, message, hint] of cases) {
  const mapped = classifyS3Error(err, 'acme/dev/latest', target);
  t.equal(mapped.code, code, name);
  t.match(mapped.message, message, `${name}: message`);
  t.match(mapped.hint, hint, `${name}: hint`);
  t.equal(mapped.cause, err, `${name}: keeps the cause`);
}

t.test('every new code is the cause, not a guess: none of them hints at another', async (t) => {
  const noCreds = classifyS3Error(Object.assign(new Error('x'), { name: 'CredentialsProviderError' }), 'k', aws);
  t.notMatch(noCreds.hint, /bucket/);
  const refused = classifyS3Error(sys('ECONNREFUSED', { address: '127.0.0.1', port: 1 }), 'k', local);
  t.notMatch(refused.hint, /credential|bucket/i);
  const tls = classifyS3Error(sys('DEPTH_ZERO_SELF_SIGNED_CERT'), 'k', local);
  t.notMatch(tls.hint, /credential|bucket/i);
});

/** An adapter whose every call fails with `error`, counting the calls. */
function failing(error: () => VsyncError): Storage & { calls: number } {
  const stub = {
    calls: 0,
    describe: (key: string) => key,
  } as unknown as Storage & { calls: number };
  for (const method of ['get', 'getIfChanged', 'download', 'head', 'put', 'putIfAbsent', 'putIfMatch', 'list', 'delete']) {
    (stub as unknown as Record<string, unknown>)[method] = async () => {
      stub.calls++;
      throw error();
    };
  }
  return stub;
}

t.test('retrying: a refused connection a few times, bounded, then its cause; credentials and buckets not at all', async (t) => {
  const refused = failing(() => classifyS3Error(sys('ECONNREFUSED', { address: '127.0.0.1', port: 9 }), 'k', local));
  const retries: number[] = [];
  const retrying = new RetryingStorage(refused, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, onRetry: (_w, n) => retries.push(n) });
  await t.rejects(retrying.get('acme/dev/latest'), { code: 'STORAGE_TRANSIENT', message: /connection refused by 127\.0\.0\.1:9/ });
  t.same(retries, [1, 2], 'retried within its attempts');
  t.equal(refused.calls, 3);

  for (const [name, err] of [
    ['no credentials', Object.assign(new Error('none'), { name: 'CredentialsProviderError' })],
    ['refused credentials', sdk('SignatureDoesNotMatch', 403)],
    ['no bucket', sdk('NoSuchBucket', 404)],
    ['TLS', sys('DEPTH_ZERO_SELF_SIGNED_CERT')],
  ] as const) {
    const store = failing(() => classifyS3Error(err, 'k', local));
    let retried = false;
    const once = new RetryingStorage(store, { attempts: 4, baseDelayMs: 1, maxDelayMs: 2, onRetry: () => (retried = true) });
    await t.rejects(once.get('acme/dev/latest'));
    t.equal(store.calls, 1, `${name}: one attempt`);
    t.notOk(retried, `${name}: not retried`);
  }
});

t.test("a directory store's hints are about its folder, never buckets or credentials", async (t) => {
  const root = '/srv/vsync-store';
  const expected: Record<string, RegExp> = {
    EACCES: /may not read or write the store folder \/srv\/vsync-store .*ls -ld \/srv\/vsync-store/,
    EPERM: /may not read or write/,
    EROFS: /read-only file system: mount it read-write; .*ReadWritePaths=/,
    ENOSPC: /the disk that holds the store folder \/srv\/vsync-store is full/,
    EDQUOT: /quota/,
    ENOTDIR: /a file stands where a folder of the store should be/,
    EEXIST: /a file stands where a folder of the store should be/,
    ENOENT: /is missing: is the drive or network share it lives on mounted\?/,
    EIO: /check the store folder \/srv\/vsync-store/,
  };
  for (const [code, hint] of Object.entries(expected)) {
    const said = folderHint(code, root);
    t.match(said, hint, code);
    t.notMatch(said, /bucket|credential|AWS/i, `${code}: nothing about S3`);
  }
});
