"""Case 1: cold read of VOL_BENCH_MIB random bytes from Ceph RGW, vol against the peers.

Same bytes, same server, same machine, in one run: `vol run -- cat` through a
mount and `vol get` to a file (each with an empty cache) against rclone copy
and rclone cat, curl to a file, aws s3 cp, and s3fs (FUSE) cat when s3fs and
/dev/fuse work here. The page cache is dropped before every repetition.
Client CPU is user + system time of the client's whole process tree (for
s3fs: cat plus the s3fs daemon's time during the read).
"""
import os
import shutil
import subprocess
import time

from .measure import CaseError, check_same, fresh_dir, repeat
from .results import Ratio


def _s3fs_usable():
    if not shutil.which("s3fs"):
        return "s3fs is not installed (scripts/install-deps bench installs it)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is missing or not usable here"
    return None


def _proc_cpu(pid):
    """user + system seconds of a live process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class S3fsMount:
    """s3fs in the foreground (a child of ours), so its CPU time can be read."""

    def __init__(self, env, work, bucket, endpoint, key, secret):
        self.mnt = fresh_dir(os.path.join(work, "s3fs-mnt"))
        pw = os.path.join(work, "s3fs-passwd")
        with open(pw, "w") as f:
            f.write(f"{key}:{secret}\n")
        os.chmod(pw, 0o600)
        self.log = open(os.path.join(work, "s3fs.log"), "ab")
        self.proc = subprocess.Popen(
            ["s3fs", bucket, self.mnt, "-f", "-o", f"url={endpoint}", "-o", "use_path_request_style",
             "-o", f"passwd_file={pw}", "-o", "dbglevel=warn"], env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise CaseError(f"s3fs did not mount (see {self.log.name})")
            time.sleep(0.05)

    def cpu(self):
        return _proc_cpu(self.proc.pid)

    def close(self):
        subprocess.run(["fusermount", "-u", self.mnt], stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run(ctx):
    cfg, r, res, fx, work = ctx.cfg, ctx.runner, ctx.results, ctx.fixtures, ctx.work
    n = fx.nbytes
    labels = [
        ("s3.vol_cat", "vol run -- cat (mount)", "vol run -v data:/mnt/v -- cat /mnt/v/big > /dev/null"),
        ("s3.vol_get", "vol get → file", "vol get data /big OUT"),
        ("s3.rclone_copy", "rclone copy → file", "rclone copy rgw:BUCKET/RAW DIR"),
        ("s3.rclone_cat", "rclone cat", "rclone cat rgw:BUCKET/RAW > /dev/null"),
        ("s3.curl", "curl → file", "curl --aws-sigv4 … -o OUT"),
        ("s3.aws_cp", "aws s3 cp → file", "aws s3 cp s3://BUCKET/RAW OUT"),
        ("s3.s3fs_cat", "s3fs (FUSE) cat", "s3fs BUCKET MNT; cat MNT/RAW > /dev/null"),
    ]
    cases = {cid: res.case(cid, "cold_s3", label, n, cmd) for cid, label, cmd in labels}
    try:
        store, raw_key = fx.s3()
    except CaseError as e:
        for c in cases.values():
            c.error = str(e)
        return
    env = fx.env
    bucket = env["RGW_BUCKET"]
    cache = os.path.join(work, "cache")
    out_dir = os.path.join(work, "out")
    out = os.path.join(out_dir, "big")
    vol_env = {"VOL_STORE": store, "VOL_CACHE_DIR": cache}
    rclone_env = {"RCLONE_CONFIG_RGW_TYPE": "s3", "RCLONE_CONFIG_RGW_PROVIDER": "Ceph",
                  "RCLONE_CONFIG_RGW_ENDPOINT": env["AWS_ENDPOINT_URL"],
                  "RCLONE_CONFIG_RGW_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
                  "RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
                  "RCLONE_CONFIG": os.path.join(work, "rclone.conf"),
                  # rclone's own HTTP transport refuses AWS_CA_BUNDLE; the RGW is plain HTTP.
                  "AWS_CA_BUNDLE": None}
    aws = ["aws", "--endpoint-url", env["AWS_ENDPOINT_URL"], "--only-show-errors"]

    def cold():
        fresh_dir(cache)
        fresh_dir(out_dir)
        r.drop_caches()

    def vol_cat():
        cold()
        return r.session(["data:/mnt/v"], ["cat", "/mnt/v/big"], env=vol_env)

    def vol_get():
        cold()
        m = r.run([cfg.vol, "get", "data", "/big", out], env=vol_env)
        check_same(out, fx.random, "vol get")
        return m

    def rclone_copy():
        cold()
        m = r.run(["rclone", "copy", f"rgw:{bucket}/{raw_key}", out_dir], env=rclone_env)
        check_same(out, fx.random, "rclone copy")
        return m

    def rclone_cat():
        cold()
        return r.run(["rclone", "cat", f"rgw:{bucket}/{raw_key}"], env=rclone_env)

    def curl():
        cold()
        m = r.run(fx.curl_s3(raw_key) + ["-o", out])
        check_same(out, fx.random, "curl")
        return m

    def aws_cp():
        cold()
        m = r.run(aws + ["s3", "cp", f"s3://{bucket}/{raw_key}", out])
        check_same(out, fx.random, "aws s3 cp")
        return m

    why_not = _s3fs_usable()
    if why_not:
        cases["s3.s3fs_cat"].skipped = why_not
        res.note(f"s3fs (FUSE) skipped: {why_not}.")

    def s3fs_cat():
        cold()
        mount = S3fsMount(env, work, bucket, env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"],
                          env["AWS_SECRET_ACCESS_KEY"])
        try:
            before = mount.cpu()
            m = r.run(["cat", os.path.join(mount.mnt, raw_key)])
            m["cpu_s"] += mount.cpu() - before
        finally:
            mount.close()
        return m

    steps = [(cases["s3.vol_cat"], vol_cat), (cases["s3.vol_get"], vol_get),
             (cases["s3.rclone_copy"], rclone_copy), (cases["s3.rclone_cat"], rclone_cat),
             (cases["s3.curl"], curl), (cases["s3.aws_cp"], aws_cp), (cases["s3.s3fs_cat"], s3fs_cat)]
    repeat(res, cfg, steps)

    # The cases that wrote to /dev/null are checked once more, untimed, into a file.
    def verify(case, cmd, env=None, what=""):
        if case.error or case.skipped or not case.runs:
            return
        try:
            cold()
            r.run(cmd, env=env, stdout=out)
            check_same(out, fx.random, what)
        except CaseError as e:
            case.error = f"verification: {e}"
    verify(cases["s3.vol_cat"], [cfg.vol, "run", "-v", "data:/mnt/v", "--", "cat", "/mnt/v/big"], vol_env,
           "vol run -- cat")
    verify(cases["s3.rclone_cat"], ["rclone", "cat", f"rgw:{bucket}/{raw_key}"], rclone_env, "rclone cat")
    if not cases["s3.s3fs_cat"].skipped and not cases["s3.s3fs_cat"].error:
        try:
            mount = S3fsMount(env, work, bucket, env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"],
                              env["AWS_SECRET_ACCESS_KEY"])
            try:
                check_same(os.path.join(mount.mnt, raw_key), fx.random, "s3fs")
            finally:
                mount.close()
        except CaseError as e:
            cases["s3.s3fs_cat"].error = f"verification: {e}"
    shutil.rmtree(out_dir, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)

    for vid, what in (("s3.vol_cat", "vol run -- cat"), ("s3.vol_get", "vol get")):
        res.ratios.append(Ratio(f"{what} vs rclone copy: speed", vid, "s3.rclone_copy", op=">=", bound=1.0,
                                aim=1.5))
        res.ratios.append(Ratio(f"{what} vs rclone copy: CPU per GiB", vid, "s3.rclone_copy", metric="cpu_s",
                                speed=False, op="<=", bound=1.0))
        for peer, name in (("s3.curl", "curl"), ("s3.rclone_cat", "rclone cat"), ("s3.aws_cp", "aws s3 cp"),
                           ("s3.s3fs_cat", "s3fs cat")):
            res.ratios.append(Ratio(f"{what} vs {name}: speed", vid, peer))
