"""The Python package vol, against the store in $VOL_STORE (file:// or RGW).

Run by tests/integration/python_test.sh, one TestCase class per bash test, in
a fresh store and working directory. Ground truth is always the same thing
done on a local directory (bytes, sizes, modes, listings), or `vol`, the
command, reading what the package wrote.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import secrets
import subprocess
import sys
import tempfile
import unittest
import warnings
from pathlib import Path

import vol

VOL = os.environ["VOL"]  # the vol command, to check what the package did


def cli(*args: str, stdin: bytes = b"") -> str:
    r = subprocess.run([VOL, *args], input=stdin, capture_output=True, check=True)
    return r.stdout.decode()


def fresh_name() -> str:
    return "t-" + secrets.token_hex(4)


def write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


class Case(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(dir=os.getcwd()))
        self.name = fresh_name()
        self.v = vol.Volume.from_name(self.name, create_if_missing=True)

    def history(self, name: str = "") -> int:
        return len(cli("history", name or self.name).splitlines()) - 1


class TestIssueExamples(Case):
    """The issue's example, as written (but for the local files it names)."""

    def test_batch_upload_example(self) -> None:
        os.chdir(self.tmp)
        write(Path("local-path.txt"), b"local file\n")
        local_dir = self.tmp / "local" / "directory"
        write(local_dir / "a.txt", b"a\n")
        write(local_dir / "sub" / "b.bin", os.urandom(5_000_000))
        src = f"""
import io
import vol

v = vol.Volume.from_name("my-volume", create_if_missing=True)
with v.batch_upload() as batch:
    batch.put_file("local-path.txt", "/remote-path.txt")
    batch.put_directory("{local_dir}/", "/remote/directory")
    batch.put_file(io.BytesIO(b"some data"), "/foobar")
"""
        subprocess.run([sys.executable, "-c", src], check=True)
        self.assertEqual(cli("get", "my-volume", "/remote-path.txt", "-"), "local file\n")
        self.assertEqual(cli("get", "my-volume", "/foobar", "-"), "some data")
        cli("get", "my-volume", "/remote/directory", str(self.tmp / "got"))
        for rel in ("a.txt", "sub/b.bin"):
            self.assertEqual((self.tmp / "got" / rel).read_bytes(), (local_dir / rel).read_bytes(), rel)
        self.assertEqual(self.history("my-volume"), 1, "one batch, one commit")

    def test_session_example(self) -> None:
        os.chdir(self.tmp)
        Path("train.py").write_text(
            """
import vol

v = vol.Volume.from_name("my-volume", create_if_missing=True)

# inside `vol run -v my-volume:/data -- python train.py`:
with open("/data/xyz.txt", "w") as f:
    f.write("hello")
v.commit()      # publishes the session's changes to my-volume now
v.reload()      # the mount moves to the newest commit
"""
        )
        cli("create", "--allow-existing", "my-volume")
        subprocess.run([VOL, "run", "-v", "my-volume:/data", "--commit-every", "0", "--", sys.executable, "train.py"], check=True)
        self.assertEqual(cli("get", "my-volume", "/xyz.txt", "-"), "hello")


