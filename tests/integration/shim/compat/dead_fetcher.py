"""Kills the session's fetcher, then: present data is still readable, and each
change to the mount fails with EIO (the change itself is in the view)."""
import errno, os, signal, sys, time

root = sys.argv[1]
data = open(f"{root}/small/f1").read()
pid = int(open(os.environ["VOL_SESSION"] + "/fetcher.pid").read())
os.kill(pid, signal.SIGKILL)
time.sleep(0.5)
print("read present data:", open(f"{root}/small/f1").read() == data)
def attempt(what, fn):
    try:
        fn()
        print(what, "succeeded")
    except OSError as e:
        print(what, errno.errorcode.get(e.errno, e.errno))
attempt("create", lambda: open(f"{root}/new.txt", "w").close())
attempt("mkdir", lambda: os.mkdir(f"{root}/newdir"))
attempt("rename", lambda: os.rename(f"{root}/small/f2", f"{root}/small/f3"))
attempt("unlink", lambda: os.unlink(f"{root}/small/f1"))
attempt("chmod", lambda: os.chmod(f"{root}/bin", 0o700))
