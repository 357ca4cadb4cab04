#!/usr/bin/python3
"""Independent vsync reader/writer, written from docs/FORMAT.md alone, by an engineer who did not read
vsync's source. test/interop/format-interop.test.ts has each side read what the other wrote; when it
fails, FORMAT.md and the code have drifted apart.

usage:
  reader.py pull --data DIR --repo R --env E --out REPOROOT [--ts TS]
  reader.py push --data DIR --repo R --env E --from REPOROOT
DIR holds KEY (the key text) and config/ (used as XDG_CONFIG_HOME).
"""
import argparse, base64, binascii, datetime, gzip, hashlib, hmac, json, os, re, shutil
import struct, sys, tempfile, unicodedata, zlib
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.exceptions import InvalidTag


class Refuse(Exception):
    pass


# ---------- §1 keys and salts ----------
B64 = re.compile(r'^[A-Za-z0-9+/]*={0,2}$')

def canon_b64(text, lengths, what):
    if not isinstance(text, str) or not B64.match(text) or len(text) % 4:
        raise Refuse(f'{what}: not standard base64')
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise Refuse(f'{what}: not standard base64')
    if len(raw) not in lengths:
        raise Refuse(f'{what}: decodes to {len(raw)} bytes')
    if base64.b64encode(raw).decode() != text:
        raise Refuse(f'{what}: not canonical base64')
    return raw

def check_key(text):
    if len(text) != 44:
        raise Refuse('key: not 44 characters')
    canon_b64(text, (32,), 'key')

def check_salt(text):
    canon_b64(text, (16, 17, 18), 'salt')


# ---------- §2 derivation ----------
def derive(key_text, salt_text):
    return hashlib.pbkdf2_hmac('sha256', key_text.encode('utf-8'), salt_text.encode('utf-8'), 600000, 32)

def key_check(aes_key):
    return base64.b64encode(hmac.new(aes_key, b'vsync key check v1', hashlib.sha256).digest()[:16]).decode()


# ---------- §3 envelope ----------
def open_envelope(aes_key, b):
    if len(b) < 4:
        raise Refuse('envelope: truncated')
    if b[:4] != b'RQE1':
        if b[:3] == b'RQE':
            raise Refuse('envelope: written by a newer version (%r)' % b[:4])
        raise Refuse('envelope: not a vsync envelope')
    if len(b) < 32:
        raise Refuse('envelope: truncated')
    try:
        return AESGCM(aes_key).decrypt(b[4:16], b[16:], None)
    except InvalidTag:
        raise Refuse('envelope: tag does not verify (wrong key or altered bytes)')

def seal_envelope(aes_key, plaintext):
    iv = os.urandom(12)
    env = b'RQE1' + iv + AESGCM(aes_key).encrypt(iv, plaintext, None)
    if open_envelope(aes_key, env) != plaintext:      # §3 SHOULD verify before upload
        raise Refuse('self-check failed')
    return env


# ---------- §4 timestamps ----------
TS = re.compile(r'^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$')

