"""rsync's walk: a dirfd on "/" (O_PATH), then fstatat/openat relative to it."""
import os, stat, sys

root = sys.argv[1]
fd = os.open("/", os.O_PATH)
st = os.stat(root[1:], dir_fd=fd)
print("stat relative to /:", stat.S_ISDIR(st.st_mode))
parent = os.open(os.path.dirname(root)[1:], os.O_PATH | os.O_DIRECTORY, dir_fd=fd)
print("stat relative to the parent:", stat.S_ISDIR(os.stat(os.path.basename(root), dir_fd=parent).st_mode))
d = os.open(root[1:] + "/small", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
print("listing through the dirfd:", sorted(os.listdir(d)))
f = os.open("f1", os.O_RDONLY, dir_fd=d)
print("read through the dirfd:", os.read(f, 100))
print("scandir of the parent:", sorted(e.name for e in os.scandir(os.path.dirname(root))))
print("walk from the parent:", sorted(p for p, _, _ in os.walk(os.path.dirname(root)))[:3])
