"""Running commands and reading what they cost.

Every command runs under build/bench/timed, which reports the wall time of
the command and the CPU time of its whole process tree (daemons it started
included). Inside a `vol run` session a second `timed` times the program
alone; VOL_STATS=/path gives the session's fetch counters. Nothing here reads
a session's or the cache's private files: only the CLI, VOL_STATS and /proc.
"""
import os
import shutil
import subprocess
import tempfile
import time


class CaseError(Exception):
    """A measured command failed or produced wrong bytes: the case is broken."""


def parse_kv(text, prefix=""):
    """'timed: wall_s=1.0 cpu_s=2' -> {'wall_s': 1.0, 'cpu_s': 2.0}; also 'key value' lines."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if prefix:
            if not line.startswith(prefix):
                continue
            line = line[len(prefix):]
        for tok in line.split():
            if "=" in tok:
                k, _, v = tok.partition("=")
                out[k] = _number(v)
        if "=" not in line and len(line.split()) == 2:
            k, v = line.split()
            out[k] = _number(v)
    return out


def _number(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


class Runner:
    def __init__(self, cfg, results, work):
        self.cfg = cfg
        self.results = results
        self.work = work
        self.timed = cfg.tool("timed")
        self.env = dict(os.environ)
        self._drop_ok = None

    # --- the page cache -------------------------------------------------
    def drop_caches(self):
        """sync, then drop the page cache (needs root). Cold cases call this first.
        Not in the smoke profile: it checks that cases work, not their speed, and
        runs inside make test, where dropping the machine's page cache would slow
        whatever else runs there (and make a concurrent full run's warm cases cold)."""
        if self.cfg.profile == "smoke":
            self.results.note("Smoke run: the page cache was not dropped; figures are not meaningful.")
            return
        subprocess.run(["sync"], check=False)
        if self._drop_ok is False:
            return
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            self._drop_ok = True
        except OSError as e:
            self._drop_ok = False
            self.results.note(f"The page cache was NOT dropped before cold cases ({e.strerror}: run as root "
                              "for cold figures); 'cold' cases may have read from the page cache.")

    @property
    def dropped(self):
        return bool(self._drop_ok)

    # --- commands -------------------------------------------------------
    def run(self, cmd, env=None, stdout=None, cwd=None, check_exit=True, timeout=3600):
        """Runs cmd under `timed`; returns {wall_s, cpu_s, user_s, sys_s, maxrss_kb, exit}."""
        fd, out = tempfile.mkstemp(prefix="timed.", dir=self.work)
        os.close(fd)
        errf = tempfile.TemporaryFile(dir=self.work)
        full_env = dict(self.env)
        for k, v in (env or {}).items():  # None removes a variable
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v
        close_stdout = False
        if stdout is None:
            stdout = subprocess.DEVNULL
        elif isinstance(stdout, str):
            stdout = open(stdout, "wb")
            close_stdout = True
        try:
            p = subprocess.run([self.timed, "--out", out, "--"] + list(cmd), env=full_env, cwd=cwd,
                               stdout=stdout, stderr=errf, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CaseError(f"timed out after {timeout} s: {' '.join(cmd)}")
        finally:
            if close_stdout:
                stdout.close()
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        errf.close()
        with open(out) as f:
            line = f.read()
        os.unlink(out)
        m = parse_kv(line, "timed:")
        if "wall_s" not in m:
            raise CaseError(f"no timing from {' '.join(cmd)}: {err.strip()[-400:]}")
        if check_exit and p.returncode != 0:
            raise CaseError(f"`{' '.join(cmd)}` exited {p.returncode}: {err.strip()[-400:]}")
        m["stderr"] = err
        return m

    def session(self, mounts, program, env=None, stdout=None, peak=False, stats=True, extra_args=(),
                setup=None):
        """`vol run -v M… -- timed -- PROGRAM`: the outer figures are the whole session
        (start-up, program, end); inner_* the program alone; counters from VOL_STATS.
        `setup`: a shell command run in the session before the timed program."""
        fd, inner = tempfile.mkstemp(prefix="inner.", dir=self.work)
        os.close(fd)
        stats_path = inner + ".stats"
        cmd = [self.cfg.vol, "run"]
        for m in mounts:
            cmd += ["-v", m]
        cmd += list(extra_args) + ["--"]
        if setup:
            cmd += ["sh", "-c", setup + ' && exec "$@"', "sh"]
        cmd += [self.timed, "--out", inner]
        if peak:
            cmd += ["--peak-of", self.cfg.vol]
        cmd += ["--"] + list(program)
        e = dict(env or {})
        if stats:
            e["VOL_STATS"] = stats_path
        m = self.run(cmd, env=e, stdout=stdout)
        with open(inner) as f:
            im = parse_kv(f.read(), "timed:")
        os.unlink(inner)
        if peak and not im.get("peak_pids"):
            # No other vol process was running: there is no fetcher peak to report
            # (a -1 must not pass for a small RSS).
            im.pop("peak_kb", None)
            self.results.note("No fetcher process was found while the session's program ran "
                              "(timed --peak-of); its peak RSS is not reported.")
        for k, v in im.items():
            m["inner_" + k] = v
        if stats:
            if not os.path.exists(stats_path):
                raise CaseError(f"VOL_STATS wrote nothing for: {' '.join(cmd)}")
            with open(stats_path) as f:
                m.update(parse_kv(f.read()))
            os.unlink(stats_path)
        return m


def fresh_dir(path):
    """An empty directory only its owner can enter (vol refuses a cache directory others can)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)
    return path


def same_bytes(a, b):
    """True when files a and b hold the same bytes (cmp, which stops at the first difference)."""
    return subprocess.run(["cmp", "-s", a, b]).returncode == 0


def check_same(produced, original, what):
    if not os.path.exists(produced):
        raise CaseError(f"{what} wrote no output ({produced})")
    if not same_bytes(produced, original):
        raise CaseError(f"{what} produced different bytes than the original")


def repeat(results, cfg, steps):
    """Runs each (case, fn) of `steps` VOL_BENCH_REPS times, interleaved (rep 1 of
    every case, then rep 2, …) so that a drift of the shared machine touches all
    cases alike. fn() returns one repetition's metrics; a failure marks that case
    broken and the others go on. A case whose first repetition took longer than
    VOL_BENCH_SLOW seconds runs once (the report says so), to keep a run of a
    slow build within its time."""
    slow = cfg.size("VOL_BENCH_SLOW")
    once = set()
    for rep in range(cfg.size("VOL_BENCH_REPS")):
        for case, fn in steps:
            if case.error or case.skipped or case.id in once:
                continue
            t0 = time.time()
            try:
                run = fn()
            except CaseError as e:
                case.error = str(e)
                continue
            except Exception as e:  # a bug in the harness must not hide the other cases
                case.error = f"{type(e).__name__}: {e}"
                continue
            run.pop("stderr", None)
            case.add(run)
            if rep == 0 and time.time() - t0 > slow:
                once.add(case.id)
                results.note(f"{case.id} ran once: its first run took {time.time() - t0:.0f} s "
                             f"(more than VOL_BENCH_SLOW={slow:g} s).")
