// What an S3 failure says to the user: the contract's class (storage.ts), the cause in the detail, and a hint
// for that cause. Which class decides what happens next, so the classes stay few: a store out of reach for
// now (refused, unresolvable, unreachable, timed out) is STORAGE_TRANSIENT, which RetryingStorage retries
// (a few times, within its budget), a push on save tries again later and `vsync run --offline-ok` falls back
// from; what no retry cures (TLS, a bad request) is STORAGE_PERMANENT; the three failures a newcomer meets
// first and fixes in different places have codes of their own: STORAGE_BUCKET_NOT_FOUND (create the
// bucket), STORAGE_NO_CREDENTIALS (give the agent some), STORAGE_CREDENTIALS_REFUSED (fix the ones it has).
// Shapes are the SDK's (3.x, its node-http-handler) and Node's own socket and TLS errors; nothing here loads
// the SDK.
import { VsyncError } from '../../shared/errors.js';

/** Where the adapter was talking to, for the hints: the vault's S3 settings. */
export interface S3Target {
  readonly bucket?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

interface SdkFailure {
  name?: string;
  code?: string;
  message?: string;
  hostname?: string;
  address?: string;
  port?: number;
  $metadata?: { httpStatusCode?: number };
}

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict', // S3: a concurrent conditional write is in flight; the retry decides
]);

// Node's TLS verdicts on a certificate (tls.TLSSocket#authorizationError, and checkServerIdentity's).
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in a self-signed certificate this machine does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is signed by an authority this machine does not know',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate is signed by an authority this machine does not know',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is signed by an authority this machine does not know',
  CERT_UNTRUSTED: 'the certificate is not trusted',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  CERT_SIGNATURE_FAILURE: 'the certificate signature is invalid',
  CERT_REVOKED: 'the certificate was revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: "the certificate is for another host name than the endpoint's",
  HOSTNAME_MISMATCH: "the certificate is for another host name than the endpoint's",
};

/** The host (and port) the requests go to: the endpoint's, else AWS's for the region. */
export function s3Host(target: S3Target): string {
  if (target.endpoint) {
    try {
      const url = new URL(target.endpoint);
      return url.port ? `${url.hostname}:${url.port}` : url.hostname;
    } catch {
      return target.endpoint;
    }
  }
  return `s3.${target.region || 'us-east-1'}.amazonaws.com`;
}

/** How the endpoint was given, as the user would type it again. */
function endpointText(target: S3Target): string {
  return target.endpoint ? `the endpoint ${target.endpoint}` : `the region ${target.region || 'us-east-1'} (AWS: ${s3Host(target)})`;
}

/** The command that creates the bucket where the vault looks for it. */
export function createBucketCommand(target: S3Target): string {
  const bucket = target.bucket || '<bucket>';
  if (target.endpoint) return `aws --endpoint-url ${target.endpoint} s3api create-bucket --bucket ${bucket}`;
  return `aws s3 mb s3://${bucket} --region ${target.region || 'us-east-1'}`;
}