def parse_ts(s):
    m = TS.match(s) if isinstance(s, str) else None
    if not m:
        raise Refuse(f'timestamp {s!r}: not YYYYMMDD-HHmmss')
    try:
        return datetime.datetime(*map(int, m.groups()), tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Refuse(f'timestamp {s!r}: not a real date/time')

def fmt_ts(dt):
    return dt.strftime('%Y%m%d-%H%M%S')


# ---------- §5 seal ----------
def unseal(p, want_ts):
    if len(p) < 23:
        raise Refuse('seal: plaintext shorter than 23 bytes')
    if p[:8] != b'RQEM0001':
        if p[:4] == b'RQEM':
            raise Refuse('seal: written by a newer version (%r)' % p[:8])
        raise Refuse('seal: no RQEM0001 magic')
    try:
        ts = p[8:23].decode('ascii')
    except UnicodeDecodeError:
        raise Refuse('seal: timestamp not ASCII')
    parse_ts(ts)
    if ts != want_ts:
        raise Refuse(f'seal: sealed timestamp {ts} differs from requested {want_ts}')
    return p[23:]


# ---------- §6 bundle ----------
MAX_ENTRIES, MAX_FILE, MAX_TOTAL = 1000, 16 << 20, 64 << 20
CTRL = re.compile('[\x00-\x1f\x7f\\\\]')
S_IFMT, S_IFREG, S_IFDIR = 0o170000, 0o100000, 0o040000

def check_relpath(name, what):
    """§6 name rules (also used for §7 vaultFolder). Returns the segments."""
    if name == '' or len(name.encode('utf-8')) > 4096:
        raise Refuse(f'{what} {name!r}: empty or too long')
    if CTRL.search(name):
        raise Refuse(f'{what} {name!r}: control character or backslash')
    if name.startswith('/') or re.match(r'^[A-Za-z]:', name):
        raise Refuse(f'{what} {name!r}: absolute')
    segs = name.split('/')
    if any(s in ('', '.', '..') for s in segs):
        raise Refuse(f'{what} {name!r}: empty, . or .. segment')
    return segs

def fold(name):
    return unicodedata.normalize('NFC', name.lower())

def read_zip(data, vault):
    """Validate the whole archive, then return [(name, bytes)] for files and [name] for folders."""
    vault_segs = vault.split('/')
    # End of central directory (no zip64, single disk)
    i = data.rfind(b'PK\x05\x06', max(0, len(data) - 22 - 65535))
    if i < 0 or len(data) - i < 22:
        raise Refuse('zip: no end of central directory')
    disk, cddisk, n_here, n, cd_size, cd_off, clen = struct.unpack('<HHHHIIH', data[i + 4:i + 22])
    if i + 22 + clen != len(data):
        raise Refuse('zip: bad end record comment length')
    if disk or cddisk or n_here != n:
        raise Refuse('zip: multi-disk archive')
    if n == 0xFFFF or cd_off == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        raise Refuse('zip: zip64 not supported')
    if n > MAX_ENTRIES:
        raise Refuse(f'zip: {n} entries > {MAX_ENTRIES}')
    if cd_off + cd_size > i:
        raise Refuse('zip: central directory out of bounds')
    entries, p = [], cd_off
    for _ in range(n):
        if p + 46 > cd_off + cd_size or data[p:p + 4] != b'PK\x01\x02':
            raise Refuse('zip: bad central directory')
        (made_by, need, flags, method, mtime, mdate, crc, csize, usize, nlen, xlen, klen,
         dstart, iattr, eattr, loff) = struct.unpack('<HHHHHHIIIHHHHHII', data[p + 4:p + 46])
        raw = data[p + 46:p + 46 + nlen]
        p += 46 + nlen + xlen + klen
        if p > cd_off + cd_size:
            raise Refuse('zip: central directory entry out of bounds')
        entries.append(dict(made_by=made_by, flags=flags, method=method, crc=crc, csize=csize,
                            usize=usize, raw=raw, eattr=eattr, loff=loff))
    seen, files, dirs, ranges, total_declared = {}, [], set(), [], 0
    for e in entries:
        raw = e['raw']
        try:
            name = raw.decode('utf-8')
        except UnicodeDecodeError:
            raise Refuse(f'zip: name {raw!r} not UTF-8')
        if e['flags'] & 0x41:
            raise Refuse(f'zip: {name!r} is encrypted')
        if e['method'] not in (0, 8):
            raise Refuse(f'zip: {name!r} uses method {e["method"]}')
        mode = (e['eattr'] >> 16) if (e['made_by'] >> 8) == 3 else 0
        ftype = mode & S_IFMT
        is_dir = name.endswith('/') or ftype == S_IFDIR
        if ftype not in (0, S_IFREG, S_IFDIR) or (ftype == S_IFREG and name.endswith('/')):
            raise Refuse(f'zip: {name!r} is not a regular file or folder (mode {oct(mode)})')
        body = name[:-1] if is_dir and name.endswith('/') else name
        segs = check_relpath(body, 'zip entry')
        if is_dir and (e['usize'] or (e['method'] == 0 and e['csize'])):
            raise Refuse(f'zip: folder entry {name!r} carries data')
        if is_dir and segs == vault_segs[:len(segs)]:
            pass  # vault folder itself or a parent: ignored (but still checked below)
        elif segs[:len(vault_segs)] != vault_segs or len(segs) == len(vault_segs):
            raise Refuse(f'zip: {name!r} lies outside the vault folder {vault!r}')
        key = fold(body)
        if key in seen:
            raise Refuse(f'zip: {name!r} duplicates {seen[key]!r}')
        seen[key] = name
        # local header
        lo = e['loff']
        if lo + 30 > cd_off or data[lo:lo + 4] != b'PK\x03\x04':
            raise Refuse(f'zip: {name!r} bad local header')
        (_need, lflags, lmethod, _t, _d, lcrc, lcsize, lusize, lnlen, lxlen) = \
            struct.unpack('<HHHHHIIIHH', data[lo + 4:lo + 30])
        lname = data[lo + 30:lo + 30 + lnlen]
        start = lo + 30 + lnlen + lxlen
        if (lname != raw or lmethod != e['method'] or lcrc != e['crc'] or lcsize != e['csize']
                or lusize != e['usize'] or (lflags & 1) != (e['flags'] & 1)):
            raise Refuse(f'zip: {name!r} disagrees with its local header')
        end = start + e['csize']
        if end > cd_off:
            raise Refuse(f'zip: {name!r} data out of bounds')
        ranges.append((lo, end, name))
        if e['usize'] > MAX_FILE:
            raise Refuse(f'zip: {name!r} declares {e["usize"]} bytes > cap')
        if is_dir:
            if segs != vault_segs[:len(segs)]:
                dirs.add(body)
        else:
            files.append((name, e, start))
    ranges.sort()
    for (a0, a1, an), (b0, b1, bn) in zip(ranges, ranges[1:]):
        if b0 < a1:
            raise Refuse(f'zip: {an!r} overlaps {bn!r}')
    # a file where another entry needs a folder
    file_keys = {fold(n) for n, _, _ in files}
    for name in [n for n, _, _ in files] + sorted(dirs):
        segs = name.split('/')
        for k in range(1, len(segs)):
            if fold('/'.join(segs[:k])) in file_keys:
                raise Refuse(f'zip: {name!r} needs a folder where a file is')
    # inflate, counting real bytes; check CRC-32
    out, total = [], 0
    for name, e, start in files:
        comp = data[start:start + e['csize']]
        if e['method'] == 0:
            body = comp
        else:
            d = zlib.decompressobj(-15)
            try:
                body = d.decompress(comp, MAX_FILE + 1)
            except zlib.error:
                raise Refuse(f'zip: {name!r} bad deflate data')
            if len(body) > MAX_FILE or not d.eof or d.unused_data or d.unconsumed_tail:
                raise Refuse(f'zip: {name!r} deflate stream over cap or malformed')
        if len(body) > MAX_FILE:
            raise Refuse(f'zip: {name!r} over per-file cap')
        total += len(body)
        if total > MAX_TOTAL:
            raise Refuse('zip: archive over total cap')
        if len(body) != e['usize'] or zlib.crc32(body) != e['crc']:
            raise Refuse(f'zip: {name!r} size or CRC-32 mismatch')
        out.append((name, body))
    return out, sorted(dirs)

def write_zip(pairs):
    """§6 'what vsync writes'. pairs: [(name, bytes)]."""
    pairs = sorted(pairs, key=lambda t: t[0].encode('utf-8'))
    if len(pairs) > MAX_ENTRIES or sum(len(b) for _, b in pairs) > MAX_TOTAL:
        raise Refuse('push: over caps')
    local, central = bytearray(), bytearray()
    for name, body in pairs:
        if len(body) > MAX_FILE:
            raise Refuse(f'push: {name} over per-file cap')
        raw = name.encode('utf-8')
        flags = 0x800 if not raw.isascii() else 0      # guess: UTF-8 flag only when needed
        crc, off = zlib.crc32(body), len(local)
        common = struct.pack('<HHHHIIIH', flags, 0, 0x0000, 0x0021, crc, len(body), len(body), len(raw))
        local += b'PK\x03\x04' + struct.pack('<H', 10) + common + struct.pack('<H', 0) + raw + body
        central += (b'PK\x01\x02' + struct.pack('<HH', (3 << 8) | 20, 10) + common
                    + struct.pack('<HHHHII', 0, 0, 0, 0, (S_IFREG | 0o600) << 16, off) + raw)
    eocd = b'PK\x05\x06' + struct.pack('<HHHHIIH', 0, 0, len(pairs), len(pairs), len(central), len(local), 0)
    return bytes(local + central + eocd)


# ---------- §7 config, §8 names ----------
ENV_RE = re.compile(r'^[a-z][a-z0-9_-]{0,63}$')
REPO_RE = re.compile(r'^[a-z0-9_][a-z0-9._]{0,99}$')

def load_config(config_home, repo, env):
    if not ENV_RE.match(env) or not REPO_RE.match(repo):
        raise Refuse('bad repo or env name')
    path = os.path.join(config_home, 'vsync', repo, f'env_{env}')
    with open(path, 'rb') as f:
        cfg = json.loads(gzip.decompress(f.read()).decode('utf-8'))
    if not isinstance(cfg, dict):
        raise Refuse('config: not a JSON object')
    v = cfg.get('version')
    if type(v) is not int or v != 1:
        raise Refuse(f'config: version {v!r} not supported')
    has_s3, has_store = 's3' in cfg, 'store' in cfg
    if has_s3 == has_store:
        raise Refuse('config: need exactly one of s3, store')
    if has_s3:
        raise Refuse('config: s3 store not implemented in this checker')
    st = cfg['store']
    if not isinstance(st, dict) or st.get('kind') != 'dir' or not isinstance(st.get('root'), str) \
            or not os.path.isabs(st['root']):
        raise Refuse('config: bad store block')
    enc = cfg.get('encryption')
    if not isinstance(enc, dict) or 'salt' not in enc:
        raise Refuse('config: encryption.salt missing')
    check_salt(enc['salt'])
    vault = (cfg.get('files') or {}).get('vaultFolder', f'infra/vault/{env}')
    if not isinstance(vault, str):
        raise Refuse('config: vaultFolder not a string')
    check_relpath(vault, 'vaultFolder')
    return dict(root=st['root'], salt=enc['salt'], keycheck=enc.get('keyCheck'), vault=vault)


# ---------- glue ----------
def setup(a):
    with open(os.path.join(a.data, 'KEY'), encoding='ascii') as f:
        key_text = f.read()
    check_key(key_text)
    cfg = load_config(os.path.join(a.data, 'config'), a.repo, a.env)
    aes_key = derive(key_text, cfg['salt'])
    if cfg['keycheck'] is not None:
        mine = key_check(aes_key)
        if not hmac.compare_digest(mine, str(cfg['keycheck'])):
            raise Refuse('wrong key (keyCheck mismatch)')
        print('keyCheck: OK', cfg['keycheck'])
    base = os.path.join(cfg['root'], a.repo, a.env)
    return cfg, aes_key, base

def read_latest(base):
    try:
        with open(os.path.join(base, 'latest'), 'rb') as f:
            raw = f.read()
    except FileNotFoundError:
        return None, None
    ts = raw.decode('ascii').strip()
    parse_ts(ts)
    return ts, raw

def cmd_pull(a):
    cfg, aes_key, base = setup(a)
    ts = a.ts or read_latest(base)[0]
    if ts is None:
        raise Refuse('no latest')
    parse_ts(ts)
    print('latest:', ts)
    with open(os.path.join(base, 'versions', ts + '.enc'), 'rb') as f:
        env = f.read()
    bundle = unseal(open_envelope(aes_key, env), ts)
    files, dirs = read_zip(bundle, cfg['vault'])
    # all checks passed: extract into a staging folder, then swap into place
    target = os.path.join(a.out, *cfg['vault'].split('/'))
    parent = os.path.dirname(target)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    stage = tempfile.mkdtemp(prefix='.vsync-stage-', dir=parent)
    for d in dirs:
        os.makedirs(os.path.join(stage, *d.split('/')[len(cfg['vault'].split('/')):]), 0o700, exist_ok=True)
    for name, body in files:
        rel = name.split('/')[len(cfg['vault'].split('/')):]
        dst = os.path.join(stage, *rel)
        os.makedirs(os.path.dirname(dst), 0o700, exist_ok=True)
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(body)
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix='.vsync-old-', dir=parent)
        os.rename(target, os.path.join(old, 'v'))
    os.rename(stage, target)
    if old:
        shutil.rmtree(old)
    for name, body in files:
        print(f'--- {name} ({len(body)} bytes)')
        sys.stdout.write(body.decode('utf-8', 'replace'))

