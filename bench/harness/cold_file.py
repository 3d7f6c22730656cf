"""Case 2: cold read of VOL_BENCH_MIB random bytes from a file:// store on local disk.

`vol run -- cat` through a mount against `cat` of the raw bytes, and `vol get`
to a file against `cp` of the raw file, with an empty vol cache and the page
cache dropped before every repetition (so the store's files and the raw file
both come from disk).
"""
import os
import shutil

from .measure import check_same, fresh_dir, repeat
from .results import Ratio


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    n = fx.nbytes
    cases = {
        "file.vol_cat": res.case("file.vol_cat", "cold_file", "vol run -- cat (mount)", n,
                                 "vol run -v data:/mnt/v -- cat /mnt/v/big > /dev/null"),
        "file.cat": res.case("file.cat", "cold_file", "cat of the raw bytes", n, "cat RAW > /dev/null"),
        "file.vol_get": res.case("file.vol_get", "cold_file", "vol get → file", n, "vol get data /big OUT"),
        "file.cp": res.case("file.cp", "cold_file", "cp of the raw file", n, "cp RAW OUT"),
    }
    store = fx.file_store
    cache = os.path.join(work, "cache")
    out_dir = os.path.join(work, "out")
    out = os.path.join(out_dir, "big")
    vol_env = {"VOL_STORE": store, "VOL_CACHE_DIR": cache}

    def cold():
        fresh_dir(cache)
        fresh_dir(out_dir)
        r.drop_caches()

    def vol_cat():
        cold()
        return r.session(["data:/mnt/v"], ["cat", "/mnt/v/big"], env=vol_env)

    def cat():
        cold()
        return r.run(["cat", fx.random])

    def vol_get():
        cold()
        m = r.run([cfg.vol, "get", "data", "/big", out], env=vol_env)
        check_same(out, fx.random, "vol get")
        return m

    def cp():
        cold()
        m = r.run(["cp", fx.random, out])
        check_same(out, fx.random, "cp")
        return m

    repeat(res, cfg,
           [(cases["file.vol_cat"], vol_cat), (cases["file.cat"], cat),
            (cases["file.vol_get"], vol_get), (cases["file.cp"], cp)])
    c = cases["file.vol_cat"]
    if c.runs and not c.error:
        cold()
        try:
            r.run([cfg.vol, "run", "-v", "data:/mnt/v", "--", "cat", "/mnt/v/big"], env=vol_env, stdout=out)
            check_same(out, fx.random, "vol run -- cat")
        except Exception as e:
            c.error = f"verification: {e}"
    shutil.rmtree(out_dir, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)

    res.ratios.append(Ratio("file://: vol run -- cat vs cat: speed", "file.vol_cat", "file.cat", op=">=", bound=0.8))
    res.ratios.append(Ratio("file://: vol get vs cp: speed", "file.vol_get", "file.cp", op=">=", bound=0.8))
    res.ratios.append(Ratio("file://: vol run -- cat vs cat: CPU", "file.vol_cat", "file.cat", metric="cpu_s",
                            speed=False))
    res.ratios.append(Ratio("file://: vol get vs cp: CPU", "file.vol_get", "file.cp", metric="cpu_s", speed=False))
