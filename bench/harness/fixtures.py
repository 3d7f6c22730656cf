"""The inputs the cases read, made once per run (or kept between runs).

- random:    VOL_BENCH_MIB of random bytes on local disk (the ground truth)
- file_vol:  a file:// store in the run's scratch directory with volume `data`
             holding /big = random
- s3:        a Ceph RGW (tests/s3/rgw, started here unless RGW_DIR and AWS_*
             name a running one) with volume `data` (/big = random) under
             s3://BUCKET/bench-PID and the same bytes as one plain object
             bench-PID-raw/big for the peer tools
- many:      a file:// store with volume `many` (DIRS × FILES_PER_DIR files)
             and `wide` (one directory of WIDE files), written by
             build/bench/make_volume; kept under VOL_BENCH_DATA
- big:       a file:// store with volume `big` holding /big of BIG_MIB random
             bytes; kept under VOL_BENCH_DATA
Kept stores are keyed by their sizes and by docs/FORMAT.md (a format change
makes new ones) and checked with `vol ls` before use.
"""
import hashlib
import os
import shutil
import subprocess

from .measure import CaseError


def run_quiet(cmd, env=None, cwd=None, what=None, stdout=subprocess.DEVNULL):
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise CaseError(f"{what or ' '.join(cmd)} failed: {p.stderr.decode(errors='replace').strip()[-400:]}")
    return p


def write_random(path, mib):
    # Written in 4 MiB blocks when the size allows, as the fetcher writes (page-cache
    # folio sizes follow write sizes and change warm read speed on some kernels).
    bs = 4 if mib % 4 == 0 else 1
    run_quiet(["dd", "if=/dev/urandom", f"of={path}", f"bs={bs}M", f"count={mib // bs}",
               "iflag=fullblock", "status=none"])


