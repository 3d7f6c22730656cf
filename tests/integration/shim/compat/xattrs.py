"""vol publishes user.* extended attributes only: others are refused on a
writable mount (ENOTSUP) instead of vanishing at the next commit; chown works."""
import errno, os, sys

f = f"{sys.argv[1]}/small/f1"
def attempt(what, fn):
    try:
        r = fn()
        print(what, "ok" if r is None else r)
    except OSError as e:
        print(what, errno.errorcode.get(e.errno, e.errno))
attempt("setxattr user.a", lambda: os.setxattr(f, "user.a", b"1"))
attempt("getxattr user.a", lambda: os.getxattr(f, "user.a"))
attempt("setxattr trusted.a", lambda: os.setxattr(f, "trusted.a", b"1"))
attempt("setxattr security.a", lambda: os.setxattr(f, "security.a", b"1"))
attempt("lsetxattr trusted.a", lambda: os.setxattr(f, "trusted.a", b"1", follow_symlinks=False))
fd = os.open(f, os.O_RDONLY)
attempt("fsetxattr trusted.a", lambda: os.setxattr(fd, "trusted.a", b"1"))
attempt("fsetxattr user.b", lambda: os.setxattr(fd, "user.b", b"2"))
attempt("removexattr trusted.a", lambda: os.removexattr(f, "trusted.a"))
attempt("removexattr user.a", lambda: os.removexattr(f, "user.a"))
st = os.stat(f)
attempt("chown", lambda: os.chown(f, st.st_uid, st.st_gid))
attempt("lchown", lambda: os.lchown(f, st.st_uid, st.st_gid))
attempt("fchown", lambda: os.fchown(fd, st.st_uid, st.st_gid))
