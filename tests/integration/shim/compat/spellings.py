"""One cold file per spelling of an open fd: the bytes must be the file's."""
import hashlib, os, sys, threading

root = sys.argv[1]
def sha(b): return hashlib.sha256(b).hexdigest()[:16]

fd = os.open(f"{root}/cold1.bin", os.O_RDONLY)
print("/proc/PID/fd/N", sha(open(f"/proc/{os.getpid()}/fd/{fd}", "rb").read()))
fd = os.open(f"{root}/cold2.bin", os.O_RDONLY)
print("/proc/thread-self/fd/N", sha(open(f"/proc/thread-self/fd/{fd}", "rb").read()))
fd = os.open(f"{root}/cold3.bin", os.O_RDONLY)
os.dup2(fd, 0)
print("/dev/stdin after dup2", sha(open("/dev/stdin", "rb").read()))
fd = os.open(f"{root}/cold4.bin", os.O_RDONLY)
print("/dev/fd/N", sha(open(f"/dev/fd/{fd}", "rb").read()))
os.chdir(root)
cwd = os.open("/proc/self/cwd", os.O_RDONLY | os.O_DIRECTORY)
print("openat on /proc/self/cwd", sha(open(os.open("cold5.bin", os.O_RDONLY, dir_fd=cwd), "rb").read()))
print("/proc/self/cwd/name", sha(open("/proc/self/cwd/cold6.bin", "rb").read()))
print("/proc/self/root/path", sha(open(f"/proc/self/root{root}/cold7.bin", "rb").read()))