class Fixtures:
    def __init__(self, cfg, runner, results, work):
        self.cfg, self.runner, self.results, self.work = cfg, runner, results, work
        self.env = runner.env
        self._made = {}
        self.rgw_dir = None
        self.own_rgw = False

    def _once(self, key, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def vol(self, *args, store, cache=None, **kw):
        env = dict(self.env, VOL_STORE=store, VOL_CACHE_DIR=cache or os.path.join(self.work, "cache-setup"))
        return run_quiet([self.cfg.vol] + list(args), env=env, what="vol " + " ".join(args), **kw)

    # --- random bytes and the file:// store ----------------------------------
    @property
    def mib(self):
        return self.cfg.size("VOL_BENCH_MIB")

    @property
    def nbytes(self):
        return self.mib << 20

    @property
    def random(self):
        def make():
            path = os.path.join(self.work, "random")
            write_random(path, self.mib)
            return path
        return self._once("random", make)

    @property
    def file_store(self):
        def make():
            url = "file://" + os.path.join(self.work, "filestore")
            self.vol("create", "data", store=url)
            self.vol("put", "data", self.random, "/big", store=url)
            return url
        return self._once("file_store", make)

    # --- the S3 server --------------------------------------------------------
    def s3(self):
        """(store URL of volume `data`, s3 key of the raw object); starts the RGW once."""
        def make():
            if not os.environ.get("RGW_DIR"):
                self.rgw_dir = os.path.join(self.work, "rgw")
                p = subprocess.run([os.path.join(self.cfg.root, "tests", "s3", "rgw"), "start", self.rgw_dir],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                if p.returncode != 0:
                    raise CaseError("cannot start Ceph RGW (tests/s3/rgw): "
                                    + p.stderr.decode(errors="replace").strip()[-400:])
                self.own_rgw = True
                for line in p.stdout.decode().splitlines():
                    if line.startswith("export "):
                        k, _, v = line[len("export "):].partition("=")
                        self.env[k] = v
            self.env.pop("AWS_PROFILE", None)
            for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RGW_BUCKET"):
                if not self.env.get(k):
                    raise CaseError(f"{k} is not set: the S3 cases need a running RGW")
            bucket = self.env["RGW_BUCKET"]
            prefix = f"bench-{os.getpid()}"
            url = f"s3://{bucket}/{prefix}"
            self.vol("create", "data", store=url)
            self.vol("put", "data", self.random, "/big", store=url)
            raw_key = f"{prefix}-raw/big"
            run_quiet(self.curl_s3(raw_key) + ["-X", "PUT", "-T", self.random], what="uploading the raw object")
            return url, raw_key
        return self._once("s3", make)

    def curl_s3(self, key):
        e = self.env
        return ["curl", "-sS", "-f", "--aws-sigv4", f"aws:amz:{e.get('AWS_REGION', 'us-east-1')}:s3",
                "-u", f"{e['AWS_ACCESS_KEY_ID']}:{e['AWS_SECRET_ACCESS_KEY']}",
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                f"{e['AWS_ENDPOINT_URL']}/{e['RGW_BUCKET']}/{key}"]

    def stop(self):
        if self.own_rgw and self.rgw_dir:
            subprocess.run([os.path.join(self.cfg.root, "tests", "s3", "rgw"), "stop", self.rgw_dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.own_rgw = False

    # --- kept stores -------------------------------------------------------------
    def _kept(self, name, key, build, check):
        """A directory under VOL_BENCH_DATA (or the scratch directory) made by
        build(dir) once and reused while check(dir) passes."""
        fmt = hashlib.sha256(open(os.path.join(self.cfg.root, "docs", "FORMAT.md"), "rb").read()).hexdigest()[:10]
        base = self.cfg.data_dir or os.path.join(self.work, "data")
        path = os.path.join(base, f"{name}-{key}-{fmt}")
        if os.path.exists(os.path.join(path, "ready")):
            try:
                check(path)
                return path
            except CaseError:
                self.results.note(f"Regenerated {path}: the kept copy no longer reads back.")
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        build(path)
        check(path)
        open(os.path.join(path, "ready"), "w").close()
        return path

    @property
    def many(self):
        """file:// URL of the store with volumes `many` and `wide`."""
        d, f = self.cfg.size("VOL_BENCH_DIRS"), self.cfg.size("VOL_BENCH_FILES_PER_DIR")
        w = self.cfg.size("VOL_BENCH_WIDE")

        def build(path):
            url = "file://" + os.path.join(path, "store")
            mk = self.cfg.tool("make_volume")
            env = dict(self.env)
            run_quiet([mk, url, "main", "many", str(d), str(f)], env=env)
            run_quiet([mk, url, "main", "wide", "1", str(w)], env=env)

        def check(path):
            url = "file://" + os.path.join(path, "store")
            self.vol("ls", "many", "/d00000/f000000", store=url)
            self.vol("ls", "wide", "/d00000/f000000", store=url)

        return self._once("many", lambda: "file://" + os.path.join(
            self._kept("many", f"{d}x{f}-w{w}", build, check), "store"))

    @property
    def big(self):
        """(file:// URL of the store with volume `big`, sha256 of the first 4096 bytes of /big)."""
        mib = self.cfg.size("VOL_BENCH_BIG_MIB")

        def build(path):
            url = "file://" + os.path.join(path, "store")
            tmp = os.path.join(self.work, "big-source")
            write_random(tmp, mib)
            with open(tmp, "rb") as f:
                head = f.read(4096)
            with open(os.path.join(path, "head.sha256"), "w") as out:
                out.write(hashlib.sha256(head).hexdigest() + "\n")
            self.vol("create", "big", store=url)
            self.vol("put", "big", tmp, "/big", store=url)
            os.unlink(tmp)

        def check(path):
            self.vol("ls", "big", "/big", store="file://" + os.path.join(path, "store"))

        def make():
            path = self._kept("big", f"{mib}M", build, check)
            with open(os.path.join(path, "head.sha256")) as f:
                return "file://" + os.path.join(path, "store"), f.read().strip()
        return self._once("big", make)

    # --- local copies for native comparisons -------------------------------------
    def local_dir(self, count):
        """A local directory of `count` files of 64 bytes (the shape of the volumes' directories)."""
        def build(path):
            d = os.path.join(path, "d")
            os.makedirs(d)
            body = b"x" * 63 + b"\n"
            for i in range(count):
                with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
                    f.write(body)

        def check(path):
            if len(os.listdir(os.path.join(path, "d"))) != count:
                raise CaseError("wrong file count")

        return self._once(("dir", count), lambda: os.path.join(self._kept("dir", str(count), build, check), "d"))
