"""A reader holds a cold file open while it is replaced or unlinked (by the
reader, or by a child): it must keep reading the old bytes."""
import hashlib, os, subprocess, sys

root, case = sys.argv[1], sys.argv[2]
path = f"{root}/ckpt.bin"
f = open(path, "rb")
head = f.read(10)  # started reading; the rest is still cold
if case == "replace":
    with open(f"{root}/ckpt.tmp", "wb") as t:
        t.write(b"new checkpoint")
    os.replace(f"{root}/ckpt.tmp", path)
elif case == "unlink":
    os.unlink(path)
elif case == "child-replace":
    subprocess.run([sys.executable, "-c", f"import os; open('{root}/ckpt.tmp','wb').write(b'x'); os.replace('{root}/ckpt.tmp', '{path}')"], check=True)
elif case == "child-unlink":
    subprocess.run(["rm", path], check=True)
print(case, hashlib.sha256(head + f.read()).hexdigest()[:16], os.path.exists(path))
