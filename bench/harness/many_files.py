"""Case 4: a volume of VOL_BENCH_DIRS × VOL_BENCH_FILES_PER_DIR small files
(a million by default) and one of a VOL_BENCH_WIDE-entry directory, written
by build/bench/make_volume into a kept file:// store.

- start-up: `vol run -- true`, with the session's metadata cached (a warm vol
  cache and page cache: the same VOL_CACHE_DIR as a previous session) and
  without (an empty cache, page cache dropped); the whole command's time, and
  the fetcher's peak RSS: the largest VmHWM of the session's other vol
  processes, read from /proc by build/bench/timed inside the session as the
  program ends (the launcher's own peak is maxrss_kb of the whole tree).
- ls -l of the wide directory, in a new session with metadata cached, timed
  inside the session; against ls -l of a local directory of as many files.
- stat of random entries of one directory once it is listed
  (micro_shim BM_StatRandomInDir), in a session against a local directory of
  the same size.
"""
import os
import shutil

from .measure import CaseError, fresh_dir, repeat
from .micro import gbench
from .results import Ratio, Target


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    dirs, per_dir = cfg.size("VOL_BENCH_DIRS"), cfg.size("VOL_BENCH_FILES_PER_DIR")
    wide_n = cfg.size("VOL_BENCH_WIDE")
    files = dirs * per_dir
    cold = res.case("many.true_cold", "many_files", f"vol run -- true, {files:,} files, metadata not cached",
                    None, "vol run -v many:/mnt/m -- true (empty cache, page cache dropped)")
    warm = res.case("many.true_warm", "many_files", f"vol run -- true, {files:,} files, metadata cached",
                    None, "vol run -v many:/mnt/m -- true (cache of a previous session)")
    ls = res.case("wide.ls", "many_files", f"ls -l of a {wide_n:,}-entry directory (timed inside a session)",
                  None, "vol run -v wide:/mnt/w -- ls -l /mnt/w/d00000")
    ls_native = res.case("wide.ls_native", "many_files", f"ls -l of a local {wide_n:,}-entry directory", None,
                         "ls -l DIR")
    stat_vol = res.case("many.stat_random", "many_files",
                        f"stat of random entries of a listed {per_dir:,}-entry directory, in a mount", None,
                        "micro_shim BM_StatRandomInDir on /mnt/m/d00000")
    stat_native = res.case("many.stat_native", "many_files",
                           f"stat of random entries of a listed local {per_dir:,}-entry directory", None,
                           "micro_shim BM_StatRandomInDir on a local directory")
    try:
        store = fx.many
        local_wide = fx.local_dir(wide_n)
        local_dir = fx.local_dir(per_dir)
    except CaseError as e:
        for c in (cold, warm, ls, ls_native, stat_vol, stat_native):
            c.error = f"generating the volumes: {e}"
        return
    cache_cold = os.path.join(work, "cache-many-cold")
    cache_warm = fresh_dir(os.path.join(work, "cache-many"))
    cache_wide = fresh_dir(os.path.join(work, "cache-wide"))
    ls_out = os.path.join(work, "ls.out")

    def true_cold():
        fresh_dir(cache_cold)
        r.drop_caches()
        return r.session(["many:/mnt/m"], ["true"], env={"VOL_STORE": store, "VOL_CACHE_DIR": cache_cold},
                         peak=True)

    def true_warm():
        return r.session(["many:/mnt/m"], ["true"], env={"VOL_STORE": store, "VOL_CACHE_DIR": cache_warm},
                         peak=True)

    def check_ls(path, what):
        with open(path) as f:
            lines = sum(1 for _ in f)
        if lines != wide_n + 1:  # the "total" line, then one per entry
            raise CaseError(f"{what} printed {lines} lines for {wide_n} entries")

    def ls_vol():
        m = r.session(["wide:/mnt/w"], ["ls", "-l", "/mnt/w/d00000"], stdout=ls_out,
                      env={"VOL_STORE": store, "VOL_CACHE_DIR": cache_wide})
        check_ls(ls_out, "ls -l in the session")
        return m

    def ls_local():
        m = r.run(["ls", "-l", local_wide], stdout=ls_out)
        check_ls(ls_out, "ls -l")
        m["inner_wall_s"] = m["wall_s"]
        return m

    try:  # a first session fills the caches the "metadata cached" runs use
        r.run([cfg.vol, "run", "-v", "many:/mnt/m", "--", "true"], env={"VOL_STORE": store,
                                                                         "VOL_CACHE_DIR": cache_warm})
        r.run([cfg.vol, "run", "-v", "wide:/mnt/w", "--", "true"], env={"VOL_STORE": store,
                                                                         "VOL_CACHE_DIR": cache_wide})
        r.run(["ls", "-l", local_wide])
    except CaseError as e:
        warm.error = ls.error = f"warming up: {e}"
    repeat(res, cfg,
           [(cold, true_cold), (warm, true_warm), (ls, ls_vol), (ls_native, ls_local)])

    binary = cfg.tool("micro_shim")
    env = dict(r.env, VOL_STORE=store, VOL_CACHE_DIR=cache_warm)
    flt = "BM_StatRandomInDir"
    for case, cmd, e in (
            (stat_native, [binary], dict(env, BENCH_FILE=os.path.join(local_dir, "f000000"), BENCH_DIR=local_dir)),
            (stat_vol, [cfg.vol, "run", "-v", "many:/mnt/m", "--", binary],
             dict(env, BENCH_FILE="/mnt/m/d00000/f000000", BENCH_DIR="/mnt/m/d00000"))):
        try:
            for run in gbench(cfg, cmd, env=e, bench_filter=flt, work=work).get(flt, []):
                case.add(run)
            if not case.runs:
                case.error = "micro_shim reported nothing"
        except CaseError as err:
            case.error = str(err)
    for d in (cache_cold, cache_warm, cache_wide):
        shutil.rmtree(d, ignore_errors=True)

    res.targets.append(Target(f"vol run -- true on {files:,} files, metadata cached", "many.true_warm", "wall_s",
                              "<=", 0.3))
    res.targets.append(Target(f"vol run -- true on {files:,} files, not cached", "many.true_cold", "wall_s",
                              "<=", 1.0))
    res.targets.append(Target(f"fetcher peak RSS, vol run -- true on {files:,} files (nothing touched)",
                              "many.true_cold", "inner_peak_kb", "<=", 64, unit="MiB", scale=1 / 1024))
    res.targets.append(Target(f"ls -l of a {wide_n:,}-entry directory (inside the session)", "wide.ls",
                              "inner_wall_s", "<=", 1.0))
    res.ratios.append(Ratio(f"ls -l of a {wide_n:,}-entry directory vs local: time", "wide.ls", "wide.ls_native",
                            metric="inner_wall_s", speed=False))
    res.ratios.append(Ratio("stat of a random path (directory listed) vs native: time per call",
                            "many.stat_random", "many.stat_native", metric="ns", speed=False, op="<=", bound=2.0))
