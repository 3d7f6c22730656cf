"""latest.md, latest.json and latest.svg from a run's Results."""
import json
import os
import shutil
import subprocess

from .config import SETTINGS
from .results import GIB, MIB

GROUP_TITLES = {
    "cold_s3": "1. Cold read from Ceph RGW (page cache dropped, empty vol cache)",
    "cold_file": "2. Cold read from a file:// store (page cache dropped, empty vol cache)",
    "warm": "3. Warm cache, new session",
    "many_files": "4. Many files",
    "head": "5a. Head of a cold big file",
    "write": "Writes (informative)",
    "shim": "5b/6. Shim overhead per call (Google Benchmark, micro_shim)",
}

# (metric, column title, formatter); shown when some case of the group has it.
COLUMNS = [
    ("wall_s", "wall s (min / median / max)", "spread"),
    ("inner_wall_s", "program alone, in session s (median)", "sec"),
    ("ns", "ns per call (min / median / max)", "spread_ns"),
    ("gbps", "GB/s (median)", "gbps"),
    ("cpu_s", "client CPU s (median)", "sec"),
    ("cpu_per_gib", "CPU s per GiB", "sec"),
    ("files_per_s", "files per s (median)", "sec"),
    ("maxrss_kb", "peak RSS, any process (MiB)", "kib"),
    ("inner_peak_kb", "fetcher peak RSS (MiB)", "kib"),
    ("store_bytes", "fetched from store (MiB, max)", "bytes_max"),
    ("view_bytes", "copied into view (MiB, max)", "bytes_max"),
    ("cache_bytes", "served by cache (MiB, max)", "bytes_max"),
]


def _f(x, digits=3):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits - 1}f}"


def _cell(case, metric, kind):
    if kind == "gbps":
        w = case.median("wall_s")
        return _f(case.nbytes / w / 1e9) if case.nbytes and w else None
    if kind == "cpu_per_gib" or metric == "cpu_per_gib":
        c = case.median("cpu_s")
        return _f(c / (case.nbytes / GIB)) if case.nbytes and c is not None else None
    s = case.stat(metric)
    if s is None:
        return None
    if kind == "spread":
        return f"{_f(s['min'])} / **{_f(s['median'])}** / {_f(s['max'])}"
    if kind == "spread_ns":
        return f"{s['min']:,.0f} / **{s['median']:,.0f}** / {s['max']:,.0f}"
    if kind == "sec":
        return _f(s["median"])
    if kind == "kib":
        return _f(s["median"] / 1024)
    if kind == "bytes_max":
        return _f(s["max"] / MIB, 4) if s["max"] else "0"
    return _f(s["median"])


def _ratio_text(v):
    return "–" if v is None else f"{v:.2f}×"


def _target_value_text(t, v):
    if v is None:
        return "–"
    if t.unit == "bytes":
        return f"{v:,.0f} bytes"
    return f"{_f(v)} {t.unit}"


def group_of(results, case_id):
    c = results.cases.get(case_id)
    return c.group if c else "?"


