"""A stand-in for the fetcher's side of include/vol/session.h, for testing the
shim's lazy-content guard before (and independently of) the real fetcher.

It materialises a view of SRC (directories, sparse files of the right size and
mode), publishes a presence table, and serves FETCH/FETCH_ALL by copying the
requested blocks from SRC into the view and setting their bits (bytes first,
bits after, as the contract requires). It counts the bytes it copied in
SESSION/fetched_bytes. It is not a store: content comes from a local tree.

It also takes the write path's VOL_OP_CHANGED requests: it logs them to
SESSION/changed.log ("KIND PATH [NEW]"), retires the slot of a file whose
content is discarded, and follows renamed directories.

Usage: fake_fetcher.py SESSION SRC MOUNT [BLOCK_SIZE [ro|rw]]   (prints "ready")
"""
import mmap
import os
import socket
import stat
import struct
import sys
import threading

MASK64 = (1 << 64) - 1
HEADER = struct.Struct("<IIQQQQQQ")   # vol_presence_header (version 3)
SLOT = struct.Struct("<QQQQQIIII16sIIQ")  # vol_presence_file
SLOT_FILE = 1
REQ = struct.Struct("<IIQQ")         # vol_request without path
RESP = struct.Struct("<iIQQ512s")    # vol_response
OP_PING, OP_FETCH, OP_FETCH_ALL, OP_CHANGED, OP_COMMIT, OP_RELOAD = 0, 1, 2, 3, 4, 5
KINDS = {0: "PATH", 1: "OPEN_WRITE", 2: "DISCARD", 3: "RENAME", 4: "CLOSE_WRITE"}


def vol_hash(ino):
    ino ^= ino >> 33
    ino = (ino * 0xFF51AFD7ED558CCD) & MASK64
    ino ^= ino >> 33
    return ino


session, src, mount = sys.argv[1], sys.argv[2], sys.argv[3]
block = int(sys.argv[4]) if len(sys.argv) > 4 else 65536
flags = sys.argv[5] if len(sys.argv) > 5 else "ro"
view = os.path.join(session, "view")
os.makedirs(view, exist_ok=True)

files = []  # (view path, src path, size)
for dirpath, dirs, names in os.walk(src):
    rel = os.path.relpath(dirpath, src)
    vdir = os.path.normpath(os.path.join(view, rel))
    os.makedirs(vdir, exist_ok=True)
    for n in names:
        s, v = os.path.join(dirpath, n), os.path.join(vdir, n)
        st = os.lstat(s)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), v)
        elif stat.S_ISREG(st.st_mode):
            with open(v, "wb") as f:
                f.truncate(st.st_size)
            os.chmod(v, st.st_mode & 0o7777)
            files.append((v, s, st.st_size))

slots = 1
while slots < 2 * len(files) + 2:
    slots *= 2
