"""A Unix socket bound at a path on a mount (CPython test_pathlib's is_socket)."""
import os, pathlib, socket, stat, sys

path = f"{sys.argv[1]}/sock/s"
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(1)
print("bound:", srv.getsockname() == path, pathlib.Path(path).is_socket(), stat.S_ISSOCK(os.lstat(path).st_mode))
cli = socket.socket(socket.AF_UNIX)
cli.connect(path)
conn, _ = srv.accept()
cli.sendall(b"ping")
print("received:", conn.recv(4), "peer:", cli.getpeername() == path)
os.unlink(path)
print("after unlink:", os.path.exists(path))
