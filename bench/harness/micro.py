"""Case 6: Google Benchmark micro-benchmarks of vol's own code, and the helper
that runs any Google Benchmark binary and turns its repetitions into case runs.

The binaries are build/bench/micro_* (bench/micro_*.cc); micro_shim is driven
by shim.py (it needs a session), the others run here natively: chunk
encode/decode, tree parse, presence lookup.
"""
import glob
import json
import os
import subprocess
import tempfile

from .measure import CaseError

TO_NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def gbench(cfg, cmd, env=None, bench_filter=None, work="/tmp"):
    """Runs a Google Benchmark command (possibly wrapped in `vol run … --`);
    returns {name: [ {ns, bytes_per_second?, items_per_second?, label?}, … ]}, one
    entry per repetition. The JSON goes to a file (stdout may carry a program's output)."""
    fd, out = tempfile.mkstemp(prefix="gbench.", suffix=".json", dir=work)
    os.close(fd)
    args = [f"--benchmark_out={out}", "--benchmark_out_format=json",
            f"--benchmark_repetitions={cfg.size('VOL_BENCH_MICRO_REPS')}",
            f"--benchmark_min_time={cfg.size('VOL_BENCH_MICRO_MIN_TIME')}"]
    if bench_filter:
        args.append(f"--benchmark_filter={bench_filter}")
    full_env = dict(env if env is not None else os.environ)
    p = subprocess.run(cmd + args, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with open(out) as f:
            data = json.load(f) if os.path.getsize(out) else {}
    finally:
        os.unlink(out)
    if p.returncode != 0 or not data.get("benchmarks"):
        raise CaseError(f"`{' '.join(cmd)}` exited {p.returncode}: "
                        f"{p.stderr.decode(errors='replace').strip()[-400:]}")
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        if b.get("error_occurred"):
            raise CaseError(f"{b['name']}: {b.get('error_message', 'error')}")
        run = {"ns": b["real_time"] * TO_NS[b.get("time_unit", "ns")]}
        for k in ("bytes_per_second", "items_per_second"):
            if k in b:
                run[k] = b[k]
        if b.get("label"):
            run["label"] = b["label"]
        name = b.get("run_name", b["name"])
        rows.setdefault(name, []).append(run)
    return rows


def run(ctx):
    cfg, res = ctx.cfg, ctx.results
    sources = sorted(glob.glob(os.path.join(cfg.root, "bench", "micro_*.cc")))
    for src in sources:
        name = os.path.basename(src)[:-3]
        if name == "micro_shim":
            continue
        binary = cfg.tool(name)
        try:
            if not os.path.exists(binary):
                raise CaseError(f"{binary} is not built (make bench builds it)")
            rows = gbench(cfg, [binary], work=ctx.work)
        except CaseError as e:
            res.micro.append({"binary": name, "name": name, "error": str(e)})
            continue
        for bname, runs in rows.items():
            ns = sorted(r["ns"] for r in runs)
            row = {"binary": name, "name": bname, "runs": runs,
                   "ns": {"min": ns[0], "median": ns[len(ns) // 2], "max": ns[-1]}}
            for k in ("bytes_per_second", "items_per_second", "label"):
                if k in runs[0]:
                    vals = sorted(r[k] for r in runs) if k != "label" else [runs[0][k]]
                    row[k] = vals[len(vals) // 2]
            res.micro.append(row)
