#!/usr/bin/env python3
"""A second implementation of docs/FORMAT.md, written from that document alone.

It shares no code with vsync, so when vsync and this file agree on every vector, the format document is
enough to read and write what vsync writes. Needs Python 3 and the `cryptography` package (Debian:
python3-cryptography).

  reference.py make OUT_DIR          write the vectors (fixed keys, salts and IVs below)
  reference.py check FILE...         check vectors both ways; exit 1 on the first mismatch
  reference.py make-share OUT_DIR    write the share-file vectors (FORMAT.md §12)
  reference.py check-share FILE...   check share-file vectors both ways
"""
import base64
import hashlib
import hmac
import io
import json
import os
import re
import sys
import unicodedata
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


def fingerprint(aes_key: bytes, value: str) -> str:
    # FORMAT.md §13.
    mask = hmac.new(aes_key, b"vsync value mask v1", hashlib.sha256).digest()
    return hmac.new(mask, value.encode(), hashlib.sha256).hexdigest()[:8]


def log_entry(kseed: str, sseed: str, ts: str, files: dict[str, bytes]) -> bytes:
    # FORMAT.md §14: the JSON of a version's log entry, compact, fields in the documented order, files and
    # variables sorted by name. The dotenv
    # values are parsed here by hand (plain KEY=value lines only, which is all this vector holds).
    aes_key = derive(b64_of(kseed, 32), b64_of(sseed, 16))
    described = {}
    for name, data in sorted(files.items()):
        entry = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if name == ".env" or name.startswith(".env."):
            pairs = [line.split("=", 1) for line in data.decode().splitlines() if "=" in line]
            entry["vars"] = {k: {"length": len(v), "hash": fingerprint(aes_key, v)} for k, v in sorted(pairs)}
        described[name] = entry
    meta = {"version": 1, "ts": ts, "by": "alice@example.com",
            "machine": {"id": "0123456789abcdef", "name": "laptop"}, "files": described}
    return json.dumps(meta, separators=(",", ":")).encode()


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
        ("log-entry", "k1", "s1", 16, "20260516-113304", log_entry("k1", "s1", "20260516-113304", {
            ".env.dev": b"DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n"})),
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


# ---- share files (FORMAT.md §12) ----

SHARE_MAGIC = b"RQES0001"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def normalise_passphrase(passphrase: str) -> str:
    text = unicodedata.normalize("NFC", passphrase)
    compact = text.replace(" ", "").replace("-", "")
    compact = "".join(c.upper() if "a" <= c <= "z" else c for c in compact)
    compact = compact.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(compact) == 28 and all(c in CROCKFORD for c in compact):
        return "-".join(compact[i:i + 4] for i in range(0, 28, 4))
    return text


def share_key(passphrase: str, salt: bytes) -> tuple[bytes, bytes]:
    aes_key = hashlib.pbkdf2_hmac("sha256", normalise_passphrase(passphrase).encode("utf-8"), salt, ITERATIONS, 32)
    check = hmac.new(aes_key, b"vsync share check v1", hashlib.sha256).digest()[:16]
    return aes_key, check


def seal_share(plaintext: bytes, passphrase: str, salt: bytes, iv: bytes) -> bytes:
    aes_key, check = share_key(passphrase, salt)
    envelope = encrypt(aes_key, plaintext, iv)
    return SHARE_MAGIC + salt + check + len(envelope).to_bytes(4, "big") + envelope


def open_share(data: bytes, passphrase: str) -> bytes:
    if len(data) < 8 or data[:8] != SHARE_MAGIC:
        raise ValueError("not a share file")
    if len(data) < 44 + 32:
        raise ValueError("truncated")
    if len(data) - 44 != int.from_bytes(data[40:44], "big"):
        raise ValueError("length mismatch")
    aes_key, check = share_key(passphrase, data[8:24])
    if not hmac.compare_digest(check, data[24:40]):
        raise ValueError("wrong passphrase")
    return decrypt(aes_key, data[44:])


