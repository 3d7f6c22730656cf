"""The ctypes binding to libvol.so (include/vol/volume.h), and its errors.

Private: the public surface is vol.Volume. Every C call returns 0 or an errno
value; `check` turns a failure into the Python exception users expect, with
vol's one-line message as its text.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
from pathlib import Path
from typing import Any, List, Optional

__all__ = ["lib", "check", "take_string", "StoreUnavailableError", "remote", "local"]


class StoreUnavailableError(ConnectionError):
    """The volume's store did not answer (it is down, unreachable or timing
    out, after retries). The message names the store."""


def _candidates() -> List[str]:
    here = Path(__file__).resolve().parent
    found: List[str] = []
    env = os.environ.get("VOL_LIBRARY")
    if env:
        found.append(env)
    found.append(str(here / "libvol.so"))  # a wheel built by pip install ./python
    try:  # make install wrote where it put the library
        from . import _installed  # type: ignore[attr-defined]

        found.append(os.path.join(_installed.LIBDIR, "libvol.so"))
    except ImportError:
        pass
    found.append(str(here.parent.parent / "build" / "libvol.so"))  # a source checkout
    found.append("libvol.so")  # the dynamic loader's search path
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError(
        "vol: cannot load libvol.so (tried " + ", ".join(tried) + "): build it with `make`, "
        "install it with `make install`, or set VOL_LIBRARY to its path"
    )


lib = _load()

_c = ctypes
_p = _c.c_void_p
_s = _c.c_char_p
_prototypes = {
    "vol_last_error": (_s, []),
    "vol_free": (None, [_p]),
    "vol_version": (_s, []),
    "vol_version_json": (_s, []),
    "vol_open": (_c.c_int, [_s, _s, _s, _c.c_uint, _c.POINTER(_p)]),
    "vol_close": (None, [_p]),
    "vol_describe": (_c.c_int, [_p, _c.POINTER(_p)]),
    "vol_create": (_c.c_int, [_s, _s, _s, _c.c_int]),
    "vol_delete": (_c.c_int, [_s, _s, _s, _c.c_int]),
    "vol_list": (_c.c_int, [_s, _s, _c.POINTER(_p)]),
    "vol_listdir": (_c.c_int, [_p, _s, _c.c_int, _c.POINTER(_p)]),
    "vol_reader_open": (_c.c_int, [_p, _s, _c.POINTER(_p), _c.POINTER(_c.c_uint64)]),
    "vol_reader_next": (_c.c_int, [_p, _c.POINTER(_p), _c.POINTER(_c.c_size_t)]),
    "vol_reader_close": (None, [_p]),
    "vol_remove": (_c.c_int, [_p, _s, _c.c_int]),
    "vol_copy": (_c.c_int, [_p, _c.POINTER(_s), _c.c_size_t, _s, _c.c_int]),
    "vol_batch_begin": (_c.c_int, [_p, _c.c_int, _c.POINTER(_p)]),
    "vol_batch_put_file": (_c.c_int, [_p, _s, _s]),
    "vol_batch_put_directory": (_c.c_int, [_p, _s, _s]),
    "vol_batch_open_file": (_c.c_int, [_p, _s, _c.c_uint32, _c.POINTER(_p)]),
    "vol_writer_write": (_c.c_int, [_p, _s, _c.c_size_t]),
    "vol_writer_close": (_c.c_int, [_p]),
    "vol_writer_abort": (None, [_p]),
    "vol_batch_commit": (_c.c_int, [_p, _c.POINTER(_c.c_uint64)]),
    "vol_batch_abort": (None, [_p]),
    "vol_session_commit": (_c.c_int, [_p, _c.POINTER(_c.c_uint64), _c.POINTER(_c.c_uint64)]),
    "vol_session_reload": (_c.c_int, [_p]),
}
for _name, (_restype, _argtypes) in _prototypes.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

# errno value → the exception class vol raises for it.
_EXCEPTIONS = {
    errno.ENOENT: FileNotFoundError,
    errno.EEXIST: FileExistsError,
    errno.ENOTDIR: NotADirectoryError,
    errno.EISDIR: IsADirectoryError,
    errno.EROFS: PermissionError,
    errno.EACCES: PermissionError,
    errno.EINVAL: ValueError,
    errno.EHOSTUNREACH: StoreUnavailableError,
}


def error(code: int) -> Exception:
    """The exception for a failed call's code, with its message."""
    message = (lib.vol_last_error() or b"").decode("utf-8", "replace")
    cls = _EXCEPTIONS.get(code, OSError)
    if not issubclass(cls, OSError):
        return cls(message)
    e = cls(message)  # str(e) is vol's message alone
    e.errno = code
    e.strerror = message
    return e


def check(code: int) -> None:
    if code != 0:
        raise error(code)


def take_string(ptr: Optional[int]) -> str:
    """A string libvol allocated, freed after it is copied."""
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "surrogateescape")
    finally:
        lib.vol_free(ptr)


def take_json(ptr: Optional[int]) -> Any:
    return json.loads(take_string(ptr))


def remote(path: "str | os.PathLike[str]") -> bytes:
    """A path in a volume as libvol takes it."""
    return os.fspath(path).encode("utf-8", "surrogateescape")


def local(path: "str | os.PathLike[str]") -> bytes:
    """A local path as the operating system takes it."""
    return os.fsencode(path)


def optional(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else text.encode("utf-8")
