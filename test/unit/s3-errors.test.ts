// How SDK failures map onto the storage contract's four errors. The shapes are what @aws-sdk/client-s3
// 3.x raises against Ceph RGW and AWS (names and statuses recorded on RGW in test/contract/s3-storage).
import t from 'tap';
import { classifyS3Error } from '../../daemon/storage/s3-failures.js';

const sdk = (name: string, status?: number) => Object.assign(new Error('UnknownError'), { name, $metadata: { httpStatusCode: status } });
const sys = (code: string) => Object.assign(new Error(code), { code });

const cases: Array<[string, unknown, string, RegExp?]> = [
  ['412 PreconditionFailed', sdk('PreconditionFailed', 412), 'STORAGE_PRECONDITION_FAILED'],
  ['404 NoSuchKey', sdk('NoSuchKey', 404), 'STORAGE_NOT_FOUND'],
  ['404 NotFound (HEAD)', sdk('NotFound', 404), 'STORAGE_NOT_FOUND'],
  ['404 NoSuchBucket', sdk('NoSuchBucket', 404), 'STORAGE_BUCKET_NOT_FOUND', /create it with/],
  ['403 AccessDenied', sdk('AccessDenied', 403), 'STORAGE_CREDENTIALS_REFUSED', /credentials/],
  ['403 SignatureDoesNotMatch', sdk('SignatureDoesNotMatch', 403), 'STORAGE_CREDENTIALS_REFUSED', /secret/],
  ['no credentials at all', sdk('CredentialsProviderError'), 'STORAGE_NO_CREDENTIALS', /AWS_ACCESS_KEY_ID/],
  ['501 NotImplemented', sdk('NotImplemented', 501), 'STORAGE_PERMANENT', /conditional writes/],
  ['500 from a lost race on RGW', sdk('UnknownError', 500), 'STORAGE_TRANSIENT'],
  ['503 SlowDown', sdk('SlowDown', 503), 'STORAGE_TRANSIENT'],
  ['429', sdk('TooManyRequests', 429), 'STORAGE_TRANSIENT'],
  ['409 ConditionalRequestConflict', sdk('ConditionalRequestConflict', 409), 'STORAGE_TRANSIENT'],
  ['timeout', sdk('TimeoutError'), 'STORAGE_TRANSIENT'],
  ['connection refused', sys('ECONNREFUSED'), 'STORAGE_TRANSIENT'],
  ['connection reset', sys('ECONNRESET'), 'STORAGE_TRANSIENT'],
  ['400 InvalidRequest', sdk('InvalidRequest', 400), 'STORAGE_PERMANENT'],
  ['a bug of ours', new TypeError('x is undefined'), 'STORAGE_PERMANENT'],
];

for (const [name, err, code, hint] of cases) {
  const mapped = classifyS3Error(err, 'acme/dev/latest');
  t.equal(mapped.code, code, name);
  if (hint) t.match(mapped.hint, hint, `${name}: hint`);
  t.equal(mapped.cause, err, `${name}: keeps the cause`);
}