def write_markdown(path, results, machine, cfg, broken, chart_ok):
    L = []
    L.append(f"# vol benchmarks: {machine['started']}")
    L.append("")
    L.append(f"`make bench{'-smoke' if cfg.profile == 'smoke' else ''}` ({cfg.profile} profile) on commit "
             f"{machine['commit']} ({machine['branch']}). Every ratio compares two cases measured in this run, "
             "medians of the repetitions; PASS/MISS is against the targets of issue 11 and never fails the run.")
    L.append("")
    L.append("| machine | |")
    L.append("|---|---|")
    for k, label in (("cpu", "CPU"), ("cores", "cores"), ("memory_gib", "memory (GiB)"), ("kernel", "kernel"),
                     ("cache_fs", "file system of the cache (findmnt)"),
                     ("host_load", "load average at the start"), ("host_load_end", "load average at the end")):
        L.append(f"| {label} | {machine[k]} |")
    sizes = ", ".join(f"{k}={v}" for k, v in cfg.sizes.items())
    L.append(f"| sizes | {sizes} |")
    L.append("")

    targeted = [r for r in results.ratios if r.op] + results.targets
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | target | verdict | rerun with |")
    L.append("|---|---|---|---|---|")
    for t in targeted:
        v = t.value(results.cases)
        if hasattr(t, "num"):
            measured, goal, grp = _ratio_text(v), t.target_text(), group_of(results, t.num)
        else:
            measured, goal, grp = _target_value_text(t, v), f"{t.op} {t.bound:g} {t.unit}", group_of(results, t.case)
            if t.stat != "median":
                goal += f" ({t.stat} of the runs)"
        L.append(f"| {t.name} | {measured} | {goal} | **{t.verdict(results.cases)}** | "
                 f"`VOL_BENCH_ONLY={grp} make bench` |")
    L.append("")
    L.append("## Every comparison (same run)")
    L.append("")
    L.append("Speed ratios are the comparator's time / vol's time (above 1: vol is faster); cost ratios "
             "(CPU, time per call) are vol's / the comparator's (below 1: vol is cheaper).")
    L.append("")
    L.append("| comparison | ratio | target |")
    L.append("|---|---|---|")
    for r in results.ratios:
        L.append(f"| {r.name} | {_ratio_text(r.value(results.cases))} | {r.target_text()} "
                 f"{('**' + r.verdict(results.cases) + '**') if r.op else ''} |")
    L.append("")

    groups = []
    for c in results.cases.values():
        if c.group not in groups:
            groups.append(c.group)
    for g in groups:
        cases = [c for c in results.cases.values() if c.group == g]
        L.append(f"## {GROUP_TITLES.get(g, g)}")
        L.append("")
        cols = []
        for metric, title, kind in COLUMNS:
            if metric in ("gbps", "cpu_per_gib"):
                if any(c.nbytes and c.values("wall_s") for c in cases) and (metric == "gbps" or any(
                        c.nbytes and c.values("cpu_s") for c in cases)):
                    cols.append((metric, title, kind))
            elif any(c.values(metric) for c in cases):
                cols.append((metric, title, kind))
        L.append("| case | " + " | ".join(t for _, t, _ in cols) + " | runs |")
        L.append("|---|" + "---|" * (len(cols) + 1))
        for c in cases:
            if c.skipped:
                L.append(f"| {c.label} | " + " | ".join("" for _ in cols) + f" | skipped: {c.skipped} |")
                continue
            if c.error and not c.runs:
                L.append(f"| {c.label} | " + " | ".join("" for _ in cols) + f" | **BROKEN**: {c.error[:200]} |")
                continue
            cells = [_cell(c, m, k) or "–" for m, _, k in cols]
            tail = str(len(c.runs)) + (f" (**BROKEN**: {c.error[:200]})" if c.error else "")
            L.append(f"| {c.label} | " + " | ".join(cells) + f" | {tail} |")
        L.append("")
        commands = []
        for c in cases:
            if c.command and c.command not in commands:
                commands.append(c.command)
        L.append("Commands: " + "; ".join(f"`{c}`" for c in commands) + ".")
        L.append("")

    if results.micro:
        L.append("## 6. Micro-benchmarks (Google Benchmark, build/bench/micro_*)")
        L.append("")
        L.append("| binary | benchmark | ns per op (min / median / max) | throughput (median) |")
        L.append("|---|---|---|---|")
        for m in results.micro:
            if m.get("error"):
                L.append(f"| {m['binary']} | {m['name']} | **BROKEN**: {m['error'][:200]} | |")
                continue
            ns = m["ns"]
            thr = []
            if "bytes_per_second" in m:
                thr.append(f"{m['bytes_per_second'] / 1e9:.2f} GB/s")
            if "items_per_second" in m:
                thr.append(f"{m['items_per_second'] / 1e6:.2f} M items/s")
            label = f" ({m['label']})" if m.get("label") else ""
            L.append(f"| {m['binary']} | {m['name']}{label} | {ns['min']:,.0f} / **{ns['median']:,.0f}** / "
                     f"{ns['max']:,.0f} | {', '.join(thr)} |")
        L.append("")

    L.append("## Notes")
    L.append("")
    for n in results.notes:
        L.append(f"- {n}")
    if chart_ok is False:
        L.append("- No chart: gnuplot is missing or failed (scripts/install-deps bench installs gnuplot-nox).")
    for b in broken:
        L.append(f"- BROKEN: {b}")
    L.append("- Time per group: " + ", ".join(f"{g} {s:.0f} s" for g, s in results.groups.items()) + ".")
    L.append("")
    L.append("Sizes are set by environment variables (bench/README.md): "
             + "; ".join(f"`{k}` {v[2]}" for k, v in SETTINGS.items()) + ".")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def write_json(path, results, machine, cfg, broken):
    data = {
        "machine": machine,
        "profile": cfg.profile,
        "sizes": cfg.sizes,
        "cases": [c.to_json() for c in results.cases.values()],
        "ratios": [r.to_json(results.cases) for r in results.ratios],
        "targets": [t.to_json(results.cases) for t in results.targets],
        "micro": results.micro,
        "notes": results.notes,
        "broken": broken,
        "seconds_per_group": results.groups,
    }
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")


