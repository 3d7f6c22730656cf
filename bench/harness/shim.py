"""Case 5 (second half) and 6 (shim): the cost of stat, open+close and pread of
present data through a mount, against the same calls on a local file without
the shim. build/bench/micro_shim (Google Benchmark) runs three times:
  native       on the raw file, no shim;
  passthrough  inside `vol run`, on the raw file (a path outside any mount:
               what every call of a shimmed program pays);
  mount        inside `vol run`, on /mnt/v/big after its first MiBs were read
               (so the data is present and no fetch is timed).
"""
import os
import shutil

from .measure import CaseError, fresh_dir
from .micro import gbench
from .results import Ratio

# (Google Benchmark name, label, case id part)
CALLS = [("BM_Stat", "stat", "stat"), ("BM_OpenClose", "open+close", "open"),
         ("BM_Pread/4096", "pread 4 KiB", "pread4k"), ("BM_Pread/1048576", "pread 1 MiB", "pread1m")]
FILTER = "BM_Stat$|BM_OpenClose|BM_Pread"


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    modes = [("native", "native (no shim)"), ("passthrough", "shim, path outside mounts"),
             ("mount", "shim, path in a mount")]
    cases = {}
    for call, label, part in CALLS:
        for mode, mlabel in modes:
            cases[(call, mode)] = res.case(f"shim.{part}.{mode}", "shim", f"{label}: {mlabel}", None,
                                           "build/bench/micro_shim")
    binary = cfg.tool("micro_shim")
    cache = fresh_dir(os.path.join(work, "cache-shim"))
    env = dict(r.env, VOL_STORE=fx.file_store, VOL_CACHE_DIR=cache)
    present = 2 << 20  # micro_shim reads the first MiB; fetch the first chunk(s) before timing
    if fx.nbytes < present:
        for c in cases.values():
            c.error = "VOL_BENCH_MIB must be at least 2 for the shim benchmarks"
        return
    session = [cfg.vol, "run", "-v", "data:/mnt/v", "--"]
    runs = {}
    try:
        runs["native"] = gbench(cfg, [binary], env=dict(env, BENCH_FILE=fx.random), bench_filter=FILTER, work=work)
        runs["passthrough"] = gbench(cfg, session + [binary], env=dict(env, BENCH_FILE=fx.random),
                                     bench_filter=FILTER, work=work)
        runs["mount"] = gbench(cfg, session + ["sh", "-c", f'head -c {present} /mnt/v/big >/dev/null && exec "$0" "$@"',
                                               binary], env=dict(env, BENCH_FILE="/mnt/v/big"),
                               bench_filter=FILTER, work=work)
    except CaseError as e:
        for c in cases.values():
            if not c.runs:
                c.error = str(e)
    for (call, mode), case in cases.items():
        for run in runs.get(mode, {}).get(call, []):
            case.add(run)
        if not case.runs and not case.error:
            case.error = f"micro_shim reported no {call}"
    shutil.rmtree(cache, ignore_errors=True)

    for call, label, _ in CALLS:
        bound = 1.2 if call in ("BM_Stat", "BM_OpenClose") else None
        res.ratios.append(Ratio(f"{label} through a mount vs native: time per call",
                                cases[(call, "mount")].id, cases[(call, "native")].id, metric="ns", speed=False,
                                op="<=" if bound else None, bound=bound))
        res.ratios.append(Ratio(f"{label} through the shim, outside mounts vs native: time per call",
                                cases[(call, "passthrough")].id, cases[(call, "native")].id, metric="ns",
                                speed=False))
