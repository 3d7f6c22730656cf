"""Case 5 (first half): the head of a cold VOL_BENCH_BIG_MIB file (4 GiB by
default, in a kept file:// store): `head -c 4096` in a new session with an
empty cache; VOL_STATS store_bytes is what the session fetched, which must
stay at most 16 MiB however big the file. The 4096 bytes are checked."""
import hashlib
import os
import shutil

from .measure import CaseError, fresh_dir, repeat
from .results import MIB, Target


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    mib = cfg.size("VOL_BENCH_BIG_MIB")
    case = res.case("head.cold", "head", f"head -c 4096 of a cold {mib:,} MiB file", None,
                    "vol run -v big:/mnt/b -- head -c 4096 /mnt/b/big")
    try:
        store, head_sha = fx.big
    except CaseError as e:
        case.error = f"generating the volume: {e}"
        return
    cache = os.path.join(work, "cache-head")
    out = os.path.join(work, "head.out")

    def head():
        fresh_dir(cache)
        r.drop_caches()
        m = r.session(["big:/mnt/b"], ["head", "-c", "4096", "/mnt/b/big"], stdout=out,
                      env={"VOL_STORE": store, "VOL_CACHE_DIR": cache})
        with open(out, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != head_sha:
                raise CaseError("head -c 4096 through the mount returned different bytes")
        return m

    repeat(res, cfg, [(case, head)])
    shutil.rmtree(cache, ignore_errors=True)
    res.targets.append(Target(f"head of a cold {mib:,} MiB file: bytes fetched", "head.cold", "store_bytes", "<=", 16,
                              unit="MiB", scale=1 / MIB, stat="max"))
