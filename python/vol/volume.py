"""vol.Volume: volumes from Python, shaped like modal.Volume."""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import os
import secrets
import warnings
from dataclasses import dataclass
from typing import BinaryIO, Iterator, List, Optional, Sequence, Union

from . import _native
from ._native import check, lib, local, optional, remote, take_json

__all__ = ["Volume", "FileEntry", "FileEntryType", "NothingToCommitWarning"]

_CHUNK = 4 << 20  # what a file object is read by: the store's chunk size

PathLike = Union[str, "os.PathLike[str]"]


class NothingToCommitWarning(UserWarning):
    """Volume.commit() outside a `vol run`/`vol shell` session that mounts the
    volume: there are no mounted changes to publish (changes made through the
    Volume object itself are committed as they are made)."""


class FileEntryType(enum.IntEnum):
    """What a FileEntry is (the values are modal.volume.FileEntryType's)."""

    UNSPECIFIED = 0
    FILE = 1
    DIRECTORY = 2
    SYMLINK = 3


_TYPES = {"file": FileEntryType.FILE, "dir": FileEntryType.DIRECTORY, "symlink": FileEntryType.SYMLINK}


@dataclass(frozen=True)
class FileEntry:
    """One entry of Volume.listdir(): `path` from the volume's root without a
    leading '/' ("data/train.bin"), `type`, `mtime` (seconds since the epoch),
    `size` (bytes; a directory: the bytes of everything below it), and, beyond
    Modal's fields, `mtime_ns`, `mode` (permission bits) and a symlink's
    `target`."""

    path: str
    type: FileEntryType
    mtime: int
    size: int
    mtime_ns: int = 0
    mode: int = 0
    target: Optional[str] = None


def _entry(j: dict) -> FileEntry:
    return FileEntry(
        path=j["path"],
        type=_TYPES.get(j["type"], FileEntryType.UNSPECIFIED),
        mtime=j["mtime_ns"] // 1_000_000_000,
        size=j["size"],
        mtime_ns=j["mtime_ns"],
        mode=j.get("mode", 0),
        target=j.get("target"),
    )


class _Volumes:
    """Volume.objects: create, list and delete volumes by name."""

    def create(
        self,
        name: str,
        *,
        environment_name: Optional[str] = None,
        allow_existing: bool = False,
        store: Optional[str] = None,
    ) -> None:
        """Create volume `name`. FileExistsError if it exists, unless
        `allow_existing`. Names: 1-64 of letters, digits, '.', '_', '-'."""
        check(lib.vol_create(optional(store), optional(environment_name), name.encode(), int(allow_existing)))

    def list(self, *, environment_name: Optional[str] = None, store: Optional[str] = None) -> List["Volume"]:
        """Every volume of the environment, by name."""
        out = ctypes.c_void_p()
        check(lib.vol_list(optional(store), optional(environment_name), ctypes.byref(out)))
        volumes = []
        for v in take_json(out.value):
            try:
                volumes.append(Volume.from_name(v["name"], environment_name=environment_name, store=store))
            except FileNotFoundError:
                pass  # deleted since it was listed
        return volumes

    def delete(
        self,
        name: str,
        *,
        environment_name: Optional[str] = None,
        allow_missing: bool = False,
        store: Optional[str] = None,
    ) -> None:
        """Delete volume `name`: the name goes at once; `vol gc` reclaims its
        data. FileNotFoundError if there is none, unless `allow_missing`."""
        check(lib.vol_delete(optional(store), optional(environment_name), name.encode(), int(allow_missing)))


