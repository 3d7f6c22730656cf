"""Reads a tree the ways Python programs do and prints what it saw, with the
tree's root replaced by '@', so that a mount and the same local tree can be
compared line by line. Usage: py_reads.py ROOT OUTDIR"""
import glob
import hashlib
import mmap
import os
import pathlib
import shutil
import subprocess
import sys

root, outdir = sys.argv[1], sys.argv[2]


def rel(p):
    return str(p).replace(root, "@")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


print("open", open(os.path.join(root, "a.txt")).read().strip())
st = os.stat(os.path.join(root, "dir/nums"))
print("stat", st.st_size, oct(st.st_mode), int(st.st_mtime))
print("lstat link", os.path.islink(os.path.join(root, "dir/rel")), os.readlink(os.path.join(root, "dir/rel")))
print("scandir", sorted((e.name, e.is_dir(), e.is_file(), e.is_symlink()) for e in os.scandir(root)))
for dirpath, dirs, files in sorted(os.walk(root)):
    print("walk", rel(dirpath), sorted(dirs), sorted(files))
print("glob", sorted(rel(p) for p in glob.glob(os.path.join(root, "**"), recursive=True)))
print("pathlib", sorted(rel(p) for p in pathlib.Path(root).rglob("*.txt")))
print("pathlib read", pathlib.Path(root, "dir/sub/deep.txt").read_text().strip())
dst = os.path.join(outdir, "copytree")
shutil.copytree(root, dst, symlinks=True)
print("copytree", sorted((rel(p.replace(dst, root)), sha(p)) for p in glob.glob(dst + "/**", recursive=True) if os.path.isfile(p) and not os.path.islink(p)))
with open(os.path.join(root, "big.bin"), "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    print("mmap", len(m), hashlib.sha256(m[:]).hexdigest())
sys.path.insert(0, os.path.join(root, "py"))
import volpkg.mod  # noqa: E402  (stored on the tree)
print("import", volpkg.mod.VALUE, rel(volpkg.mod.__file__))
r = subprocess.run(["sha256sum", "big.bin", "a.txt"], cwd=root, capture_output=True, text=True)
print("subprocess", r.returncode, r.stdout.strip().replace("\n", " | "))
r = subprocess.run(["cat", os.path.join(root, "dir/sub/deep.txt")], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
print("subprocess stripped env", r.returncode, r.stdout.strip())
os.chdir(os.path.join(root, "dir"))
print("chdir getcwd", rel(os.getcwd()), rel(os.path.realpath("rel")), sorted(os.listdir("..")))