def check_share_content(plaintext: bytes) -> None:
    share = json.loads(plaintext.decode("utf-8"))
    if not re.fullmatch(r"[a-z0-9_][a-z0-9._]{0,99}", share["repo"]):
        raise ValueError("bad repo")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", share["env"]):
        raise ValueError("bad env")
    if len(base64.b64decode(share["key"], validate=True)) != 32 or len(share["key"]) != 44:
        raise ValueError("bad key")
    config = share["config"]
    salt = config["encryption"]["salt"]
    if config["version"] != 1 or ("s3" in config) == ("store" in config):
        raise ValueError("bad config")
    if "keyCheck" in config["encryption"]:
        mac = hmac.new(derive(share["key"], salt), b"vsync key check v1", hashlib.sha256).digest()[:16]
        if base64.b64encode(mac).decode() != config["encryption"]["keyCheck"]:
            raise ValueError("keyCheck does not match the key")


def make_share(out_dir: str) -> None:
    def key_check(key: str, salt: str) -> str:
        return base64.b64encode(hmac.new(derive(key, salt), b"vsync key check v1", hashlib.sha256).digest()[:16]).decode()

    k1, s1 = b64_of("share-k1", 32), b64_of("share-s1", 16)
    k2, s2 = b64_of("share-k2", 32), b64_of("share-s2", 18)
    nfc = "Crème brûlée, deux fois !"
    cases = [
        ("share-s3-generated-passphrase", "7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E", "7k3q m9tx 4b2d r8wz ocfh j6np sv5e",
         {"repo": "acme_web", "env": "dev", "key": k1, "config": {
             "version": 1,
             "s3": {"bucket": "acme-secrets", "region": "eu-west-1", "endpoint": "https://s3.example.com",
                    "prefix": "teams/", "forcePathStyle": True},
             "encryption": {"salt": s1, "keyCheck": key_check(k1, s1)},
             "files": {"vaultFolder": "infra/vault/dev"}}}),
        ("share-dir-store-own-passphrase", nfc, unicodedata.normalize("NFD", nfc),
         {"repo": "web", "env": "production", "key": k2, "config": {
             "version": 1,
             "store": {"kind": "dir", "root": "/srv/vsync/store"},
             "encryption": {"salt": s2}}}),
    ]
    os.makedirs(out_dir, exist_ok=True)
    for name, passphrase, typed, share in cases:
        salt = hashlib.sha256(("salt-" + name).encode()).digest()[:16]
        iv = hashlib.sha256(("iv-" + name).encode()).digest()[:12]
        plaintext = json.dumps(share, separators=(",", ":"), ensure_ascii=False)
        data = seal_share(plaintext.encode("utf-8"), passphrase, salt, iv)
        vector = {"name": name, "passphrase": passphrase, "typed": typed, "salt": salt.hex(), "iv": iv.hex(),
                  "plaintext": plaintext, "file": data.hex()}
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(vector, f, indent=2, ensure_ascii=False)
            f.write("\n")


def check_share(paths: list[str]) -> None:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            v = json.load(f)
        plaintext, data = v["plaintext"].encode("utf-8"), bytes.fromhex(v["file"])
        if seal_share(plaintext, v["passphrase"], bytes.fromhex(v["salt"]), bytes.fromhex(v["iv"])) != data:
            sys.exit(f"{path}: seal mismatch")
        for passphrase in (v["passphrase"], v["typed"]):
            if open_share(data, passphrase) != plaintext:
                sys.exit(f"{path}: open mismatch")
        check_share_content(plaintext)
        try:
            open_share(data, v["passphrase"] + "x")
            sys.exit(f"{path}: a wrong passphrase opened it")
        except ValueError as e:
            if str(e) != "wrong passphrase":
                sys.exit(f"{path}: a wrong passphrase gave {e}")
        print(f"ok {v['name']}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(sys.argv[2:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "make-share":
        make_share(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "check-share":
        check_share(sys.argv[2:])
    else:
        sys.exit(__doc__)