class Volume:
    """A vol volume: a write-once, read-many file system on object storage,
    shaped like modal.Volume.

        import vol

        v = vol.Volume.from_name("my-volume", create_if_missing=True)
        with v.batch_upload() as batch:
            batch.put_file("local-path.txt", "/remote-path.txt")
            batch.put_directory("/local/directory/", "/remote/directory")
            batch.put_file(io.BytesIO(b"some data"), "/foobar")

        for entry in v.listdir("/", recursive=True):
            print(entry.path, entry.type.name, entry.size)
        data = b"".join(v.read_file("/foobar"))

    Every change (batch_upload, remove_file, copy_files) is one atomic commit
    of the volume; every read sees its newest commit. Programs can mount the
    volume with `vol run -v my-volume:/data -- python train.py`; inside such a
    session, commit() publishes the session's changes to the volume and
    reload() moves its mount to the newest commit:

        with open("/data/xyz.txt", "w") as f:
            f.write("hello")
        v.commit()      # publishes the session's changes to my-volume now
        v.reload()      # the mount moves to the newest commit

    The store is $VOL_STORE (file:///path or s3://bucket/prefix; inside a
    session, the session's store), else ~/.local/share/vol/store; the
    environment is $VOL_ENV, else "main". Errors are Python's, with vol's
    one-line message: FileNotFoundError, FileExistsError, NotADirectoryError,
    IsADirectoryError, PermissionError (a read-only volume, or the store
    refused the credentials), ValueError (a bad name or path), and
    vol.StoreUnavailableError (a ConnectionError) when the store does not
    answer, naming the store.
    """

    objects = _Volumes()

    def __init__(self, _handle: int, *, _read_only: bool = False) -> None:
        # Use Volume.from_name, Volume.objects or Volume.ephemeral.
        self._handle = _handle
        info = take_json(self._describe())
        self._name: str = info["name"]
        self._id: str = info["id"]
        self._env: str = info["env"]
        self._store: str = info["store"]
        self._read_only: bool = info["read_only"]

    def _describe(self) -> Optional[int]:
        out = ctypes.c_void_p()
        check(lib.vol_describe(self._handle, ctypes.byref(out)))
        return out.value

    def __del__(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            lib.vol_close(handle)

    def __repr__(self) -> str:
        ro = ", read_only=True" if self._read_only else ""
        return f"Volume({self._name!r}, environment_name={self._env!r}, store={self._store!r}{ro})"

    # --- finding volumes ----------------------------------------------------

    @classmethod
    def from_name(
        cls,
        name: str,
        *,
        environment_name: Optional[str] = None,
        create_if_missing: bool = False,
        read_only: bool = False,
        store: Optional[str] = None,
    ) -> "Volume":
        """The volume called `name` in the environment (default $VOL_ENV, else
        "main") of the store (default $VOL_STORE). FileNotFoundError when it
        does not exist, unless `create_if_missing`. A `read_only` volume
        refuses every change with PermissionError."""
        flags = (1 if create_if_missing else 0) | (2 if read_only else 0)
        handle = ctypes.c_void_p()
        check(lib.vol_open(optional(store), optional(environment_name), name.encode(), flags, ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    @contextlib.contextmanager
    def ephemeral(
        cls, *, environment_name: Optional[str] = None, store: Optional[str] = None
    ) -> Iterator["Volume"]:
        """A new, empty volume for the duration of a `with` block, deleted
        when the block exits (its data is reclaimed by `vol gc`).

            with vol.Volume.ephemeral() as v:
                ...
        """
        name = "ephemeral-" + secrets.token_hex(8)
        v = cls.from_name(name, environment_name=environment_name, create_if_missing=True, store=store)
        try:
            yield v
        finally:
            cls.objects.delete(name, environment_name=environment_name, allow_missing=True, store=v._store)

    def read_only(self) -> "Volume":
        """This volume, opened again read-only (as modal.Volume.read_only())."""
        return Volume.from_name(self._name, environment_name=self._env, read_only=True, store=self._store)

    @property
    def name(self) -> str:
        return self._name

    @property
    def object_id(self) -> str:
        """The volume's immutable id (a rename keeps it)."""
        return self._id

    @property
    def environment_name(self) -> str:
        return self._env

    @property
    def store(self) -> str:
        """The URL of the store the volume lives in."""
        return self._store

    @property
    def is_read_only(self) -> bool:
        return self._read_only

    # --- reading --------------------------------------------------------------

    def listdir(self, path: str, recursive: bool = False) -> List[FileEntry]:
        """The entries of the directory at `path` ("/" for the root), or the
        entry of the file at `path`; with `recursive`, everything below it,
        parents before children. FileNotFoundError when `path` is absent."""
        out = ctypes.c_void_p()
        check(lib.vol_listdir(self._handle, remote(path), int(recursive), ctypes.byref(out)))
        return [_entry(j) for j in take_json(out.value)]

    def iterdir(self, path: str, *, recursive: bool = True) -> Iterator[FileEntry]:
        """listdir() as an iterator; recursive by default, as Modal's."""
        yield from self.listdir(path, recursive=recursive)

    def read_file(self, path: str) -> Iterator[bytes]:
        """The content of the file at `path`, as an iterator of bytes (pieces
        of up to 4 MiB, each verified, fetched ahead in parallel).
        FileNotFoundError or IsADirectoryError are raised by this call."""
        return _FileReader(self, path)

    def read_file_into_fileobj(self, path: str, fileobj: BinaryIO) -> int:
        """Writes the content of the file at `path` into a binary file object;
        returns the number of bytes written."""
        n = 0
        for piece in self.read_file(path):
            fileobj.write(piece)
            n += len(piece)
        return n

    # --- changing (each call one commit) -----------------------------------

    def remove_file(self, path: str, recursive: bool = False) -> None:
        """Removes the file at `path`, or a directory and everything below it
        with `recursive` (IsADirectoryError without)."""
        check(lib.vol_remove(self._handle, remote(path), int(recursive)))

    def copy_files(self, src_paths: Sequence[str], dst_path: str, recursive: bool = False) -> None:
        """Copies within the volume like `cp`: into `dst_path` when it is a
        directory (or ends in '/'), else to `dst_path`. Directories need
        `recursive` and merge into an existing destination like `cp -r`.
        Only metadata is written: the copies share the data."""
        if isinstance(src_paths, (str, bytes, os.PathLike)):
            raise TypeError("copy_files takes a list of source paths")
        srcs = (ctypes.c_char_p * len(src_paths))(*[remote(p) for p in src_paths])
        check(lib.vol_copy(self._handle, srcs, len(src_paths), remote(dst_path), int(recursive)))

    def batch_upload(self, force: bool = False) -> "_BatchUpload":
        """A batch of uploads, committed as one commit when its `with` block
        exits without an exception, and not at all otherwise.

            with v.batch_upload() as batch:
                batch.put_file("local-path.txt", "/remote-path.txt")
                batch.put_directory("/local/directory/", "/remote/directory")
                batch.put_file(io.BytesIO(b"some data"), "/foobar")

        Without `force`, putting a file where the volume (or the batch)
        already has one raises FileExistsError. A file never replaces a
        directory (IsADirectoryError), nor a directory a file
        (NotADirectoryError). Content is uploaded as it is added."""
        return _BatchUpload(self, force)

    # --- the session this program runs in ------------------------------------

    def commit(self) -> None:
        """Inside a `vol run`/`vol shell` session that mounts this volume:
        publishes the session's changes to it now, as a new commit. Elsewhere
        there is nothing to commit, which a NothingToCommitWarning says."""
        code = lib.vol_session_commit(self._handle, None, None)
        if code in (errno.ENOTCONN, errno.ENOENT):
            warnings.warn(_native.error(code).args[0] + ": nothing to commit", NothingToCommitWarning, stacklevel=2)
            return
        check(code)

    def reload(self) -> None:
        """Inside a `vol run`/`vol shell` session that mounts this volume:
        commits the session's changes, then moves the mount to the volume's
        newest commit (files already open keep reading what they opened).
        Elsewhere it does nothing: every read already sees the newest commit."""
        code = lib.vol_session_reload(self._handle)
        if code in (errno.ENOTCONN, errno.ENOENT):
            return
        check(code)


class _FileReader:
    """Volume.read_file's iterator; the file is opened when it is made."""

    def __init__(self, volume: Volume, path: str) -> None:
        self._handle: Optional[int] = None
        self._volume = volume  # keeps the handle alive while reading
        handle = ctypes.c_void_p()
        size = ctypes.c_uint64()
        check(lib.vol_reader_open(volume._handle, remote(path), ctypes.byref(handle), ctypes.byref(size)))
        self._handle = handle.value
        self.size = size.value

    def __iter__(self) -> "_FileReader":
        return self

    def __next__(self) -> bytes:
        if not self._handle:
            raise StopIteration
        data = ctypes.c_void_p()
        n = ctypes.c_size_t()
        code = lib.vol_reader_next(self._handle, ctypes.byref(data), ctypes.byref(n))
        if code != 0:
            self.close()
            raise _native.error(code)
        if n.value == 0:
            self.close()
            raise StopIteration
        return ctypes.string_at(data.value, n.value)

    def close(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            lib.vol_reader_close(handle)

    __del__ = close


class _BatchUpload:
    """Volume.batch_upload()'s context manager: put_file, put_directory."""

    def __init__(self, volume: Volume, force: bool) -> None:
        self._volume = volume
        self._force = force
        self._handle: Optional[int] = None

    def __enter__(self) -> "_BatchUpload":
        handle = ctypes.c_void_p()
        check(lib.vol_batch_begin(self._volume._handle, int(self._force), ctypes.byref(handle)))
        self._handle = handle.value
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        handle, self._handle = self._handle, None
        if not handle:
            return
        if exc_type is not None:
            lib.vol_batch_abort(handle)
            return
        check(lib.vol_batch_commit(handle, None))

    def _live(self) -> int:
        if not self._handle:
            raise ValueError("use the batch inside its `with` block")
        return self._handle

    def put_file(
        self, local_file: Union[PathLike, BinaryIO], remote_path: str, mode: Optional[int] = None
    ) -> None:
        """Uploads a local file (a path) or a binary file object (read to its
        end) to `remote_path` (`remote_path`/NAME for a path when it ends in
        '/'). `mode`: the permission bits to store (default: the local file's,
        or 0o644 for a file object)."""
        if isinstance(local_file, (str, bytes, os.PathLike)) and mode is None:
            check(lib.vol_batch_put_file(self._live(), local(local_file), remote(remote_path)))
            return
        if isinstance(local_file, (str, bytes, os.PathLike)):
            if str(remote_path).endswith("/"):
                remote_path = str(remote_path) + os.path.basename(os.fsdecode(local_file))
            with open(local_file, "rb") as f:
                self._put_stream(f, remote_path, mode)
            return
        self._put_stream(local_file, remote_path, 0o644 if mode is None else mode)

    def _put_stream(self, fileobj: BinaryIO, remote_path: str, mode: int) -> None:
        writer = ctypes.c_void_p()
        check(lib.vol_batch_open_file(self._live(), remote(remote_path), mode, ctypes.byref(writer)))
        try:
            while True:
                data = fileobj.read(_CHUNK)
                if not data:
                    break
                if isinstance(data, str):
                    raise TypeError("put_file needs a binary file object (open the file with 'rb')")
                data = bytes(data)
                check(lib.vol_writer_write(writer.value, data, len(data)))
        except BaseException:
            lib.vol_writer_abort(writer.value)  # the batch gets no part of this file
            raise
        check(lib.vol_writer_close(writer.value))

    def put_directory(self, local_path: PathLike, remote_path: str, recursive: bool = True) -> None:
        """Uploads the contents of a local directory into directory
        `remote_path` (created with its missing parents); subdirectories too
        unless `recursive` is False."""
        if recursive:
            check(lib.vol_batch_put_directory(self._live(), local(local_path), remote(remote_path)))
            return
        base = os.fspath(local_path)
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if os.path.isfile(path):
                self.put_file(path, remote(remote_path).decode("utf-8", "surrogateescape").rstrip("/") + "/" + name)
