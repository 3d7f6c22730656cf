#!/usr/bin/env bash
# Issue 8's commit engine with the real fetcher and real programs: commits
# replay a session's changes path by path on the newest head, so nothing
# another writer added is lost unless this session removed or wrote that same
# path (items 1, 2); no entry blocks the rest (6: FIFOs, symlinked
# directories); names and link targets are bytes (7); renames through ".."
# land where the kernel put them (8); deep trees commit whole, too-deep ones
# fail loudly and keep the session (10); xattrs and owners are published
# (11). And a randomised trial: concurrent sessions and vol put/cp/rm on
# overlapping trees, each writer recording what it did, checked against the
# rules (VOL_RACE_TRIALS=N runs more trials; default 3).
source "$(dirname "$0")/lib.sh"
export VOL

# path|type|size|sha of every entry under $1 (a local directory), sorted.
content_listing() {
  (cd "$1" && find . -mindepth 1 -printf '%P|%y|' -a \( -type f -exec sh -c 'printf "%s|%s\n" "$(stat -c %s "$1")" "$(sha256sum < "$1" | cut -c1-16)"' _ {} \; -o -printf -\|-\\n \) | LC_ALL=C sort)
}
# The whole head of volume $1 as a local directory $2.
get_all() { "$VOL" get "$1" / "$2" > /dev/null; }
# Outside the session's shim: another client writing to the volume.
OTHER='env -u LD_PRELOAD -u VOL_SESSION'

# Item 1: eight workers write five files each into one new directory at once.
test_eight_workers_into_one_new_directory_keep_all_forty_files() {
  "$VOL" create w >/dev/null
  local i
  for i in $(seq 1 8); do
    "$VOL" run -v w:/mnt/w -- sh -c "mkdir -p /mnt/w/c && for j in 1 2 3 4 5; do echo \$j > /mnt/w/c/f$i-\$j; done" &
  done
  wait
  assert_eq 40 "$("$VOL" ls w /c | wc -l)" "files in /c"
  for i in $(seq 1 8); do
    for j in 1 2 3 4 5; do assert_eq "$j" "$("$VOL" get w "/c/f$i-$j" -)" "/c/f$i-$j"; done
  done
}

# Item 1, the directory operations: each session changes a directory while
# another client adds to it after the session started; what was added stays.
test_directory_operations_keep_what_others_added() {
  "$VOL" create d >/dev/null
  mkdir -p src/t/sub src/m/sub src/r/sub src/s/sub
  for x in t m r s; do echo a > src/$x/a; echo x > src/$x/sub/x; done
  "$VOL" put d src/ / >/dev/null
  echo new > new.txt
  # touch + chmod: mode and time only.
  "$VOL" run -v d -- sh -c "touch /mnt/d/t && chmod 700 /mnt/d/t && $OTHER \"\$VOL\" put d $T/new.txt /t/new >/dev/null"
  # mv: the directory moves as it is at the head, with what was added.
  "$VOL" run -v d -- sh -c "mv /mnt/d/m /mnt/d/m2 && $OTHER \"\$VOL\" put d $T/new.txt /m/new >/dev/null"
  # rm -rf: removes what the session saw.
  "$VOL" run -v d -- sh -c "rm -rf /mnt/d/r && $OTHER \"\$VOL\" put d $T/new.txt /r/new >/dev/null"
  # mv of a subdirectory.
  "$VOL" run -v d -- sh -c "mv /mnt/d/s/sub /mnt/d/s/sub2 && $OTHER \"\$VOL\" put d $T/new.txt /s/sub/new >/dev/null"
  get_all d got
  (cd got && find . -mindepth 1 | LC_ALL=C sort) > listing
  cat > want <<'L'
./m2
./m2/a
./m2/new
./m2/sub
./m2/sub/x
./r
./r/new
./s
./s/a
./s/sub2
./s/sub2/new
./s/sub2/x
./t
./t/a
./t/new
./t/sub
./t/sub/x
L
  diff want listing || fail "the head after the directory operations differs (< want, > head)"
  assert_eq 700 "$(stat -c %a got/t)" "chmod of /t"
  assert_eq new "$(cat got/m2/new)"
}

