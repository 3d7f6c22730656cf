"""The machine a run measured: CPU, cores, memory, kernel, the cache's file system, commit, date."""
import datetime
import os
import platform
import subprocess


def _first(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _out(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              check=True).stdout.decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load():
    """The 1, 5 and 15 minute load averages: other work on a shared machine shows here."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def describe(root, cache_dir):
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    commit = _out(["git", "rev-parse", "--short=12", "HEAD"], cwd=root)
    if _out(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root) not in ("", "unknown"):
        commit += " (with uncommitted changes)"
    fs = _out(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", cache_dir])
    return {
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kb) / (1 << 20), 1) if mem_kb.isdigit() else None,
        "kernel": platform.release(),
        "cache_fs": fs,
        "commit": commit,
        "branch": _out(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=root),
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host_load": load(),
        "root": os.geteuid() == 0,
    }
