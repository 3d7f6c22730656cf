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


def describe(root, cache_dir):
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    commit = _out(["git", "rev-parse", "--short=12", "HEAD"], cwd=root)
    if _out(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root) not in ("", "unknown"):
        commit += " (with uncommitted changes)"
    fs = _out(["stat", "-f", "-c", "%T", cache_dir])
    dev = _out(["df", "--output=source", cache_dir]).splitlines()[-1:] or ["unknown"]
    return {
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kb) / (1 << 20), 1) if mem_kb.isdigit() else None,
        "kernel": platform.release(),
        "cache_fs": f"{fs} ({dev[0]})",
        "commit": commit,
        "branch": _out(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=root),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host_load": _out(["cat", "/proc/loadavg"]),
        "root": os.geteuid() == 0,
    }
