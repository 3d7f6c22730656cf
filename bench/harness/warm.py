"""Case 3: a NEW session over a warm local cache.

- read: a first session reads /big (filling the cache); each repetition is a
  new `vol run` that reads it again, timed inside the session (the program's
  read alone) and as a whole; against `cat` of the raw file from the page cache.
- git: a volume holding a git repository of VOL_BENCH_GIT_FILES files; a first
  session runs `git status` (git may refresh its index there, and the session
  commits it); each repetition is a new session running `git status`: its
  time, and what the session fetched (VOL_STATS store_bytes) and copied into
  its view (view_bytes), which should be nothing. Against `git status` of the
  same repository on local disk.
"""
import os
import shutil

from .fixtures import run_quiet
from .measure import CaseError, check_same, fresh_dir, repeat
from .results import Ratio, Target


def make_repo(path, files, env):
    os.makedirs(path)
    for i in range(files):
        d = os.path.join(path, "src", f"d{i // 100:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"file{i:05d}.txt"), "w") as f:
            for line in range(20):
                f.write(f"file {i} line {line}: the quick brown fox jumps over the lazy dog {i * line}\n")
    git_env = dict(env, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
                   GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost", GIT_CONFIG_NOSYSTEM="1")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "bench"]):
        run_quiet(cmd, env=git_env, cwd=path)


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    n = fx.nbytes
    read = res.case("warm.vol_read", "warm", "new session: cat (timed inside the session)", n,
                    "vol run -v data:/mnt/v -- cat /mnt/v/big > /dev/null (warm cache)")
    native = res.case("warm.native", "warm", "cat of the raw bytes (page cache)", n, "cat RAW > /dev/null")
    git = res.case("warm.git_status", "warm", "new session: git status (timed inside)", None,
                   "vol run -v repo:/mnt/r -- git -C /mnt/r/repo status --porcelain")
    git_native = res.case("warm.git_native", "warm", "git status on local disk", None,
                          "git -C REPO status --porcelain")
    store = fx.file_store
    cache = fresh_dir(os.path.join(work, "cache-warm"))
    env = {"VOL_STORE": store, "VOL_CACHE_DIR": cache}
    status_out = os.path.join(work, "git-status.out")

    try:
        r.run([cfg.vol, "run", "-v", "data:/mnt/v", "--", "cat", "/mnt/v/big"], env=env)
        r.run(["cat", fx.random])
    except CaseError as e:
        read.error = native.error = f"warming up: {e}"

    def vol_read():
        return r.session(["data:/mnt/v"], ["cat", "/mnt/v/big"], env=env)

    def cat():
        m = r.run(["cat", fx.random])
        m["inner_wall_s"] = m["wall_s"]
        return m

    src = os.path.join(work, "gitsrc", "repo")
    try:
        make_repo(src, cfg.size("VOL_BENCH_GIT_FILES"), fx.env)
        fx.vol("create", "repo", store=store)
        fx.vol("put", "repo", src, "/", store=store)
        # The first session: git sees new inodes, re-reads the files, may refresh
        # .git/index, and the session commits that at exit.
        r.session(["repo:/mnt/r"], ["git", "-C", "/mnt/r/repo", "status", "--porcelain"], env=env)
        r.run(["git", "-C", src, "status", "--porcelain"])
    except CaseError as e:
        git.error = git_native.error = f"setting up the repository: {e}"

    def git_status():
        m = r.session(["repo:/mnt/r"], ["git", "-C", "/mnt/r/repo", "status", "--porcelain"], env=env,
                      stdout=status_out)
        with open(status_out) as f:
            dirty = f.read()
        if dirty:
            raise CaseError(f"git status in the session reports changes: {dirty[:300]!r}")
        return m

    def git_local():
        m = r.run(["git", "-C", src, "status", "--porcelain"])
        m["inner_wall_s"] = m["wall_s"]
        return m

    repeat(res, cfg,
           [(read, vol_read), (native, cat), (git, git_status), (git_native, git_local)])
    if read.runs and not read.error:
        out = os.path.join(work, "warm.out")
        try:
            r.run([cfg.vol, "run", "-v", "data:/mnt/v", "--", "cat", "/mnt/v/big"], env=env, stdout=out)
            check_same(out, fx.random, "vol run -- cat (warm)")
        except CaseError as e:
            read.error = f"verification: {e}"
        os.unlink(out) if os.path.exists(out) else None
    shutil.rmtree(cache, ignore_errors=True)

    res.ratios.append(Ratio("warm, new session: read vs native page cache: speed", "warm.vol_read", "warm.native",
                            metric="inner_wall_s", op=">=", bound=0.9))
    res.ratios.append(Ratio("warm, new session incl. start-up and exit vs native: speed", "warm.vol_read",
                            "warm.native"))
    res.ratios.append(Ratio("second session's git status vs local: speed", "warm.git_status", "warm.git_native",
                            metric="inner_wall_s"))
    res.targets.append(Target("second session's git status: bytes fetched from the store", "warm.git_status",
                              "store_bytes", "<=", 0, unit="bytes",
                              stat="max"))
    res.targets.append(Target("second session's git status: bytes copied into the view", "warm.git_status",
                              "view_bytes", "<=", 0, unit="bytes",
                              stat="max"))