# Item 2: vol cp -r into an existing directory merges like cp -r.
test_cp_r_into_an_existing_directory_merges_like_cp_r() {
  "$VOL" create c >/dev/null
  mkdir -p src/a/sub src/b/a/sub
  echo new-x > src/a/x; echo y > src/a/sub/y
  echo old-x > src/b/a/x; echo only > src/b/a/only-in-b; echo z > src/b/a/sub/z
  "$VOL" put c src/ / >/dev/null
  "$VOL" cp -r c /a /b
  cp -r src/a src/b   # ground truth: the same on local disk
  get_all c got
  diff -r src/b got/b || fail "vol cp -r differs from cp -r"
  # The same through a session: cp -r into the mount.
  "$VOL" run -v c -- cp -r /mnt/c/a /mnt/c/b/a-again
  assert_eq new-x "$("$VOL" get c /b/a-again/x -)"
}

# Item 6: a FIFO, a tar archive with one, and a write through a symlinked
# directory; nothing blocks the rest, and what is skipped is named once.
test_special_files_and_symlinked_directories_block_nothing() {
  "$VOL" create s >/dev/null
  mkdir -p src/ckpt/step-100 arch
  echo w > src/ckpt/step-100/weights
  ln -s ckpt/step-100 src/latest
  "$VOL" put s src/ / >/dev/null
  mkfifo arch/fifo && echo inside > arch/file && tar -cf a.tar -C arch fifo file
  local err
  err=$("$VOL" run -v s:/mnt/w --commit-every 1 -- sh -c '
    mkfifo /mnt/w/pipe
    echo ok > /mnt/w/ok
    echo e > /mnt/w/latest/extra.txt
    cat /mnt/w/ckpt/step-100/weights > /dev/null   # fetched whole: only the write says it changed
    ln -s ckpt/step-100/weights /mnt/w/wlink
    echo rewritten >> /mnt/w/wlink
    tar -xf '"$T"'/a.tar -C /mnt/w
    sleep 2.5' 2>&1) || fail "vol run failed: $err"
  assert_eq 1 "$(grep -c 'not published (not a file, directory or symlink): /mnt/w/pipe' <<<"$err")" "pipe named once: $err"
  assert_eq 1 "$(grep -c 'not published.*: /mnt/w/fifo' <<<"$err")" "fifo named once: $err"
  assert_eq ok "$("$VOL" get s /ok -)"
  assert_eq inside "$("$VOL" get s /file -)"
  assert_eq e "$("$VOL" get s /ckpt/step-100/extra.txt -)" "the write through latest/"
  assert_eq "$(printf 'w\nrewritten')" "$("$VOL" get s /ckpt/step-100/weights -)" "the write through wlink"
  "$VOL" ls -l s / | grep -q 'latest -> ckpt/step-100' || fail "latest is no longer the symlink: $("$VOL" ls -l s /)"
  ! "$VOL" ls s / | grep -qx 'pipe\|fifo' || fail "a FIFO was published"
}

# Item 7: names and link targets that are not UTF-8.
test_names_and_targets_that_are_not_utf8() {
  "$VOL" create n >/dev/null
  mkdir -p arch/d
  echo latin > "arch/d/$(printf 'caf\351.txt')"
  echo two > "arch/$(printf '\377\376')"
  ln -s "$(printf 'caf\351.txt')" arch/d/link
  tar -cf latin1.tar -C arch .
  mkdir local && tar -xf latin1.tar -C local && touch "local/$(printf 'x\351')" && ln -s $'\xff' local/l
  local out
  out=$("$VOL" run -v n -- sh -c 'tar -xf '"$T"'/latin1.tar -C /mnt/n && touch "/mnt/n/$(printf "x\351")" && ln -s "$(printf "\377")" /mnt/n/l' 2>&1) ||
    fail "vol run: $out"
  out=$("$VOL" run -v n -- diff -r --no-dereference /mnt/n "$T/local" 2>&1) || fail "the volume differs: $out"
  assert_eq "$(printf '\377')" "$("$VOL" run -v n -- readlink /mnt/n/l)" "byte target"
  assert_eq latin "$("$VOL" get n "/d/$(printf 'caf\351.txt')" -)"
  # vol put and vol get take them too, both ways.
  mkdir up && echo y > "up/$(printf 'caf\351')" && ln -s "$(printf '\377')" up/link
  "$VOL" put n up/ /up/ >/dev/null
  assert_eq y "$("$VOL" get n "/up/$(printf 'caf\351')" -)"
  "$VOL" get n /up back >/dev/null
  diff -r --no-dereference up back || fail "vol put / vol get of byte names"
  # ls --json writes what is not UTF-8 as base64 (docs/FORMAT.md).
  "$VOL" ls --json n /d | python3 -c '
import json, sys
names = [e["name"] for e in json.load(sys.stdin)]
assert {"base64": "Y2Fm6S50eHQ="} in names, names'
}

# Item 8: rename("/mnt/w/a/../c", "/mnt/w/a/../d"), then rmdir a.
test_rename_through_dot_dot_lands_where_the_kernel_put_it() {
  "$VOL" create r >/dev/null
  "$VOL" run -v r:/mnt/w -- python3 -c '
import os
os.mkdir("/mnt/w/a")
open("/mnt/w/c", "w").write("c")
os.rename("/mnt/w/a/../c", "/mnt/w/a/../d")
os.rmdir("/mnt/w/a")'
  assert_eq "d" "$("$VOL" ls r /)" "the volume's root"
  assert_eq c "$("$VOL" get r /d -)"
}

# Item 10: 600 nested directories (6,600-character paths) commit whole; a
# tree deeper than a volume holds fails the commit in one line, non-zero, and
# the session is kept.
test_deep_trees_commit_whole_or_fail_loudly() {
  "$VOL" create deep >/dev/null
  "$VOL" run -v deep -- python3 -c '
import os
os.chdir("/mnt/deep")
for i in range(600):
    os.mkdir("dddddddddd"); os.chdir("dddddddddd")
open("bottom.txt", "w").write("deep")' || fail "vol run of the 600-deep tree failed"
  local path
  path=$(printf '/dddddddddd%.0s' $(seq 600))/bottom.txt
  assert_eq 6611 "${#path}" "path length"
  assert_eq deep "$("$VOL" get deep "$path" -)" "the bottom of the tree"

  # (A new session of this volume is the view builder's: it materialises
  # views by path, so the 1,100-deep case uses a volume of its own.)
  "$VOL" create deeper >/dev/null
  local rc=0 err
  err=$("$VOL" run -v deeper --commit-every 0 -- python3 -c '
import os
os.chdir("/mnt/deeper")
open("shallow.txt", "w").write("s")
for i in range(1030):
    os.mkdir("e"); os.chdir("e")' 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "a 1,030-deep tree was accepted with status 0"
  assert_match "1025 directories deep and a volume holds at most 1024" "$err"
  assert_match "vol commit --session" "$err" "the session is kept"
  [[ -z "$("$VOL" ls deeper /)" ]] || fail "part of the failed commit was published: $("$VOL" ls deeper /)"
  return 0
}

# Item 11: user.* xattrs and ownership are published and applied.
test_xattrs_and_owners_are_published() {
  python3 -c 'import os; open("x", "w"); os.setxattr("x", "user.t", b"1")' 2>/dev/null ||
    skip "the file system under $T keeps no user xattrs"
  "$VOL" create x >/dev/null
  local root=0
  [[ $(id -u) -eq 0 ]] && root=1
  "$VOL" run -v x -- python3 -c '
import os, sys
open("/mnt/x/f", "w").write("content")
os.mkdir("/mnt/x/d")
os.setxattr("/mnt/x/f", "user.mime_type", b"text/plain")
os.setxattr("/mnt/x/d", "user.note", b"\x00\xff binary")
if sys.argv[1] == "1":
    os.chown("/mnt/x/f", 1234, 5678)' "$root" || fail "vol run failed"
  "$VOL" get x / got >/dev/null
  assert_eq "b'text/plain'" "$(python3 -c 'import os; print(os.getxattr("got/f", "user.mime_type"))')" "vol get"
  assert_eq "b'\\x00\\xff binary'" "$(python3 -c 'import os; print(os.getxattr("got/d", "user.note"))')" "vol get, directory"
  [[ $root -eq 0 ]] || assert_eq "1234:5678" "$(stat -c %u:%g got/f)" "owner"
  # A new session sees them; its own commits keep them.
  assert_eq "b'text/plain'" "$("$VOL" run -v x -- python3 -c 'import os; print(os.getxattr("/mnt/x/f", "user.mime_type")); os.chmod("/mnt/x/f", 0o600)')"
  rm -rf got && "$VOL" get x / got >/dev/null
  assert_eq "b'text/plain'" "$(python3 -c 'import os; print(os.getxattr("got/f", "user.mime_type"))')" "after a chmod in another session"
  assert_eq 600 "$(stat -c %a got/f)"
}

# Item 9: a session killed whole whose journal could not be written (disk
# full): vol commit --session compares the view with the base, so the
# removal and the new file are published all the same.
test_killed_session_with_a_lost_journal_loses_no_removal() {
  "$VOL" create j >/dev/null
  mkdir -p src/d && echo gone > src/gone.txt && echo keep > src/d/keep.txt && head -c 5000000 /dev/urandom > src/d/cold.bin
  "$VOL" put j src/ / >/dev/null
  "$VOL" run -v j --commit-every 0 -- bash -c '
    rm /mnt/j/gone.txt
    echo new > /mnt/j/d/new.txt
    mv /mnt/j/d/keep.txt /mnt/j/kept.txt
    kill -9 $PPID $(cat "$VOL_SESSION/fetcher.pid"); sleep 0.2' >/dev/null 2>&1 || true
  sleep 0.3
  local dir
  dir=$(ls -d "$T"/.cache/vol/sessions/*)
  [[ -f "$dir/recover.json" ]] || fail "the killed session has no recover.json"
  : > "$dir/journal"  # what a full disk leaves
  local out
  out=$("$VOL" commit --session "$dir" 2>&1) || fail "vol commit --session: $out"
  assert_eq "d/ kept.txt" "$("$VOL" ls j / | tr '\n' ' ' | sed 's/ $//')" "the root after recovery"
  assert_eq "cold.bin new.txt" "$("$VOL" ls j /d | tr '\n' ' ' | sed 's/ $//')"
  assert_eq keep "$("$VOL" get j /kept.txt -)"
  "$VOL" get j /d/cold.bin cold >/dev/null && cmp cold src/d/cold.bin || fail "the never-read file changed"
}

# Concurrent sessions (background commits every second) and vol put / cp /
# rm on overlapping trees. Each writer uses names of its own inside shared
# directories (which sessions also touch, chmod and mkdir -p), moves and
# removes only what it made, and records what must be in the head at the
# end and what must not. Every file a writer closed and did not remove is
# there with its bytes, wherever its own renames put it.
RACE_WORKER='
import json, os, random, subprocess, sys
wid, seed, root, log, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rng = random.Random(seed)
expect, gone, mine_dirs = {}, set(), []
vol = os.environ["VOL"]
env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "VOL_SESSION")}
def cli(*args):
    subprocess.run([vol, *args], check=True, env=env, stdout=subprocess.DEVNULL)
def put(path, data):
    local = os.path.join(os.environ["T"], "w%s.tmp" % wid)
    open(local, "wb").write(data)
    cli("put", "--force", "v", local, path)
for step in range(int(os.environ.get("RACE_STEPS", "25"))):
    shared = "/shared/s%d" % rng.randrange(3)
    op = rng.randrange(8)
    name = "%s-%d" % (wid, step)
    data = ("%s step %d %s" % (wid, step, "x" * rng.randrange(2000))).encode()
    if mode == "session":
        p = root + shared
        if op <= 2:
            os.makedirs(p, exist_ok=True)
            with open(p + "/" + name, "wb") as f: f.write(data)
            expect[shared + "/" + name] = data.decode()
        elif op == 3:
            os.makedirs(root + "/common/new", exist_ok=True)   # every session makes it
            with open(root + "/common/new/" + name, "wb") as f: f.write(data)
            expect["/common/new/" + name] = data.decode()
        elif op == 4 and os.path.isdir(p):
            os.utime(p); os.chmod(p, 0o755)
        elif op == 5:
            d = "/own-%s-%d" % (wid, step)
            os.makedirs(root + d + "/sub")
            with open(root + d + "/sub/f", "wb") as f: f.write(data)
            expect[d + "/sub/f"] = data.decode(); mine_dirs.append(d)
        elif op == 6 and mine_dirs:
            d = mine_dirs.pop(rng.randrange(len(mine_dirs)))
            if rng.random() < 0.5:
                to = d + "-mv"
                os.rename(root + d, root + to)
                for k in [k for k in expect if k.startswith(d + "/")]:
                    expect[to + k[len(d):]] = expect.pop(k)
                mine_dirs.append(to)
            else:
                subprocess.run(["rm", "-rf", root + d], check=True)
                for k in [k for k in expect if k.startswith(d + "/")]:
                    expect.pop(k); gone.add(k)
        elif op == 7 and expect:
            k = rng.choice(sorted(k for k in expect if k.startswith("/shared/")) or [None])
            if k:
                os.unlink(root + k); expect.pop(k); gone.add(k)
    else:
        if op <= 3:
            put(shared + "/" + name, data)
            expect[shared + "/" + name] = data.decode()
        elif op <= 5:
            d = "/cli-%s-%d" % (wid, step)
            put(d + "/f", data)
            to = "/shared/s%d/%s-copy" % (rng.randrange(3), name)
            cli("cp", "-r", "v", d, to)
            expect[d + "/f"] = data.decode(); expect[to + "/f"] = data.decode()
        elif expect:
            k = rng.choice(sorted(expect))
            cli("rm", "-r", "v", k); expect.pop(k); gone.add(k)
json.dump({"expect": expect, "gone": sorted(gone)}, open(log, "w"))
'
RACE_CHECK='
import json, os, sys
got, logs = sys.argv[1], sys.argv[2:]
bad = []
files = 0
for log in logs:
    rec = json.load(open(log))
    for path, data in rec["expect"].items():
        files += 1
        try:
            have = open(got + path).read()
        except OSError as e:
            bad.append("missing %s (%s)" % (path, log)); continue
        if have != data:
            bad.append("wrong bytes in %s (%s)" % (path, log))
    for path in rec["gone"]:
        if os.path.lexists(got + path) and path not in sum((list(json.load(open(l))["expect"]) for l in logs), []):
            bad.append("removed but present: %s (%s)" % (path, log))
print("%d files checked, %d problems" % (files, len(bad)))
for b in bad[:20]: print("  " + b)
sys.exit(1 if bad else 0)
'
test_randomised_concurrent_sessions_and_cli_writers() {
  local trials=${VOL_RACE_TRIALS:-3} trial i
  for trial in $(seq 1 "$trials"); do
    export VOL_ENV=trial$trial  # a fresh volume v per trial
    "$VOL" create v >/dev/null
    mkdir -p base/shared/s0 base/shared/s1 base/shared/s2 base/common
    echo base > base/shared/s0/base.txt
    "$VOL" put v base/ / >/dev/null
    local pids=()
    for i in 1 2 3 4; do
      "$VOL" run -v v --commit-every 1 -- python3 -c "$RACE_WORKER" "s$i" "$((trial * 100 + i))" /mnt/v "$T/log-s$i" session &
      pids+=($!)
    done
    for i in 1 2; do
      python3 -c "$RACE_WORKER" "c$i" "$((trial * 100 + 10 + i))" "" "$T/log-c$i" cli &
      pids+=($!)
    done
    local failed=0
    for i in "${pids[@]}"; do wait "$i" || failed=1; done
    [[ $failed -eq 0 ]] || fail "trial $trial: a writer failed"
    rm -rf got && get_all v got
    python3 -c "$RACE_CHECK" got "$T"/log-* || fail "trial $trial: the head breaks the merge rules"
    rm -f "$T"/log-*
  done
  echo "NOTE: concurrent writers on overlapping trees (4 sessions committing every second, 2 running vol put/cp/rm), $trials trials: every file closed and not removed is in the head with its bytes"
}

run_tests "$@"