class TestVolumes(Case):
    def test_from_name(self) -> None:
        with self.assertRaises(FileNotFoundError) as e:
            vol.Volume.from_name("missing-" + self.name)
        self.assertIn("not found", str(e.exception))
        self.assertEqual(e.exception.errno, errno.ENOENT)
        v = vol.Volume.from_name("made-" + self.name, create_if_missing=True)
        self.assertEqual(v.name, "made-" + self.name)
        self.assertEqual(v.environment_name, "main")
        self.assertEqual(v.store, os.environ["VOL_STORE"])
        self.assertRegex(v.object_id, "^[0-9a-f]{32}$")
        self.assertEqual(vol.Volume.from_name("made-" + self.name).object_id, v.object_id)
        self.assertIn("made-" + self.name, cli("list"))

    def test_objects_create_list_delete(self) -> None:
        vol.Volume.objects.create("a-" + self.name)
        with self.assertRaises(FileExistsError):
            vol.Volume.objects.create("a-" + self.name)
        vol.Volume.objects.create("a-" + self.name, allow_existing=True)
        vol.Volume.objects.create("b-" + self.name, environment_name="other")
        names = [v.name for v in vol.Volume.objects.list()]
        self.assertIn("a-" + self.name, names)
        self.assertNotIn("b-" + self.name, names)
        self.assertEqual([v.name for v in vol.Volume.objects.list(environment_name="other")], ["b-" + self.name])
        self.assertEqual(vol.Volume.from_name("b-" + self.name, environment_name="other").environment_name, "other")
        vol.Volume.objects.delete("a-" + self.name)
        self.assertNotIn("a-" + self.name, [v.name for v in vol.Volume.objects.list()])
        with self.assertRaises(FileNotFoundError):
            vol.Volume.objects.delete("a-" + self.name)
        vol.Volume.objects.delete("a-" + self.name, allow_missing=True)
        with self.assertRaises(ValueError):
            vol.Volume.objects.create("bad/name")

    def test_ephemeral(self) -> None:
        with vol.Volume.ephemeral() as v:
            with v.batch_upload() as b:
                b.put_file(io.BytesIO(b"x"), "/x")
            self.assertIn(v.name, cli("list"))
            name = v.name
        self.assertNotIn(name, cli("list"))
        with self.assertRaises(RuntimeError):
            with vol.Volume.ephemeral() as v:
                name = v.name
                raise RuntimeError("boom")
        self.assertNotIn(name, cli("list"), "deleted on an exception too")

    def test_read_only(self) -> None:
        with self.v.batch_upload() as b:
            b.put_file(io.BytesIO(b"x"), "/x")
        for ro in (vol.Volume.from_name(self.name, read_only=True), self.v.read_only()):
            self.assertTrue(ro.is_read_only)
            self.assertEqual(b"".join(ro.read_file("/x")), b"x")
            with self.assertRaises(PermissionError) as e:
                ro.remove_file("/x")
            self.assertIn("read-only", str(e.exception))
            with self.assertRaises(PermissionError):
                ro.copy_files(["/x"], "/y")
            with self.assertRaises(PermissionError):
                with ro.batch_upload() as b:
                    b.put_file(io.BytesIO(b"y"), "/y")
        self.assertEqual(self.history(), 1)


class TestReading(Case):
    def setUp(self) -> None:
        super().setUp()
        self.src = self.tmp / "src"
        write(self.src / "small.txt", b"hello\n", 0o640)
        write(self.src / "big.bin", os.urandom(9_500_000))
        write(self.src / "d" / "e" / "deep.txt", b"deep\n", 0o600)
        (self.src / "empty").mkdir()
        os.symlink("small.txt", self.src / "link")
        cli("put", self.name, str(self.src) + "/", "/")

    def test_listdir_matches_the_local_tree(self) -> None:
        top = {e.path: e for e in self.v.listdir("/")}
        self.assertEqual(sorted(top), ["big.bin", "d", "empty", "link", "small.txt"])
        for name in ("small.txt", "big.bin"):
            st = os.stat(self.src / name)
            e = top[name]
            self.assertEqual(e.type, vol.FileEntryType.FILE)
            self.assertEqual(e.size, st.st_size)
            self.assertEqual(e.mtime, int(st.st_mtime))
            self.assertEqual(e.mtime_ns, st.st_mtime_ns)
            self.assertEqual(e.mode, st.st_mode & 0o7777)
        self.assertEqual(top["d"].type, vol.FileEntryType.DIRECTORY)
        self.assertEqual(top["link"].type, vol.FileEntryType.SYMLINK)
        self.assertEqual(top["link"].target, "small.txt")
        local = sorted(str(p.relative_to(self.src)) for p in self.src.rglob("*"))
        self.assertEqual([e.path for e in self.v.listdir("/", recursive=True)], local)
        self.assertEqual([e.path for e in self.v.iterdir("/d")], ["d/e", "d/e/deep.txt"])
        self.assertEqual([e.path for e in self.v.listdir("/d", recursive=False)], ["d/e"])
        self.assertEqual([(e.path, e.size) for e in self.v.listdir("/d/e/deep.txt")], [("d/e/deep.txt", 5)])
        self.assertEqual(self.v.listdir("/empty"), [])
        with self.assertRaises(FileNotFoundError):
            self.v.listdir("/nope")

    def test_read_file(self) -> None:
        pieces = list(self.v.read_file("/big.bin"))
        self.assertEqual(b"".join(pieces), (self.src / "big.bin").read_bytes())
        self.assertEqual([len(p) for p in pieces], [4 << 20, 4 << 20, 9_500_000 - (8 << 20)])
        self.assertEqual(b"".join(self.v.read_file("d/e/deep.txt")), b"deep\n")
        out = io.BytesIO()
        self.assertEqual(self.v.read_file_into_fileobj("/big.bin", out), 9_500_000)
        self.assertEqual(hashlib.sha256(out.getvalue()).digest(), hashlib.sha256((self.src / "big.bin").read_bytes()).digest())
        with self.assertRaises(FileNotFoundError):
            self.v.read_file("/nope")
        with self.assertRaises(IsADirectoryError):
            self.v.read_file("/d")
        with self.assertRaises(ValueError):
            self.v.read_file("/../escape")

    def test_read_file_sees_the_newest_commit(self) -> None:
        cli("put", "--force", self.name, "-", "/small.txt", stdin=b"changed\n")
        self.assertEqual(b"".join(self.v.read_file("/small.txt")), b"changed\n")