/** A connection-level failure (no HTTP answer): its class, detail and hint; undefined for anything else. */
function connectionFailure(e: SdkFailure, what: string, target: S3Target, err: unknown): VsyncError | undefined {
  const code = e.code ?? '';
  const host = s3Host(target);
  const transient = (detail: string, hint: string) => new VsyncError('STORAGE_TRANSIENT', `${what}: ${detail}`, { cause: err, hint });
  const where = e.address ? `${e.address}${e.port ? `:${e.port}` : ''}` : host;
  switch (code) {
    case 'ECONNREFUSED':
      return transient(
        `connection refused by ${where} (ECONNREFUSED)`,
        `nothing listens at ${host}: is the S3 server running there? Check the host and port of ${endpointText(target)}`,
      );
    case 'ENOTFOUND':
      return transient(
        `cannot resolve host ${e.hostname ?? host} (ENOTFOUND)`,
        target.endpoint
          ? `check the spelling of the endpoint ${target.endpoint} (\`--endpoint\` of \`vsync init\`), and that this machine's DNS (or VPN) knows its host`
          : `check the spelling of the region (${target.region || 'us-east-1'}, \`--region\`) and of the bucket, which AWS puts in the host name`,
      );
    case 'EAI_AGAIN':
      return transient(
        `cannot resolve host ${e.hostname ?? host}: the DNS server did not answer (EAI_AGAIN)`,
        'check that this machine is online and its DNS answers, then try again',
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return transient(
        `no route to ${where} (${code})`,
        `check that this machine is online and may reach ${host} (a firewall, a VPN not connected)`,
      );
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return transient(`the connection to ${host} was broken (${code})`, 'check the network and the endpoint, then try again');
  }
  if (e.name === 'TimeoutError' || code === 'ETIMEDOUT') {
    const connecting = /establish a connection/.test(e.message ?? '');
    return transient(
      connecting ? `no connection to ${host} could be made in time (timed out)` : `${host} did not answer in time (timed out)`,
      connecting
        ? `check that ${host} is reachable from this machine (a firewall, a VPN not connected) and that ${endpointText(target)} is right`
        : 'the server is slow or the network is; try again',
    );
  }
  const problem = CERTIFICATE_PROBLEMS[code];
  if (problem !== undefined) {
    return new VsyncError('STORAGE_PERMANENT', `${what}: TLS with ${host} failed: ${problem} (${code})`, {
      cause: err,
      hint: `the endpoint's certificate is not one this machine trusts: give the agent its CA (NODE_EXTRA_CA_CERTS=<ca.pem> where the agent starts, then \`vsync daemon stop\`), fix the certificate, or for a local server without TLS give the endpoint as http://`,
    });
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || /wrong version number|SSL routines/i.test(e.message ?? '')) {
    const plain = /wrong version number|http request/i.test(e.message ?? '');
    return new VsyncError(
      'STORAGE_PERMANENT',
      `${what}: TLS with ${host} failed: ${plain ? 'the server does not speak TLS' : 'the TLS handshake failed'} (${code || 'TLS'})`,
      {
        cause: err,
        hint: plain
          ? `the endpoint says https:// but the server answers plain HTTP: give it as http://${host} (a local server), or turn on TLS at the server`
          : `check that ${endpointText(target)} speaks TLS (https://) with a certificate and protocol version this machine accepts`,
      },
    );
  }
  return undefined;
}

/** Credentials the server did not take, by the name of its answer; undefined for any other answer. */
function credentialsRefused(name: string, status: number | undefined): string | undefined {
  switch (name) {
    case 'InvalidAccessKeyId':
      return 'the server knows no such access key id: check AWS_ACCESS_KEY_ID (or the AWS_PROFILE in use) is a key made for this endpoint';
    case 'SignatureDoesNotMatch':
      return 'the secret does not match the access key id: check AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE in use) is the secret of that key, for this endpoint';
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
    case 'InvalidToken':
      return 'the session token has expired or is not valid: get fresh credentials (`aws sso login`, or new AWS_SESSION_TOKEN), then `vsync daemon stop` if they are in the environment';
    case 'AccessDenied':
    case 'AllAccessDisabled':
    case 'AccountProblem':
      return 'the credentials are valid but not allowed this bucket: check the bucket policy or IAM permissions (s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket)';
  }
  return status === 403
    ? 'check the access key id and secret are the ones for this endpoint, and that they may read and write the bucket'
    : undefined;
}

/** Classes an SDK failure into the contract's errors, naming its cause; `target` words the hints. */
export function classifyS3Error(err: unknown, what: string, target: S3Target = {}): VsyncError {
  const e = (err ?? {}) as SdkFailure;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const label = `${what}: ${name}${status ? ` (HTTP ${status})` : ''}`;
  if (status === 501 || name === 'NotImplemented') {
    return new VsyncError('STORAGE_PERMANENT', label, {
      cause: err,
      hint: 'the server does not implement this request; vsync needs an S3 server with conditional writes (If-None-Match, If-Match)',
    });
  }
  if (status === 412 || name === 'PreconditionFailed') {
    return new VsyncError('STORAGE_PRECONDITION_FAILED', label, { cause: err });
  }
  if (name === 'NoSuchBucket') {
    const answer = `${what}: ${name}${status ? `, HTTP ${status}` : ''}`;
    return new VsyncError(
      'STORAGE_BUCKET_NOT_FOUND',
      `${target.bucket ? `bucket ${target.bucket}` : 'the bucket'} at ${s3Host(target)} (${answer})`,
      {
        cause: err,
        hint: `vsync never creates a bucket: create it with \`${createBucketCommand(target)}\`, or correct the bucket, region or endpoint in the config`,
      },
    );
  }
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') {
    return new VsyncError('STORAGE_NOT_FOUND', what, { cause: err });
  }
  if (name === 'CredentialsProviderError' || name === 'TokenProviderError') {
    // The SDK's message says which link of its chain gave up ("Could not load credentials from any
    // providers", "Profile x could not be found"); it holds no secret.
    const why = (e.message ?? '').split('\n')[0]!.slice(0, 200);
    return new VsyncError('STORAGE_NO_CREDENTIALS', `${what}: ${name}${why ? `: ${why}` : ''}`, { cause: err });
  }
  if (name === 'RequestTimeTooSkewed') {
    return new VsyncError('STORAGE_CLOCK_SKEWED', `${label}: the store refused a request signed by this clock`, { cause: err });
  }
  const refused = credentialsRefused(name, status);
  if (refused !== undefined) return new VsyncError('STORAGE_CREDENTIALS_REFUSED', label, { cause: err, hint: refused });
  if (status === undefined) {
    const unreachable = connectionFailure(e, what, target, err);
    if (unreachable) return unreachable;
  }
  if (TRANSIENT_NAMES.has(name) || (status !== undefined && (status >= 500 || status === 429 || status === 408))) {
    return new VsyncError('STORAGE_TRANSIENT', label, { cause: err });
  }
  return new VsyncError('STORAGE_PERMANENT', label, { cause: err });
}
