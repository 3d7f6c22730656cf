"""A PEP 517 build backend for the vol package that needs nothing but Python.

`pip install ./python` calls build_wheel. The wheel holds the package and
libvol.so: the repository's build/libvol.so ($VOL_LIBRARY if set), made with
`make build/libvol.so` when it is not built yet. It is tagged for this
platform, since it carries a native library.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sysconfig
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NAME = "vol"


def _version() -> str:
    try:
        return (REPO / "VERSION").read_text().strip()
    except OSError:
        return "0.0.0"


def _library() -> Path:
    if os.environ.get("VOL_LIBRARY"):
        return Path(os.environ["VOL_LIBRARY"])
    lib = REPO / "build" / "libvol.so"
    if not lib.exists() and (REPO / "Makefile").exists():
        subprocess.run(["make", "-C", str(REPO), "build/libvol.so"], check=True)
    if not lib.exists():
        raise RuntimeError(f"vol: {lib} is missing: run make in the repository, or set VOL_LIBRARY")
    return lib


def _tag() -> str:
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _files() -> List[Tuple[str, bytes]]:
    out = []
    for path in sorted((HERE / NAME).iterdir()):
        if path.suffix == ".py" or path.name == "py.typed":
            if path.name == "_installed.py":
                continue  # written by make install only
            out.append((f"{NAME}/{path.name}", path.read_bytes()))
    out.append((f"{NAME}/libvol.so", _library().read_bytes()))
    return out


def _metadata(version: str) -> bytes:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        "Summary: Volumes on object storage for unmodified programs (shaped like modal.Volume)\n"
        "Requires-Python: >=3.9\n"
    ).encode()


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None,
                metadata_directory: Optional[str] = None) -> str:
    version = _version()
    info = f"{NAME}-{version}.dist-info"
    files = _files()
    files.append((f"{info}/METADATA", _metadata(version)))
    files.append((f"{info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: vol build_backend\nRoot-Is-Purelib: false\n"
        f"Tag: {_tag()}\n").encode()))
    record = "\n".join(_record_line(n, d) for n, d in files) + f"\n{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    filename = f"{NAME}-{version}-{_tag()}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            mode = 0o755 if name.endswith(".so") else 0o644
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return filename