class TestChanging(Case):
    def test_remove_file(self) -> None:
        cli("put", self.name, str(write(self.tmp / "f", b"f")), "/a/f")
        cli("put", self.name, str(write(self.tmp / "g", b"g")), "/g")
        with self.assertRaises(IsADirectoryError):
            self.v.remove_file("/a")
        self.v.remove_file("/g")
        self.assertEqual([e.path for e in self.v.listdir("/")], ["a"])
        self.v.remove_file("/a", recursive=True)
        self.assertEqual(self.v.listdir("/"), [])
        with self.assertRaises(FileNotFoundError):
            self.v.remove_file("/g")
        with self.assertRaises(ValueError):
            self.v.remove_file("/")
        self.assertEqual(self.history(), 4)

    def test_copy_files_like_cp(self) -> None:
        src = self.tmp / "src"
        write(src / "a" / "one", b"1")
        write(src / "a" / "sub" / "two", b"2")
        write(src / "x", b"x")
        write(src / "sub", b"a file named sub")
        write(src / "b" / "a" / "only-in-b", b"b")
        cli("put", self.name, str(src) + "/", "/")
        self.v.copy_files(["/x"], "/x2")
        self.v.copy_files(["/x", "/a/one"], "/b")
        with self.assertRaises(IsADirectoryError):
            self.v.copy_files(["/a"], "/c")  # a directory needs recursive
        # /a onto /b, which has /b/a: merged like cp -r (only-in-b stays).
        self.v.copy_files(["/a"], "/b", recursive=True)
        self.v.copy_files(["/a"], "/fresh", recursive=True)
        got = sorted(e.path for e in self.v.listdir("/", recursive=True) if e.type == vol.FileEntryType.FILE)
        self.assertEqual(got, ["a/one", "a/sub/two", "b/a/one", "b/a/only-in-b", "b/a/sub/two", "b/one", "b/x",
                               "fresh/one", "fresh/sub/two", "sub", "x", "x2"])
        self.assertEqual(b"".join(self.v.read_file("/b/a/sub/two")), b"2")
        self.assertEqual(b"".join(self.v.read_file("/b/a/only-in-b")), b"b")
        with self.assertRaises(NotADirectoryError):
            self.v.copy_files(["/x", "/a/one"], "/x2")  # several sources need a directory
        with self.assertRaises(IsADirectoryError):
            self.v.copy_files(["/sub"], "/a")  # the file /sub onto the directory /a/sub
        with self.assertRaises(NotADirectoryError):
            self.v.copy_files(["/a/sub"], "/b/x", recursive=True)  # a directory onto a file
        with self.assertRaises(ValueError):
            self.v.copy_files(["/a"], "/a/inside", recursive=True)
        with self.assertRaises(FileNotFoundError):
            self.v.copy_files(["/nope"], "/y")
        with self.assertRaises(TypeError):
            self.v.copy_files("/x", "/y")  # a list, as Modal's
        self.assertEqual(self.history(), 5, "one put, four copies")

    def test_batch_upload(self) -> None:
        local = self.tmp / "tree"
        write(local / "top.txt", b"top\n", 0o600)
        write(local / "in" / "deep.bin", os.urandom(6_000_000))
        big = write(self.tmp / "big.bin", os.urandom(10_000_000), 0o755)
        with self.v.batch_upload() as b:
            b.put_file(big, "/files/")  # a remote directory: the file keeps its name
            b.put_file(str(big), "/renamed.bin")
            b.put_file(io.BytesIO(b"stream"), "/s/stream.txt", mode=0o600)
            with open(big, "rb") as f:
                b.put_file(f, "/from-fileobj.bin")
            b.put_directory(local, "/dir")
            b.put_directory(str(local), "/flat", recursive=False)
        self.assertEqual(self.history(), 1)
        cli("get", self.name, "/dir", str(self.tmp / "got-dir"))
        self.assertEqual(subprocess.run(["diff", "-r", str(local), str(self.tmp / "got-dir")]).returncode, 0)
        for remote in ("/files/big.bin", "/renamed.bin", "/from-fileobj.bin"):
            self.assertEqual(b"".join(self.v.read_file(remote)), big.read_bytes(), remote)
        entries = {e.path: e for e in self.v.listdir("/", recursive=True)}
        self.assertEqual(entries["renamed.bin"].mode, 0o755)
        self.assertEqual(entries["s/stream.txt"].mode, 0o600)
        self.assertEqual(entries["dir/top.txt"].mode, 0o600)
        self.assertEqual([e.path for e in self.v.listdir("/flat")], ["flat/top.txt"])

    def test_batch_upload_is_one_commit_or_none(self) -> None:
        with self.assertRaises(RuntimeError):
            with self.v.batch_upload() as b:
                b.put_file(io.BytesIO(b"1"), "/one")
                raise RuntimeError("the block failed")
        self.assertEqual(self.history(), 0, "an exception in the block: no commit")
        self.assertEqual(self.v.listdir("/"), [])
        with self.assertRaises(FileNotFoundError):
            with self.v.batch_upload() as b:
                b.put_file(io.BytesIO(b"1"), "/one")
                b.put_file(self.tmp / "no-such-file", "/two")
        self.assertEqual(self.history(), 0)
        with self.v.batch_upload() as b:
            pass
        self.assertEqual(self.history(), 0, "an empty batch commits nothing")

    def test_batch_upload_force_and_conflicts(self) -> None:
        with self.v.batch_upload() as b:
            b.put_file(io.BytesIO(b"1"), "/f")
            b.put_file(io.BytesIO(b"d"), "/d/x")
        with self.assertRaises(FileExistsError) as e:
            with self.v.batch_upload() as b:
                b.put_file(io.BytesIO(b"2"), "/f")
        self.assertIn("/f already exists in the volume (use force=True to overwrite)", str(e.exception))
        with self.assertRaises(FileExistsError):
            with self.v.batch_upload() as b:
                b.put_file(io.BytesIO(b"2"), "/new")
                b.put_file(io.BytesIO(b"3"), "/new")  # twice in one batch
        with self.v.batch_upload(force=True) as b:
            b.put_file(io.BytesIO(b"2"), "/f")
            b.put_file(io.BytesIO(b"3"), "/f")
        self.assertEqual(b"".join(self.v.read_file("/f")), b"3")
        with self.assertRaises(IsADirectoryError):
            with self.v.batch_upload(force=True) as b:
                b.put_file(io.BytesIO(b"x"), "/d")
        with self.assertRaises(NotADirectoryError):
            with self.v.batch_upload(force=True) as b:
                b.put_file(io.BytesIO(b"x"), "/f/under-a-file")
        with self.assertRaises(NotADirectoryError):
            with self.v.batch_upload(force=True) as b:
                b.put_directory(self.tmp, "/f")
        with self.assertRaises(IsADirectoryError):
            with self.v.batch_upload() as b:
                b.put_file(self.tmp, "/t")
        with self.assertRaises(NotADirectoryError):
            with self.v.batch_upload() as b:
                b.put_directory(write(self.tmp / "plain", b"p"), "/t")
        with self.assertRaises(TypeError):
            with self.v.batch_upload() as b:
                b.put_file(io.StringIO("text"), "/t")
        self.assertEqual(self.history(), 2)

    def test_a_stream_failing_half_way_adds_nothing(self) -> None:
        class Failing(io.RawIOBase):
            def __init__(self) -> None:
                self.n = 0

            def readable(self) -> bool:
                return True

            def read(self, size: int = -1) -> bytes:
                self.n += 1
                if self.n > 2:
                    raise OSError("disk gone")
                return os.urandom(size if size > 0 else 1000)

        with self.v.batch_upload() as b:
            b.put_file(io.BytesIO(b"ok"), "/ok")
            with self.assertRaises(OSError):
                b.put_file(Failing(), "/partial")
        self.assertEqual([e.path for e in self.v.listdir("/")], ["ok"])