words = [((size + block - 1) // block + 63) // 64 for _, _, size in files]
table_off = 64
bitmap_off = table_off + slots * SLOT.size
total = bitmap_off + 8 * max(1, sum(words))
ppath = os.path.join(session, "presence")
with open(ppath, "wb") as f:
    f.truncate(total)
pf = open(ppath, "r+b")
pm = mmap.mmap(pf.fileno(), total)
HEADER.pack_into(pm, 0, 0x45525056, 3, slots, table_off, bitmap_off, sum(words), sum(words), 0)

info = []  # per index: slot offset, bitmap word offset, size, nblocks, present set
word = 0
for index, (v, s, size) in enumerate(files):
    st = os.stat(v)
    i = vol_hash(st.st_ino) & (slots - 1)
    while struct.unpack_from("<Q", pm, table_off + i * SLOT.size)[0] != 0:
        i = (i + 1) & (slots - 1)
    off = table_off + i * SLOT.size
    nblocks = (size + block - 1) // block
    SLOT.pack_into(pm, off, 0, st.st_dev, size, block, word, 1 if size == 0 else 0, index,
                   SLOT_FILE, st.st_mode & 0o7777, b"\0" * 16, 0xffffffff, 0, 0)
    struct.pack_into("<Q", pm, off, st.st_ino)  # ino last: the slot is published
    info.append([off, bitmap_off + 8 * word, size, nblocks, set(), v, s])
    word += words[index]

with open(os.path.join(session, "mounts"), "w") as f:
    f.write(f"{mount}\t{view}\t{flags}\n")
with open(os.path.join(session, "features"), "w") as f:
    f.write("writes\n")  # this stand-in takes VOL_OP_CHANGED

lock = threading.Lock()
fetched = [0]


def to_view(p):
    return view + p[len(mount):] if p == mount or p.startswith(mount + "/") else None


def changed(kind, raw):
    parts = raw.split(b"\0")
    old = parts[0].decode()
    new = parts[1].decode() if kind == 3 and len(parts) > 1 else None
    with open(os.path.join(session, "changed.log"), "a") as f:
        f.write(f"{KINDS.get(kind, kind)} {old}{' ' + new if new else ''}\n")
    vold = to_view(old)
    if kind == 2:  # DISCARD: the file's content is being dropped; retire its slot
        for rec in info:
            if rec[5] == vold:
                rec.append("retired")
                struct.pack_into("<I", pm, rec[0] + 40, 1)
    elif kind == 3 and vold:
        vnew = to_view(new)
        for rec in info:
            if rec[5] == vold or rec[5].startswith(vold + "/"):
                rec[5] = vnew + rec[5][len(vold):]


def make_present(index, first, last):
    off, woff, size, nblocks, present, v, s = info[index][:7]
    if "retired" in info[index]:
        return
    mtime = os.stat(v).st_mtime_ns
    with open(s, "rb") as fs, open(v, "r+b") as fv:
        for b in range(first, min(last, nblocks - 1) + 1):
            if b in present:
                continue
            fs.seek(b * block)
            data = fs.read(block)
            fv.seek(b * block)
            fv.write(data)
            fv.flush()
            os.fsync(fv.fileno())
            fetched[0] += len(data)
            present.add(b)
            w = woff + 8 * (b // 64)
            cur = struct.unpack_from("<Q", pm, w)[0]
            struct.pack_into("<Q", pm, w, cur | (1 << (b % 64)))
    os.utime(v, ns=(mtime, mtime))  # fetching content is not a modification
    if len(present) == nblocks:
        struct.pack_into("<I", pm, off + 40, 1)  # complete


def serve(conn):
    while True:
        try:
            msg = conn.recv(8192)
        except OSError:
            return
        if not msg:
            return
        op, index, offset, length = REQ.unpack_from(msg)
        err = 0
        with lock:
            if op in (OP_FETCH, OP_FETCH_ALL) and index < len(info):
                bs = block
                if op == OP_FETCH_ALL:
                    make_present(index, 0, info[index][3] - 1)
                elif length:
                    make_present(index, offset // bs, (offset + length - 1) // bs)
                with open(os.path.join(session, "fetched_bytes.tmp"), "w") as f:
                    f.write(str(fetched[0]))
                os.replace(os.path.join(session, "fetched_bytes.tmp"),
                           os.path.join(session, "fetched_bytes"))
            elif op == OP_CHANGED:
                changed(offset, msg[REQ.size:])
            elif op in (OP_COMMIT, OP_RELOAD):
                target = msg[REQ.size:].split(b"\0")[0].decode()
                with open(os.path.join(session, "changed.log"), "a") as f:
                    f.write(f"{'COMMIT' if op == OP_COMMIT else 'RELOAD'} {target}\n")
                if target not in ("", mount):
                    err = 2  # ENOENT: no such mount
            elif op in (6, 7):
                pass  # POPULATE, PRIVATE: this view is eager, and its files are not shared
            elif op == 8:
                with open(os.path.join(session, "changed.log"), "a") as f:
                    f.write(f"EXIT {index}\n")
            elif op != OP_PING:
                err = 22
        conn.send(RESP.pack(err, 0, 0, 0, b""))


with open(os.path.join(session, "fetched_bytes"), "w") as f:
    f.write("0")
with open(os.path.join(session, "fetcher.pid"), "w") as f:
    f.write(f"{os.getpid()}\n")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
os.chdir(session)  # bind by a relative name: the session path may exceed sun_path
srv.bind("sock")
srv.listen(64)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
