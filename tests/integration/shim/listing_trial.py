"""A random sequence of file system calls on one directory, printed one
result a line, so that a run on a mount (a listed directory, populated on
the way by whatever needs it) can be compared with the same run on a local
copy: usage: listing_trial.py DIR SEED.

The calls: listdir, scandir with its entries' stat, stat and lstat of names
that exist and names that do not, getxattr and listxattr, reads (which
populate a listed directory), creates, unlinks and renames. What is printed
leaves out what differs between two copies of the same files (inode
numbers, ctime, the mtime of files this run makes).
"""
import errno
import hashlib
import os
import random
import sys

d, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
made = set()  # names this run created: their mtime is now, not the copy's


def show_stat(name, st):
    mtime = "-" if name in made else st.st_mtime_ns
    kind = "dir" if os.path.isdir(os.path.join(d, name)) else "file"
    return f"{name} {kind} {st.st_size} {oct(st.st_mode & 0o7777)} {st.st_nlink} {mtime}"


def attempt(what, fn):
    try:
        print(what, fn())
    except OSError as e:
        print(what, "error", errno.errorcode.get(e.errno, e.errno))


def names():
    return sorted(os.listdir(d))


# The first half only looks (the directory stays listed); the second also
# reads and changes it (which populates it), then looks again.
for step in range(400):
    pool = names()
    pick = rng.choice(pool) if pool else "none"
    missing = "nope%d" % rng.randrange(1000)
    op = rng.random() * (0.78 if step < 200 else 1.0)
    if op < 0.10:
        attempt("listdir", lambda: hashlib.sha256("\n".join(names()).encode()).hexdigest()[:16])
    elif op < 0.15:
        def scan():
            out = []
            with os.scandir(d) as it:
                for e in it:
                    out.append(show_stat(e.name, e.stat(follow_symlinks=False)) + (" f" if e.is_file() else " ?"))
            return hashlib.sha256("\n".join(sorted(out)).encode()).hexdigest()[:16]
        attempt("scandir", scan)
    elif op < 0.45:
        attempt("stat", lambda: show_stat(pick, os.stat(os.path.join(d, pick))))
    elif op < 0.60:
        attempt("lstat", lambda: show_stat(pick, os.lstat(os.path.join(d, pick))))
    elif op < 0.68:
        attempt("stat missing", lambda: os.stat(os.path.join(d, missing)))
    elif op < 0.74:
        attempt("getxattr", lambda: os.getxattr(os.path.join(d, pick), "user.x"))
    elif op < 0.78:
        attempt("listxattr", lambda: sorted(x for x in os.listxattr(os.path.join(d, pick)) if x.startswith("user.")))
    elif op < 0.81:
        def read():
            with open(os.path.join(d, pick), "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()[:16]
        attempt("read " + pick, read)
    elif op < 0.88:
        new = "made%d" % rng.randrange(100)
        def create():
            with open(os.path.join(d, new), "wb") as f:
                f.write(new.encode() * rng.randrange(1, 50))
            made.add(new)
            return new
        attempt("create", create)
    elif op < 0.94:
        attempt("unlink " + pick, lambda: os.unlink(os.path.join(d, pick)))
    else:
        to = "moved%d" % rng.randrange(100)
        def rename():
            os.rename(os.path.join(d, pick), os.path.join(d, to))
            if pick in made:
                made.add(to)
            return to
        attempt("rename " + pick, rename)
print("final", hashlib.sha256("\n".join(names()).encode()).hexdigest()[:16], len(names()))