class TestErrors(Case):
    def test_errors_are_pythons_with_vols_message(self) -> None:
        cases = [
            (FileNotFoundError, lambda: self.v.listdir("/missing"), "no such path in volume '%s': /missing" % self.name),
            (IsADirectoryError, lambda: self.v.read_file("/"), "/ is a directory"),
            (ValueError, lambda: vol.Volume.from_name("no spaces"), "invalid volume name 'no spaces'"),
            (ValueError, lambda: self.v.listdir("/../.."), "escapes the volume root"),
        ]
        for cls, call, text in cases:
            with self.assertRaises(cls) as e:
                call()
            self.assertIn(text, str(e.exception))
            self.assertNotIn("\n", str(e.exception))
        with self.assertRaises(OSError):  # all but ValueError are OSErrors with an errno
            self.v.listdir("/missing")

    def test_a_store_that_is_down_names_the_store(self) -> None:
        env = dict(os.environ, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="k",
                   AWS_SECRET_ACCESS_KEY="s", VOL_S3_MAX_ATTEMPTS="2", VOL_S3_TIMEOUT_MS="3000")
        src = """
import vol
try:
    vol.Volume.from_name("v", store="s3://down-bucket/prefix")
except vol.StoreUnavailableError as e:
    assert isinstance(e, ConnectionError)
    print(e)
"""
        out = subprocess.run([sys.executable, "-c", src], env=env, capture_output=True, text=True, check=True).stdout
        self.assertIn("s3://down-bucket/prefix", out)
        self.assertIn("127.0.0.1:9", out)


