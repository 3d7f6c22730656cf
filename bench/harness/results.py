"""What a run measured: cases with their repetitions, and the comparisons.

A Case is one command measured REPS times; each repetition is a dict of
metrics (wall_s, cpu_s, maxrss_kb, store_bytes, …). A Ratio compares the
medians of two cases measured in the same run; a Target checks one median
against an absolute bound. Both carry the issue's target (if any) and say
PASS or MISS; neither ever fails the run (a broken case does, in smoke).
"""
import statistics

GIB = 1 << 30
MIB = 1 << 20


class Case:
    def __init__(self, cid, group, label, nbytes=None, command=""):
        self.id = cid
        self.group = group
        self.label = label
        self.nbytes = nbytes      # bytes moved per repetition (for GB/s, CPU/GiB)
        self.command = command    # what was run, for the report
        self.runs = []
        self.error = None         # why the case broke (a string), or None
        self.skipped = None       # why the case was not run (a string), or None

    def add(self, run):
        self.runs.append(run)

    def values(self, metric):
        return [r[metric] for r in self.runs if r.get(metric) is not None]

    def stat(self, metric):
        v = self.values(metric)
        if not v:
            return None
        return {"min": min(v), "median": statistics.median(v), "max": max(v)}

    def median(self, metric):
        s = self.stat(metric)
        return None if s is None else s["median"]

    def to_json(self):
        metrics = sorted({k for r in self.runs for k, v in r.items() if isinstance(v, (int, float))})
        out = {"id": self.id, "group": self.group, "label": self.label, "command": self.command,
               "bytes": self.nbytes, "runs": self.runs,
               "stats": {m: self.stat(m) for m in metrics}}
        if self.nbytes and self.median("wall_s"):
            out["gb_per_s"] = self.nbytes / self.median("wall_s") / 1e9
        if self.nbytes and self.median("cpu_s") is not None:
            out["cpu_s_per_gib"] = self.median("cpu_s") / (self.nbytes / GIB)
        if self.error:
            out["error"] = self.error
        if self.skipped:
            out["skipped"] = self.skipped
        return out


def _compare(value, op, bound):
    return value >= bound if op == ">=" else value <= bound


class Ratio:
    """num vs den on `metric`. speed=True: den/num (a time; above 1 = num faster).
    speed=False: num/den (a cost such as CPU; below 1 = num cheaper)."""

    def __init__(self, name, num, den, metric="wall_s", speed=True, op=None, bound=None, aim=None,
                 per_gib=False, den_metric=None):
        self.name, self.num, self.den, self.metric = name, num, den, metric
        self.den_metric = den_metric or metric
        self.speed, self.op, self.bound, self.aim, self.per_gib = speed, op, bound, aim, per_gib

    def value(self, cases):
        a, b = cases.get(self.num), cases.get(self.den)
        if a is None or b is None:
            return None
        x, y = a.median(self.metric), b.median(self.den_metric)
        if x is None or y is None:
            return None
        if self.per_gib:
            x, y = x / (a.nbytes / GIB), y / (b.nbytes / GIB)
        if self.speed:
            return y / x if x > 0 else None
        return x / y if y > 0 else None

    def verdict(self, cases):
        v = self.value(cases)
        if self.op is None:
            return ""
        if v is None:
            return "BROKEN"
        return "PASS" if _compare(v, self.op, self.bound) else "MISS"

    def target_text(self):
        if self.op is None:
            return "(informative)"
        t = f"{self.op} {self.bound:g}×"
        return t + (f" (aim {self.aim:g}×)" if self.aim else "")

    def to_json(self, cases):
        return {"name": self.name, "numerator": self.num, "denominator": self.den, "metric": self.metric,
                "denominator_metric": self.den_metric, "kind": "speed" if self.speed else "cost", "per_gib": self.per_gib,
                "value": self.value(cases), "target": self.target_text(), "verdict": self.verdict(cases)}


class Target:
    """The median of one case's metric against an absolute bound (in `unit`)."""

    UNITS = {"s": 1, "MiB": MIB, "bytes": 1, "KiB": 1024}

    def __init__(self, name, case, metric, op, bound, unit="s", scale=1, stat="median"):
        self.name, self.case, self.metric, self.op, self.bound = name, case, metric, op, bound
        self.unit, self.scale = unit, scale  # value in `unit` = metric value * scale
        self.stat = stat  # "median", or "max" where every repetition must meet the bound

    def value(self, cases):
        c = cases.get(self.case)
        s = None if c is None else c.stat(self.metric)
        return None if s is None else s[self.stat] * self.scale

    def verdict(self, cases):
        v = self.value(cases)
        if v is None:
            return "BROKEN"
        return "PASS" if _compare(v, self.op, self.bound) else "MISS"

    def to_json(self, cases):
        return {"name": self.name, "case": self.case, "metric": self.metric, "unit": self.unit,
                "statistic": self.stat, "value": self.value(cases),
                "target": f"{self.op} {self.bound:g} {self.unit}",
                "verdict": self.verdict(cases)}


class Results:
    def __init__(self):
        self.cases = {}    # id -> Case, in the order cases were declared
        self.ratios = []
        self.targets = []
        self.notes = []
        self.micro = []    # Google Benchmark rows (see micro.py)
        self.groups = {}   # group -> seconds it took

    def case(self, cid, group, label, nbytes=None, command=""):
        if cid not in self.cases:
            self.cases[cid] = Case(cid, group, label, nbytes, command)
        return self.cases[cid]

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def broken(self):
        """Why the run is broken: cases that failed or produced no number, comparisons
        without a value. Skipped cases (a peer tool that cannot run here) are not broken."""
        why = []
        for c in self.cases.values():
            if c.skipped:
                continue
            if c.error:
                why.append(f"{c.id}: {c.error}")
            elif not c.runs:
                why.append(f"{c.id}: no measurement")
        skipped = {c.id for c in self.cases.values() if c.skipped}
        for r in self.ratios:
            if r.value(self.cases) is None and r.num not in skipped and r.den not in skipped:
                why.append(f"ratio '{r.name}': no value")
        for t in self.targets:
            if t.value(self.cases) is None and t.case not in skipped:
                why.append(f"target '{t.name}': no value")
        for m in self.micro:
            if m.get("error"):
                why.append(f"micro-benchmark {m['name']}: {m['error']}")
        return why
