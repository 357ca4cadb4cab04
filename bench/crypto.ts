// KDF time and envelope throughput (encrypt, decrypt) on 1 MiB and 64 MiB.
import { randomBytes } from 'node:crypto';
import { decryptEnvelope, encryptEnvelope } from '../daemon/crypto/envelope.js';
import { deriveKey } from '../daemon/crypto/kdf.js';
import { generateKey, generateSalt } from '../daemon/crypto/key.js';
import { ms, sample, table } from './measure.js';

export async function benchCrypto(): Promise<void> {
  const key = generateKey();
  const salt = generateSalt();
  const kdf = await sample(5, () => deriveKey(key, salt), 1);
  table(
    'PBKDF2-SHA256, 600,000 iterations (one derivation)',
    ['', 'median ms', 'p95 ms', 'runs'],
    [['deriveKey', ms(kdf.medianMs), ms(kdf.p95Ms), String(kdf.n)]],
  );

  const aesKey = await deriveKey(key, salt);
  const rows: string[][] = [];
  for (const [label, bytes, runs] of [
    ['1 MiB', 1 << 20, 50],
    ['64 MiB', 64 << 20, 5],
  ] as const) {
    const plaintext = randomBytes(bytes);
    const envelope = encryptEnvelope(aesKey, plaintext);
    const enc = await sample(runs, () => encryptEnvelope(aesKey, plaintext), 2);
    const dec = await sample(runs, () => decryptEnvelope(aesKey, envelope), 2);
    const mbps = (t: number) => (bytes / (1 << 20) / (t / 1000)).toFixed(0).padStart(6);
    rows.push([`encrypt ${label}`, ms(enc.medianMs), mbps(enc.medianMs), String(runs)]);
    rows.push([`decrypt ${label}`, ms(dec.medianMs), mbps(dec.medianMs), String(runs)]);
  }
  table('RQE1 envelope (AES-256-GCM), whole buffer in memory', ['', 'median ms', 'MiB/s', 'runs'], rows);
}
