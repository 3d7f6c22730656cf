"""Sizes and places, from environment variables (documented in bench/README.md).

Two profiles: `full` (make bench) and `smoke` (make bench-smoke: tiny sizes,
one repetition, to prove every case still produces a number). Any variable
set in the environment wins over the profile's default.
"""
import os
from dataclasses import dataclass, field

# name: (full default, smoke default, meaning)
SETTINGS = {
    "VOL_BENCH_MIB": (1024, 8, "MiB of random bytes read cold and warm (cases cold_s3, cold_file, warm)"),
    "VOL_BENCH_BIG_MIB": (4096, 64, "MiB of the big file whose head is read (case head)"),
    "VOL_BENCH_DIRS": (1000, 10, "directories of the many-files volume"),
    "VOL_BENCH_FILES_PER_DIR": (1000, 100, "files per directory of the many-files volume"),
    "VOL_BENCH_WIDE": (100000, 1000, "entries of the one wide directory listed with ls -l"),
    "VOL_BENCH_GIT_FILES": (3000, 50, "files of the git repository on a volume (case warm)"),
    "VOL_BENCH_REPS": (3, 1, "repetitions of every case (min/median/max over them)"),
    "VOL_BENCH_SLOW": (60.0, 60.0, "seconds: a case whose first repetition takes longer runs only once"),
    "VOL_BENCH_MICRO_REPS": (3, 1, "repetitions of each Google Benchmark micro-benchmark"),
    "VOL_BENCH_MICRO_MIN_TIME": (0.2, 0.01, "seconds each micro-benchmark repetition runs at least"),
}


@dataclass
class Config:
    profile: str
    root: str                 # the source tree
    build: str                # the build directory (build/vol, build/bench/*)
    out_dir: str              # where latest.md / .json / .svg go
    data_dir: str             # generated stores kept between runs
    tmp_base: str             # parent of the run's scratch directory
    only: list = field(default_factory=list)  # case groups to run; empty: all
    sizes: dict = field(default_factory=dict)
    keep: bool = False

    @property
    def vol(self):
        return os.path.join(self.build, "vol")

    def tool(self, name):
        return os.path.join(self.build, "bench", name)

    def size(self, name):
        return self.sizes[name]


def load(profile, root, out_dir=None, only=None):
    sizes = {}
    for name, (full, smoke, _) in SETTINGS.items():
        default = full if profile == "full" else smoke
        raw = os.environ.get(name, "")
        try:
            sizes[name] = type(default)(raw) if raw else default
        except ValueError:
            raise SystemExit(f"bench: {name}={raw!r} is not a number")
    build = os.path.abspath(os.environ.get("BUILD", os.path.join(root, "build")))
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if out_dir is None:
        out_dir = os.path.join(root, "bench", "results") if profile == "full" else os.path.join(build, "bench-smoke")
    data_default = os.path.join(cache_home, "vol-bench")
    data_dir = os.environ.get("VOL_BENCH_DATA", "")
    if not data_dir:
        # Smoke data is tiny and made afresh: make test stays hermetic.
        data_dir = "" if profile == "smoke" else data_default
    only_env = os.environ.get("VOL_BENCH_ONLY", "")
    only = only or [g for g in only_env.split(",") if g]
    return Config(profile=profile, root=root, build=build, out_dir=os.path.abspath(out_dir),
                  data_dir=data_dir, tmp_base=os.environ.get("VOL_BENCH_TMP", "/tmp"), only=only,
                  sizes=sizes, keep=os.environ.get("VOL_BENCH_KEEP", "") == "1")
