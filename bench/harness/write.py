"""Writes (informative; issue 11 sets no target for them, kept from the earlier
bench/put_get and bench/commit scripts):
- `vol put` of VOL_BENCH_MIB random bytes into a new file:// store (so
  nothing is deduplicated) against `cp` followed by `sync` of the copy (the
  file store fsyncs every object it writes, so that is the like-for-like
  figure);
- `vol commit` inside a session of 10,000 new files of 1 KiB that the program
  wrote (--commit-every 0, so this commit uploads them all): the commit alone,
  timed inside the session.
"""
import os
import shutil

from .measure import CaseError, check_same, fresh_dir, repeat
from .results import Ratio

SMALL_FILES = 10000

MAKE_FILES = r'''python3 -c "
import os
for d in range(100):
    os.mkdir(f'/mnt/w/d{d}')
    for f in range(PER_DIR):
        with open(f'/mnt/w/d{d}/f{f}', 'wb') as fh: fh.write(os.urandom(1024))"'''


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    n = fx.nbytes
    small = SMALL_FILES if cfg.profile == "full" else 200
    put = res.case("write.vol_put", "write", "vol put of new data → file:// store", n, "vol put w RAW /big")
    cp = res.case("write.cp_sync", "write", "cp + sync of the copy", n, "cp RAW OUT && sync OUT")
    commit = res.case("write.commit_small", "write", f"vol commit of {small:,} new 1 KiB files (in session)",
                      None, "vol run -v w:/mnt/w --commit-every 0 -- sh -c 'write files; vol commit'")
    out = os.path.join(work, "out", "big")
    counter = [0]

    def vol_put():
        counter[0] += 1
        store = "file://" + fresh_dir(os.path.join(work, "store-put"))
        fx.vol("create", "w", store=store)
        r.drop_caches()  # no writeback of an earlier case left to pay for
        m = r.run([cfg.vol, "put", "w", fx.random, "/big"], env={"VOL_STORE": store,
                                                                  "VOL_CACHE_DIR": os.path.join(work, "cache-put")})
        fx.vol("get", "w", "/big", out, "--force", store=store)
        check_same(out, fx.random, "vol put (read back with vol get)")
        return m

    def cp_sync():
        fresh_dir(os.path.dirname(out))
        r.drop_caches()
        m = r.run(["sh", "-c", 'cp "$0" "$1" && sync "$1"', fx.random, out])
        check_same(out, fx.random, "cp")
        return m

    def commit_small():
        store = "file://" + fresh_dir(os.path.join(work, "store-commit"))
        fx.vol("create", "w", store=store)
        m = r.session(["w:/mnt/w"], [cfg.vol, "commit"], extra_args=["--commit-every", "0"],
                      setup=MAKE_FILES.replace("PER_DIR", str(small // 100)),
                      env={"VOL_STORE": store, "VOL_CACHE_DIR": os.path.join(work, "cache-commit")})
        listing = fx.vol("ls", "w", "/d99", store=store, stdout=-1).stdout.decode().split()
        if len(listing) != small // 100:
            raise CaseError(f"after the commit /d99 holds {len(listing)} files, not {small // 100}")
        m["files_per_s"] = small / m["inner_wall_s"]
        return m

    fresh_dir(os.path.dirname(out))
    repeat(res, cfg, [(put, vol_put), (cp, cp_sync), (commit, commit_small)])
    for d in ("store-put", "store-commit", "cache-put", "cache-commit", "out"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    res.ratios.append(Ratio("vol put vs cp + sync: speed", "write.vol_put", "write.cp_sync"))