class TestSession(Case):
    def test_commit_and_reload_inside_vol_run(self) -> None:
        os.chdir(self.tmp)
        Path("job.py").write_text(
            f"""
import io, os, vol
v = vol.Volume.from_name("{self.name}")
open("/data/written.txt", "w").write("by the session")
v.commit()
# Another writer, as from another machine:
other = vol.Volume.from_name("{self.name}")
print("committed:", [e.path for e in other.listdir("/")])
with other.batch_upload() as b:
    b.put_file(io.BytesIO(b"from elsewhere"), "/elsewhere.txt")
print("before reload:", os.path.exists("/data/elsewhere.txt"))
v.reload()
print("after reload:", open("/data/elsewhere.txt").read())
# A volume this session did not mount: nothing to commit, reload does nothing.
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    vol.Volume.from_name("unmounted-{self.name}", create_if_missing=True).commit()
print("unmounted:", w[0].category.__name__, str(w[0].message))
"""
        )
        out = subprocess.run([VOL, "run", "-v", f"{self.name}:/data", "--commit-every", "0", "--",
                              sys.executable, "job.py"], capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], "committed: ['written.txt']")
        self.assertEqual(lines[1], "before reload: False")
        self.assertEqual(lines[2], "after reload: from elsewhere")
        self.assertRegex(lines[3], r"^unmounted: NothingToCommitWarning volume 'unmounted-.*' is not mounted in this session .*: nothing to commit$")

    def test_outside_a_session(self) -> None:
        env_session = os.environ.pop("VOL_SESSION", None)
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                self.v.commit()
            self.assertEqual(len(w), 1)
            self.assertIs(w[0].category, vol.NothingToCommitWarning)
            self.assertIn("nothing to commit", str(w[0].message))
            self.v.reload()  # a no-op
        finally:
            if env_session is not None:
                os.environ["VOL_SESSION"] = env_session


class TestPackage(unittest.TestCase):
    def test_version(self) -> None:
        out = cli("--version").splitlines()
        self.assertIn(f"(commit {vol.version_info.commit})", out[0])
        self.assertTrue(out[0].startswith(f"vol {vol.version_info.version} "))
        self.assertTrue(vol.__version__.startswith(vol.version_info.version + "+g"))
        self.assertEqual(out[1], f"store format: reads versions 1 to {vol.version_info.format_reads}, "
                                 f"writes versions 1 to {vol.version_info.format_writes}")

    def test_help_reads_like_the_readme(self) -> None:
        text = vol.Volume.__doc__ or ""
        for needle in ("vol.Volume.from_name(\"my-volume\", create_if_missing=True)", "batch.put_file(",
                       "v.commit()", "v.reload()", "FileNotFoundError"):
            self.assertIn(needle, text)
        for method in ("from_name", "ephemeral", "listdir", "iterdir", "read_file", "read_file_into_fileobj",
                       "remove_file", "copy_files", "batch_upload", "commit", "reload"):
            self.assertTrue(getattr(vol.Volume, method).__doc__, method)

    def test_source_is_python_3_9(self) -> None:
        import ast

        for path in Path(vol.__file__).parent.glob("*.py"):
            ast.parse(path.read_text(), str(path), feature_version=(3, 9))


if __name__ == "__main__":
    unittest.main()
