"""vol: volumes for unmodified programs, from Python.

A volume is a write-once, read-many file system on object storage (a
file:// directory or an s3:// bucket). This package is shaped like
modal.Volume, so code written for Modal Volumes runs unchanged but for the
import:

    import io
    import vol

    v = vol.Volume.from_name("my-volume", create_if_missing=True)
    with v.batch_upload() as batch:
        batch.put_file("local-path.txt", "/remote-path.txt")
        batch.put_directory("/local/directory/", "/remote/directory")
        batch.put_file(io.BytesIO(b"some data"), "/foobar")

    # inside `vol run -v my-volume:/data -- python train.py`:
    with open("/data/xyz.txt", "w") as f:
        f.write("hello")
    v.commit()      # publishes the session's changes to my-volume now
    v.reload()      # the mount moves to the newest commit

See help(vol.Volume). It runs over libvol.so (include/vol/volume.h), not the
`vol` command; vol.__version__ is "VERSION+gCOMMIT" of that library, and
vol.version_info also says which store formats it reads and writes.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from ._native import StoreUnavailableError, lib
from .volume import FileEntry, FileEntryType, NothingToCommitWarning, Volume

__all__ = [
    "Volume",
    "FileEntry",
    "FileEntryType",
    "StoreUnavailableError",
    "NothingToCommitWarning",
    "version_info",
    "__version__",
]


class VersionInfo(NamedTuple):
    version: str  # "0.1.0"
    commit: str  # the commit libvol was built from ("…-dirty": with uncommitted changes)
    format_reads: int  # the newest store format it reads (every version from 1 up)
    format_writes: int  # the newest store format it writes (2 only for trees that need it)


def _version_info() -> VersionInfo:
    j = json.loads(lib.vol_version_json().decode())
    return VersionInfo(j["version"], j["commit"], j["format_reads"], j["format_writes"])


version_info = _version_info()
# PEP 440: the commit as a local version label, "0.1.0+g8623b6784c50".
__version__ = f"{version_info.version}+g{version_info.commit.replace('-', '.')}"