def _quote(s):
    return '"' + s.replace('"', "'").replace("\\", "/") + '"'


def write_chart(path, results, work):
    """Two panels: GB/s of every cold and warm read, and each target as measured / required
    (above 1: met). Returns False when gnuplot is missing or fails, None when the groups
    run left nothing to draw."""
    if not shutil.which("gnuplot"):
        return False
    speed = os.path.join(work, "chart-speed.dat")
    goals = os.path.join(work, "chart-targets.dat")
    with open(speed, "w") as f:
        for c in results.cases.values():
            w = c.median("wall_s")
            if c.group in ("cold_s3", "cold_file", "warm") and c.nbytes and w:
                f.write(f"{_quote(c.group + ': ' + c.label)} {c.nbytes / w / 1e9:.4f}\n")
    with open(goals, "w") as f:
        for t in [r for r in results.ratios if r.op] + results.targets:
            v = t.value(results.cases)
            if v is None:
                continue
            bound = t.bound
            if t.op == ">=":
                score = v / bound if bound else 0
            else:
                score = (bound / v) if v > 0 else 3.0
            score = max(min(score, 3.0), 0.02)  # a miss by far still shows
            color = 0x2e8b57 if t.verdict(results.cases) == "PASS" else 0xcd3333
            f.write(f"{_quote(t.name[:60])} {score:.4f} {color}\n")
    if os.path.getsize(speed) == 0 or os.path.getsize(goals) == 0:
        results.note("No chart: the groups run had no read speeds or no targets to draw.")
        return None
    rows_speed = sum(1 for _ in open(speed))
    rows_goals = sum(1 for _ in open(goals))
    row, pad = 24, 80  # pixels per bar; per panel: its title above, its x tics below
    height = 2 * pad + row * (rows_speed + rows_goals)

    def frac(px):
        return px / height
    # Panel 1 on top, panel 2 below; margins in screen fractions, labels on the y axis.
    top1, bot1 = 1 - frac(40), 1 - frac(40 + row * rows_speed)
    top2 = bot1 - frac(pad)
    bot2 = frac(40)
    # Horizontal bars (boxxyerror), one row per case or target.
    script = f"""
set terminal svg size 1100,{height} dynamic font "sans,11" background "white"
set termoption noenhanced
set output {_quote(path)}
set multiplot
set lmargin at screen 0.42
set rmargin at screen 0.97
set style fill solid 0.8 border -1
set grid xtics
set key off
set ytics nomirror scale 0
set yrange [*:*] reverse
set offsets 0,0,0.6,0.6
set tmargin at screen {top1:.4f}
set bmargin at screen {bot1:.4f}
set title "Cold and warm reads: median GB/s, one run"
set xrange [0:*]
plot {_quote(speed)} using ($2/2):0:($2/2):(0.35):ytic(1) with boxxyerror lc rgb "#4682b4"
set tmargin at screen {top2:.4f}
set bmargin at screen {bot2:.4f}
set title "Targets of issue 11: measured / required (1 = at the target, >1 better; green PASS, red MISS; capped at 3)"
set xrange [0:3.05]
set arrow 1 from first 1, graph 0 to first 1, graph 1 nohead dt 2 lc rgb "black"
plot {_quote(goals)} using ($2/2):0:($2/2):(0.35):3:ytic(1) with boxxyerror lc rgb variable
unset multiplot
"""
    gp = os.path.join(work, "chart.gp")
    with open(gp, "w") as f:
        f.write(script)
    p = subprocess.run(["gnuplot", gp], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        results.note("gnuplot failed: " + p.stderr.decode(errors="replace").strip()[-300:])
        return False
    return os.path.exists(path) and os.path.getsize(path) > 0
