#!/usr/bin/env python3
"""A second implementation of docs/FORMAT.md, written from that document alone.

It shares no code with vsync, so when vsync and this file agree on every vector, the format document is
enough to read and write what vsync writes. Needs Python 3 and the `cryptography` package (Debian:
python3-cryptography).

  reference.py make OUT_DIR    write the vectors (fixed keys, salts and IVs below)
  reference.py check FILE...   check vectors both ways; exit 1 on the first mismatch
"""
import base64
import hashlib
import io
import json
import os
import re
import sys
import zipfile
from datetime import datetime, timezone

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE_MAGIC = b"RQE1"
SEAL_MAGIC = b"RQEM0001"
ITERATIONS = 600_000


def derive(key_text: str, salt_text: str) -> bytes:
    # FORMAT.md §2: the UTF-8 bytes of the texts, not the decoded bytes.
    return hashlib.pbkdf2_hmac("sha256", key_text.encode(), salt_text.encode(), ITERATIONS, 32)


def check_timestamp(ts: str) -> None:
    if not re.fullmatch(r"\d{8}-\d{6}", ts):
        raise ValueError(f"bad timestamp {ts!r}")
    datetime.strptime(ts, "%Y%m%d-%H%M%S")  # raises on 20260231 and 24:00:00


def encrypt(aes_key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    return ENVELOPE_MAGIC + iv + AESGCM(aes_key).encrypt(iv, plaintext, None)


def decrypt(aes_key: bytes, envelope: bytes) -> bytes:
    # FORMAT.md §3 order: too short for a magic, the magic, too short for IV and tag, then the tag.
    if len(envelope) < 4:
        raise ValueError("truncated")
    if envelope[:4] != ENVELOPE_MAGIC:
        raise ValueError("unknown magic")
    if len(envelope) < 32:
        raise ValueError("truncated")
    return AESGCM(aes_key).decrypt(envelope[4:16], envelope[16:], None)


def unseal(plaintext: bytes) -> tuple[str, bytes]:
    if len(plaintext) < 23 or plaintext[:8] != SEAL_MAGIC:
        raise ValueError("bad seal")
    ts = plaintext[8:23].decode("ascii")
    check_timestamp(ts)
    return ts, plaintext[23:]


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100600 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
    return buf.getvalue()


def b64_of(seed: str, n: int) -> str:
    # Fixed, reproducible "random" bytes for the vectors.
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()[:n]).decode()


def make(out_dir: str) -> None:
    cases = [
        ("sealed-single-env-file", "k1", "s1", 16, "20260516-113304",
         zip_of({"infra/vault/dev/.env.dev": b"DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n"})),
        ("sealed-nested-files-18-byte-salt", "k2", "s2", 18, "20261129-235959",
         zip_of({
             "infra/vault/production/.env.production": b"STRIPE_KEY=sk_live_xyz\n",
             "infra/vault/production/certs/tls.key": b"-----BEGIN PRIVATE KEY-----\nMIIB\n",
             "infra/vault/production/gcp.json": b'{"type":"service_account"}\n',
         })),
        ("sealed-empty-zip", "k3", "s3", 17, "20000101-000000", zip_of({})),
        ("backup-unsealed", "k1", "s1", 16, None,
         zip_of({"infra/vault/dev/.env.dev": b"DATABASE_URL=postgres://dev-old\n"})),
        ("unsealed-empty-plaintext", "k4", "s4", 16, None, b""),
    ]
    os.makedirs(out_dir, exist_ok=True)
    for name, kseed, sseed, salt_len, ts, payload in cases:
        key, salt = b64_of(kseed, 32), b64_of(sseed, salt_len)
        iv = hashlib.sha256(("iv-" + name).encode()).digest()[:12]
        plaintext = SEAL_MAGIC + ts.encode() + payload if ts else payload
        envelope = encrypt(derive(key, salt), plaintext, iv)
        vector = {"name": name, "key": key, "salt": salt, "iv": iv.hex(), "ts": ts,
                  "plaintext": payload.hex(), "envelope": envelope.hex()}
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(vector, f, indent=2)
            f.write("\n")


def check(paths: list[str]) -> None:
    for path in paths:
        with open(path) as f:
            v = json.load(f)
        aes_key = derive(v["key"], v["salt"])
        payload, envelope = bytes.fromhex(v["plaintext"]), bytes.fromhex(v["envelope"])
        plaintext = SEAL_MAGIC + v["ts"].encode() + payload if v["ts"] else payload
        if encrypt(aes_key, plaintext, bytes.fromhex(v["iv"])) != envelope:
            sys.exit(f"{path}: encrypt mismatch")
        opened = decrypt(aes_key, envelope)
        if v["ts"]:
            ts, opened = unseal(opened)
            if ts != v["ts"]:
                sys.exit(f"{path}: sealed ts {ts} != {v['ts']}")
        if opened != payload:
            sys.exit(f"{path}: decrypt mismatch")
        print(f"ok {v['name']}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(sys.argv[2:])
    else:
        sys.exit(__doc__)