def cmd_push(a):
    cfg, aes_key, base = setup(a)
    latest, latest_raw = read_latest(base)
    src = os.path.join(a.src, *cfg['vault'].split('/'))
    pairs = []
    for dp, dn, fn in os.walk(src, followlinks=False):
        for n in dn:
            if os.path.islink(os.path.join(dp, n)):
                raise Refuse(f'push: symlink {n}')
        for n in fn:
            full = os.path.join(dp, n)
            if os.path.islink(full) or not os.path.isfile(full):
                raise Refuse(f'push: {full} is not a regular file')
            rel = os.path.relpath(full, a.src).replace(os.sep, '/')
            check_relpath(rel, 'push entry')
            with open(full, 'rb') as f:
                pairs.append((rel, f.read()))
    bundle = write_zip(pairs)
    read_zip(bundle, cfg['vault'])                      # our own output must pass our reader
    # --now stands in for the clock, so a caller can say what time it is instead of inheriting today's date.
    now = parse_ts(a.now) if a.now else datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ts_dt = now if latest is None else max(now, parse_ts(latest) + datetime.timedelta(seconds=1))
    ts = fmt_ts(ts_dt)
    env = seal_envelope(aes_key, b'RQEM0001' + ts.encode('ascii') + bundle)
    vdir = os.path.join(base, 'versions')
    os.makedirs(vdir, 0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=vdir)
    with os.fdopen(fd, 'wb') as f:
        f.write(env); f.flush(); os.fsync(f.fileno())
    try:
        os.link(tmp, os.path.join(vdir, ts + '.enc'))   # create-if-absent (If-None-Match: *)
    except FileExistsError:
        raise Refuse(f'push: version {ts} already exists')
    finally:
        os.unlink(tmp)
    # conditional move of latest (If-Match on what we read / If-None-Match when absent)
    now_raw = read_latest(base)[1]
    if now_raw != latest_raw:
        raise Refuse('push: latest moved since it was read; version left orphaned')
    fd, tmp = tempfile.mkstemp(prefix='.latest-', dir=base)
    with os.fdopen(fd, 'wb') as f:
        f.write(ts.encode('ascii') + b'\n'); f.flush(); os.fsync(f.fileno())
    os.replace(tmp, os.path.join(base, 'latest'))
    print(f'pushed {ts} ({len(env)} bytes, {len(pairs)} files) over {latest}')

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['pull', 'push'])
    ap.add_argument('--data', required=True)
    ap.add_argument('--repo', default='acme_web')
    ap.add_argument('--env', default='staging')
    ap.add_argument('--out')
    ap.add_argument('--from', dest='src')
    ap.add_argument('--ts')
    ap.add_argument('--now', help='the UTC time to push at, YYYYMMDD-HHmmss (default: the clock)')
    a = ap.parse_args()
    try:
        (cmd_pull if a.mode == 'pull' else cmd_push)(a)
    except Refuse as e:
        print('REFUSED:', e)
        sys.exit(2)

if __name__ == '__main__':
    main()
