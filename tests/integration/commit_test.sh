#!/usr/bin/env bash
# The commit side of the write path with the real fetcher: what a program
# writes under `vol run` is published (at the end, by `vol commit`, in the
# background) and a new session sees exactly the tree that the same operations
# leave on local disk. Also --no-commit, --read-only, a file open for writing
# left out of a background commit, a failed final commit kept and published
# later, commit cost, and concurrent sessions.
source "$(dirname "$0")/lib.sh"
export VOL  # scripts inside sessions call "$VOL commit", "$VOL ls"

# type|mode|size|target of every entry (mtimes are "now" on both sides).
listing() {
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%P|%y|%m|-|\n' \) -o \
     \( -type l -printf '%P|%y|-|-|%l\n' \) -o -printf '%P|%y|%m|%s|\n' | LC_ALL=C sort)
}
listing_in() {  # listing of a mount, from inside a session
  "$VOL" run -v "$1" -- bash -c "cd $2 && find . -mindepth 1 \\( -type d -printf '%P|%y|%m|-|\\n' \\) -o \\( -type l -printf '%P|%y|-|-|%l\\n' \\) -o -printf '%P|%y|%m|%s|\\n' | LC_ALL=C sort"
}

make_src() {
  mkdir -p src/d src/cold/sub src/emptydir
  head -c 3000000 /dev/urandom > src/big.bin
  head -c 9000000 /dev/urandom > src/cold/a.bin
  head -c 900000 /dev/urandom > src/cold/sub/b.bin
  head -c 1000000 /dev/urandom > src/gone.bin
  seq 1 100000 > src/d/nums
  echo small > src/d/small.txt
  cp -a src local
  "$VOL" create v >/dev/null
  "$VOL" put v src/ / >/dev/null
}

OPS='set -e
cd @
echo new > new.txt
echo more >> d/small.txt
printf X | dd of=big.bin bs=1 seek=2500000 conv=notrunc status=none
echo replaced > d/nums
mkdir -p n1/n2/n3 && echo x > n1/n2/n3/f
mv new.txt n1/moved.txt
mv cold renamed
rm gone.bin
rmdir emptydir
ln -s ../d/small.txt n1/rel-link
chmod 600 d/small.txt
python3 -c "
import os
with open(\"ckpt.tmp\", \"wb\") as f:
    f.write(b\"checkpoint\" * 1000); f.flush(); os.fsync(f.fileno())
os.replace(\"ckpt.tmp\", \"ckpt.bin\")"
echo done'

test_writes_are_committed_at_exit_and_seen_by_a_new_session() {
  make_src
  assert_eq done "$(bash -c "${OPS//@/$T/local}" 2>&1)" "ops on the local tree"
  assert_eq done "$("$VOL" run -v v --commit-every 0 -- bash -c "${OPS//@//mnt/v}" 2>&1)" "ops on the mount"
  local out
  out=$("$VOL" run -v v -- diff -r --no-dereference /mnt/v "$T/local" 2>&1) || fail "new session differs from local: $out"
  diff <(listing local) <(listing_in v /mnt/v) || fail "listing differs"
  # The renamed directory's files were never read: their chunks were reused, not uploaded again.
  assert_match "^2 " "$("$VOL" history v | sed -n 2p | awk '{print $1, $0}')" "one commit for the session"
}

test_vol_commit_inside_the_session_publishes_now() {
  make_src
  local out
  out=$("$VOL" run -v v --commit-every 0 -- bash -c '
    echo one > /mnt/v/one.txt
    "$VOL" commit
    other=$(env -u LD_PRELOAD -u VOL_SESSION "$VOL" get v /one.txt -)
    echo "seen by another client: $other"
    echo two > /mnt/v/two.txt
    "$VOL" commit /mnt/v' 2>&1)
  assert_match "Committed 1 changed files" "$out"
  assert_match "seen by another client: one" "$out"
  assert_eq "one two" "$("$VOL" get v /one.txt -) $("$VOL" get v /two.txt -)"
  assert_match "^3 " "$("$VOL" history v | sed -n 2p)" "two explicit commits, nothing left for the end"
}

# The other ways to commit from inside: the C API through ctypes, and sync.
test_vol_commit_api_and_sync_publish_now() {
  "$VOL" create a >/dev/null
  "$VOL" run -v a --commit-every 0 -- bash -c '
    A() { env -u LD_PRELOAD -u VOL_SESSION "$VOL" "$@"; }
    echo one > /mnt/a/one
    python3 -c "import ctypes; assert ctypes.CDLL(None).vol_commit(b\"/mnt/a\") == 0"
    echo "after api: $(A ls a / | tr "\n" " ")"
    echo two > /mnt/a/two
    sync
    echo "after sync: $(A ls a / | tr "\n" " ")"
    echo three > /mnt/a/three
    python3 -c "import ctypes; assert ctypes.CDLL(None).vol_reload(None) == 0"
    echo "after reload: $(A ls a / | tr "\n" " ")"' > out 2>&1
  cat out
  assert_eq "after api: one " "$(sed -n 1p out)"
  assert_eq "after sync: one two " "$(sed -n 2p out)"
  assert_eq "after reload: one three two " "$(sed -n 3p out)"
}

test_no_commit_and_read_only() {
  make_src
  "$VOL" run -v v --no-commit -- bash -c 'echo x > /mnt/v/x; rm /mnt/v/big.bin'
  assert_eq "1" "$("$VOL" history v | tail -n +2 | wc -l)" "--no-commit published something"
  local rc=0 err
  err=$("$VOL" run -v v --read-only -- touch /mnt/v/y 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "write on a --read-only mount succeeded"
  assert_match "Read-only file system" "$err"
  assert_eq "1" "$("$VOL" history v | tail -n +2 | wc -l)" "--read-only published something"
}

test_background_commit_leaves_out_a_file_open_for_writing() {
  make_src
  "$VOL" run -v v --commit-every 1 -- bash -c '
    echo early > /mnt/v/early.txt
    exec 5> /mnt/v/writing.txt
    echo half >&5
    sleep 2.5
    # A background commit has published early.txt but not the open file.
    env -u LD_PRELOAD -u VOL_SESSION "$VOL" ls v / > "$T/mid.ls"
    echo rest >&5
    exec 5>&-'
  grep -qx early.txt mid.ls || fail "the background commit did not publish early.txt: $(cat mid.ls)"
  ! grep -q writing.txt mid.ls || fail "a file open for writing was committed"
  assert_eq "$(printf 'half\nrest')" "$("$VOL" get v /writing.txt -)" "the final commit has the whole file"
}

test_failed_final_commit_keeps_changes_and_publishes_later() {
  file_store_dir >/dev/null  # takes the store away by renaming its directory
  make_src
  local rc=0 err
  err=$("$VOL" run -v v --commit-every 0 -- bash -c "
    echo precious > /mnt/v/precious.txt
    mv /mnt/v/cold /mnt/v/cold2
    # The store goes away before the session ends.
    mv '$T/store' '$T/store.off' && touch '$T/store'" 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "vol run succeeded although its final commit could not be written"
  echo "$err"
  assert_match "final commit failed" "$err"
  local cmd
  cmd=$(grep -o 'vol commit --session [^ ]*' <<<"$err" | head -1)
  [[ -n "$cmd" ]] || fail "no recovery command in: $err"
  rm "$T/store" && mv "$T/store.off" "$T/store"
  assert_eq "1" "$("$VOL" history v | tail -n +2 | wc -l)" "nothing was published yet"
  "$VOL" ${cmd#vol } > out
  cat out
  assert_eq precious "$("$VOL" get v /precious.txt -)"
  "$VOL" get v /cold2 got >/dev/null
  diff -r src/cold got || fail "the renamed directory differs"
  [[ ! -d "${cmd#vol commit --session }" ]] || fail "the session directory was not removed after publishing"
}

# Committing one changed file in a 20,000-file volume writes the trees on its
# path only, and uploads one chunk.
test_commit_cost_grows_with_the_change_not_the_volume() {
  local store
  store=$(file_store_dir)
  mkdir -p many
  for d in $(seq 1 100); do
    mkdir -p many/d$d/e
    for f in $(seq 1 199); do echo "$d $f" > many/d$d/f$f; done
    echo deep > many/d$d/e/x
  done
  "$VOL" create big >/dev/null
  "$VOL" put big many/ / >/dev/null
  local trees_before chunks_before
  trees_before=$(find "$store/trees" -type f | wc -l)
  chunks_before=$(find "$store/chunks" -type f | wc -l)
  "$VOL" run -v big -- sh -c 'echo changed >> /mnt/big/d42/e/x'
  assert_eq $((trees_before + 3)) "$(find "$store/trees" -type f | wc -l)" "new trees (root, d42, d42/e)"
  assert_eq $((chunks_before + 1)) "$(find "$store/chunks" -type f | wc -l)" "new chunks"
  assert_eq "$(printf 'deep\nchanged')" "$("$VOL" get big /d42/e/x -)"
}

test_eight_sessions_commit_their_own_files_at_once() {
  "$VOL" create c >/dev/null
  local i
  for i in $(seq 1 8); do
    "$VOL" run -v c -- bash -c "for f in \$(seq 1 25); do echo $i-\$f > /mnt/c/s$i-\$f; done" &
  done
  wait
  assert_eq 200 "$("$VOL" run -v c -- sh -c 'ls /mnt/c | wc -l')" "files after all sessions"
  assert_eq "5-17" "$("$VOL" get c /s5-17 -)"
}

test_eight_sessions_rewrite_one_file_and_one_writer_wins_whole() {
  "$VOL" create s >/dev/null
  local i
  for i in $(seq 1 8); do
    "$VOL" run -v s -- python3 -c "
import sys
with open('/mnt/s/shared', 'wb') as f:
    for k in range(200): f.write(b'writer $i line %d\\n' % k)" &
  done
  wait
  "$VOL" get s /shared - > got
  local who
  who=$(sed -n 's/^writer \([0-9]*\) line 0$/\1/p' got)
  [[ -n "$who" ]] || fail "no writer's first line in: $(head -2 got)"
  python3 -c "
import sys
want = b''.join(b'writer $who line %d\\n' % k for k in range(200))
sys.exit(0 if open('got', 'rb').read() == want else 1)" || fail "the file mixes writers (or is partial)"
}

test_sqlite_database_on_a_mount() {
  "$VOL" create q >/dev/null
  "$VOL" run -v q -- sh -c '
    sqlite3 /mnt/q/db.sqlite "create table t(x integer primary key, y text);"
    for i in $(seq 1 50); do sqlite3 /mnt/q/db.sqlite "insert into t(y) values (\"row $i\")"; done
    sqlite3 /mnt/q/db.sqlite "update t set y = y || \"!\" where x % 2 = 0; delete from t where x > 40;"'
  assert_eq ok "$("$VOL" run -v q -- sqlite3 /mnt/q/db.sqlite 'pragma integrity_check')"
  assert_eq "40|row 2!|row 3" "$("$VOL" run -v q -- sqlite3 /mnt/q/db.sqlite "select count(*), (select y from t where x = 2), (select y from t where x = 3) from t")"
  ! "$VOL" ls q / | grep -q journal || fail "a journal file was committed: $("$VOL" ls q /)"
}

test_tar_extract_into_a_mount() {
  "$VOL" create t >/dev/null
  mkdir -p arch/x
  for d in $(seq 1 20); do
    mkdir -p arch/x/d$d/sub
    for f in $(seq 1 100); do echo "file $d $f" > arch/x/d$d/f$f; done
    ln -s f1 arch/x/d$d/link
    echo deep > arch/x/d$d/sub/deep
  done
  tar -cf archive.tar -C arch x
  "$VOL" run -v t -- tar -xf "$T/archive.tar" -C /mnt/t
  local out
  out=$("$VOL" run -v t -- diff -r --no-dereference /mnt/t/x "$T/arch/x" 2>&1) || fail "diff: $out"
  diff <(listing arch) <(listing_in t /mnt/t) || fail "listing differs"
}

# Session B holds files open (one never read: its content is not fetched yet)
# while another client commits; B reloads, sees the new files, and its open
# files still read what they held.
test_reload_moves_to_the_head_and_open_files_keep_their_content() {
  "$VOL" create r >/dev/null
  echo old > old.txt
  head -c 9000000 /dev/urandom > big1
  head -c 5000000 /dev/urandom > big2
  echo new > new.txt
  "$VOL" put r old.txt /f.txt >/dev/null
  "$VOL" put r big1 /big >/dev/null
  "$VOL" run -v r -- bash -c '
    exec 3< /mnt/r/f.txt
    exec 4< /mnt/r/big
    echo mine > /mnt/r/mine.txt
    A() { env -u LD_PRELOAD -u VOL_SESSION "$VOL" "$@" > /dev/null; }
    A put --force r "$T/new.txt" /f.txt
    A put r "$T/new.txt" /added.txt
    A put --force r "$T/big2" /big
    [ ! -e /mnt/r/added.txt ] || echo "saw another session before reload"
    "$VOL" reload
    ls /mnt/r | tr "\n" " "; echo
    echo "fd3 $(cat <&3) path $(cat /mnt/r/f.txt)"
    echo "fd4 $(sha256sum <&4 | cut -c1-16) path $(sha256sum < /mnt/r/big | cut -c1-16)"' > out 2>&1
  cat out
  assert_eq "added.txt big f.txt mine.txt " "$(sed -n 1p out)" "files after reload"
  assert_eq "fd3 old path new" "$(sed -n 2p out)" "small file: open fd vs path"
  assert_eq "fd4 $(sha256sum < big1 | cut -c1-16) path $(sha256sum < big2 | cut -c1-16)" "$(sed -n 3p out)" "unfetched big file: open fd vs path"
  assert_eq mine "$("$VOL" get r /mine.txt -)" "the reload committed the session's own file"
}

# A program checkpoints every 0.2 s (write tmp, fsync, os.replace) with
# background commits every second; the whole session is killed with SIGKILL
# at a random moment, 20 times. The head always holds one complete checkpoint.
test_killed_sessions_never_publish_a_partial_checkpoint() {
  "$VOL" create c >/dev/null
  cat > writer.py <<'PY'
import hashlib, os, random, time
n = 0
while True:
    n += 1
    body = os.urandom(random.randint(50_000, 3_000_000)) + b"#%d" % n
    with open("/mnt/c/ckpt.tmp", "wb") as f:
        f.write(body + hashlib.sha256(body).digest())
        f.flush()
        os.fsync(f.fileno())
    os.replace("/mnt/c/ckpt.tmp", "/mnt/c/ckpt.bin")
    time.sleep(0.2)
PY
  cat > check.py <<'PY'
import hashlib, sys
data = sys.stdin.buffer.read()
body, digest = data[:-32], data[-32:]
sys.exit(0 if len(data) > 32 and hashlib.sha256(body).digest() == digest else 1)
PY
  local i pid seen=0
  for i in $(seq 1 20); do
    setsid "$VOL" run -v c --commit-every 1 -- python3 "$T/writer.py" > /dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.8 + r / 32768 * 2 }')"
    kill -9 -- -"$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if "$VOL" ls c / | grep -qx ckpt.bin; then
      seen=$((seen + 1))
      "$VOL" get c /ckpt.bin - | python3 check.py || fail "round $i: the head holds a broken checkpoint"
    fi
  done
  echo "checkpoint published and valid after $seen of 20 kills"
  [[ $seen -ge 10 ]] || fail "background commits published a checkpoint in only $seen of 20 rounds"
}

# The whole session (vol run, its fetcher, the program) is SIGKILLed before
# anything was committed (OOM killer, container stop). The next `vol run`
# keeps the session and says how to publish it; `vol commit --session`
# publishes exactly the tree the same operations leave on local disk — the
# renamed directory's never-fetched files keep their committed chunks — and
# removes the session. A killed session without changes is removed as before.
KILL_ALL='kill -9 $PPID $(cat "$VOL_SESSION/fetcher.pid"); sleep 0.2; echo killed'

test_killed_session_keeps_its_changes_for_vol_commit_session() {
  make_src
  assert_eq done "$(bash -c "${OPS//@/$T/local}" 2>&1)" "ops on the local tree"
  local out err dir
  out=$("$VOL" run -v v --commit-every 0 -- bash -c "${OPS//@//mnt/v} >/dev/null; $KILL_ALL" 2>&1) || true
  assert_match killed "$out" "the program killed its session"
  sleep 0.3
  "$VOL" ls v / | grep -qx ckpt.bin && fail "the killed session committed something"
  assert_eq 1 "$(ls "$T/.cache/vol/sessions" | wc -l)" "the killed session's directory is still there"
  err=$("$VOL" run -v v -- true 2>&1) || fail "vol run after the kill: $err"
  assert_match "kept session .*vol commit --session .*rm -r " "$err" "the notice"
  dir=$(grep -o 'vol commit --session [^`]*' <<<"$err" | head -1)
  dir=${dir#vol commit --session }
  [[ -d "$dir" ]] || fail "the killed session $dir was removed"
  "$VOL" ls v / | grep -qx ckpt.bin && fail "vol run published the killed session by itself"
  out=$("$VOL" commit --session "$dir" 2>&1) || fail "vol commit --session: $out"
  assert_match "Committed" "$out" "vol commit --session"
  [[ ! -e "$dir" ]] || fail "the session directory was not removed after publishing"
  out=$("$VOL" run -v v -- diff -r --no-dereference /mnt/v "$T/local" 2>&1) || fail "recovered volume differs from local: $out"
  diff <(listing local) <(listing_in v /mnt/v) || fail "listing differs"
  assert_eq 0 "$(ls "$T/.cache/vol/sessions" | wc -l)" "no session left behind"
}

# stdio closes its fd inside glibc (fclose, freopen), out of the shim's
# sight: a file written with fopen/fputs/fclose is still announced closed, so a background
# commit publishes it while the program runs, and a kill of the program
# afterwards does not make it cut short. A stream left open is.
test_a_file_closed_with_fclose_is_final() {
  "$VOL" create s >/dev/null
  local out rc=0
  out=$("$VOL" run -v s --commit-every 1 -- python3 -c '
import ctypes, os, signal, subprocess, time
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fdopen.restype = ctypes.c_void_p
def put(f, text):
    libc.fputs(text, ctypes.c_void_p(f))
f = libc.fopen(b"/mnt/s/closed.txt", b"w"); put(f, b"closed by fclose\n"); libc.fclose(ctypes.c_void_p(f))
fd = os.open("/mnt/s/fdopen.txt", os.O_WRONLY | os.O_CREAT, 0o644)
f = libc.fdopen(fd, b"w"); put(f, b"closed by fclose of fdopen\n"); libc.fclose(ctypes.c_void_p(f))
libc.freopen.restype = ctypes.c_void_p
f = libc.fopen(b"/mnt/s/first.txt", b"w"); put(f, b"first\n")
f = libc.freopen(b"/mnt/s/second.txt", b"w", ctypes.c_void_p(f)); put(f, b"second\n"); libc.fclose(ctypes.c_void_p(f))
f = libc.fopen(b"/mnt/s/open.txt", b"w"); put(f, b"never closed\n"); libc.fflush(ctypes.c_void_p(f))
for _ in range(100):
    listed = subprocess.run(["'"$VOL"'", "ls", "s", "/"], capture_output=True, text=True, env=dict(os.environ, LD_PRELOAD="")).stdout.split()
    if {"closed.txt", "fdopen.txt", "first.txt", "second.txt"} <= set(listed): break
    time.sleep(0.1)
print("published while running:", " ".join(sorted(listed)), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
' 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "vol run exited 0 after its program was killed"
  assert_match "published while running: closed.txt fdopen.txt first.txt second.txt" "$out" \
    "background commits took the files closed by fclose and freopen"
  assert_eq "first" "$("$VOL" get s /first.txt -)" "first.txt (closed by freopen)"
  assert_eq "second" "$("$VOL" get s /second.txt -)" "second.txt"
  assert_eq "closed by fclose" "$("$VOL" get s /closed.txt -)" "closed.txt"
  assert_eq "closed by fclose of fdopen" "$("$VOL" get s /fdopen.txt -)" "fdopen.txt"
  "$VOL" ls s / | grep -qx open.txt && fail "the stream never closed was published"
  assert_match "open.txt" "$out" "vol run names the file cut short"
}

# A shared writable mapping outlives the fd it was made from: the file is
# being written until munmap, though its last write fd is closed. A
# background commit leaves it out meanwhile; the final one publishes it
# whole; a kill of the program meanwhile makes it cut short.
test_a_file_mapped_for_writing_waits_for_munmap() {
  "$VOL" create m >/dev/null
  local out
  out=$("$VOL" run -v m --commit-every 1 -- python3 -c '
import ctypes, os, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
n = 1 << 20
fd = os.open("/mnt/m/mapped.bin", os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, n)
p = libc.mmap(None, n, 3, 1, fd, 0)  # PROT_READ | PROT_WRITE, MAP_SHARED
os.close(fd)
ctypes.memset(p, ord("a"), n // 2)
open("/mnt/m/marker.txt", "w").write("x")
ls = lambda: subprocess.run(["'"$VOL"'", "ls", "m", "/"], capture_output=True, text=True,
                            env=dict(os.environ, LD_PRELOAD="")).stdout.split()
for _ in range(100):  # a background commit has run since the fd was closed
    if "marker.txt" in ls(): break
    time.sleep(0.1)
time.sleep(1.5)
print("while mapped:", " ".join(ls()), flush=True)
ctypes.memset(p + n // 2, ord("b"), n // 2)
libc.munmap(p, n)
' 2>&1) || fail "vol run: $out"
  assert_eq "while mapped: marker.txt" "$out" "published while the file was mapped for writing"
  assert_eq "$(python3 -c 'import sys; sys.stdout.write("a" * 524288 + "b" * 524288)' | sha256sum)" \
    "$("$VOL" get m /mapped.bin - | sha256sum)" "mapped.bin, whole"
  # Killed while it writes through the mapping, its fd long closed: cut short.
  local rc=0
  out=$("$VOL" run -v m -- python3 -c '
import ctypes, os, signal
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open("/mnt/m/killed.bin", os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 1 << 20)
p = libc.mmap(None, 1 << 20, 3, 1, fd, 0)
os.close(fd)
ctypes.memset(p, ord("a"), 1 << 19)
os.kill(os.getpid(), signal.SIGKILL)
' 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "vol run exited 0 after its program was killed"
  assert_match "killed.bin" "$out" "vol run names the file cut short"
  "$VOL" ls m / | grep -qx killed.bin && fail "a file killed mid-write through a mapping was published"
  true
}

# The same kill while a file is half-written, first opened after the last
# commit: no one is left to say it was being written but the session's
# writers log. `vol commit --session` publishes the closed file, leaves the
# half-written one out and names it; `--include-cut-short` publishes it as
# the kill left it.
test_killed_session_leaves_out_the_file_it_was_writing() {
  "$VOL" create w >/dev/null
  local out dir
  out=$("$VOL" run -v w --commit-every 0 -- bash -c '
    echo whole > /mnt/w/closed.txt
    exec 3>/mnt/w/half.bin; echo first-half >&3
    '"$KILL_ALL" 2>&1) || true
  assert_match killed "$out" "the program killed its session"
  sleep 0.3
  dir=$(compgen -G "$T/.cache/vol/sessions/*" | head -1)
  [[ -d "$dir" ]] || fail "the killed session was removed"
  out=$("$VOL" commit --session "$dir" 2>&1) && fail "vol commit --session exited 0 with a file cut short: $out"
  assert_match "still being written when the session ended" "$out" "the refusal"
  assert_match "/mnt/w/half.bin" "$out" "names the file cut short"
  assert_eq whole "$("$VOL" get w /closed.txt -)" "the closed file was published"
  "$VOL" ls w / | grep -qx half.bin && fail "the half-written file was published"
  out=$("$VOL" commit --session "$dir" --include-cut-short 2>&1) || fail "--include-cut-short: $out"
  assert_eq first-half "$("$VOL" get w /half.bin -)" "published as the kill left it"
  [[ ! -e "$dir" ]] || fail "the session directory was not removed after publishing"
}

test_killed_session_without_changes_is_removed() {
  "$VOL" create e >/dev/null
  local out err
  out=$("$VOL" run -v e --commit-every 0 -- bash -c "ls /mnt/e >/dev/null; $KILL_ALL" 2>&1) || true
  assert_match killed "$out" "the program killed its session"
  sleep 0.3
  assert_eq 1 "$(ls "$T/.cache/vol/sessions" | wc -l)" "the killed session's directory is still there"
  err=$("$VOL" run -v e -- true 2>&1) || fail "vol run after the kill: $err"
  assert_eq "" "$err" "no notice for a session without changes"
  assert_eq 0 "$(ls "$T/.cache/vol/sessions" | wc -l)" "the killed session was removed"
}

# Background commits published everything: the journal is emptied, and the
# killed session is removed by the next vol run.
test_killed_session_whose_changes_were_committed_is_removed() {
  "$VOL" create b >/dev/null
  local out err
  out=$("$VOL" run -v b --commit-every 1 -- bash -c "echo hi > /mnt/b/f; sleep 2.5; $KILL_ALL" 2>&1) || true
  assert_match killed "$out" "the program killed its session"
  assert_eq hi "$("$VOL" get b /f -)" "the background commit published the file"
  err=$("$VOL" run -v b -- true 2>&1) || fail "vol run after the kill: $err"
  assert_eq "" "$err" "no notice for a session whose changes were committed"
  assert_eq 0 "$(ls "$T/.cache/vol/sessions" | wc -l)" "the killed session was removed"
}

# vol commit --session refuses a session that is still running.
test_commit_session_refuses_a_live_session() {
  "$VOL" create l >/dev/null
  local out
  out=$("$VOL" run -v l -- bash -c 'echo x > /mnt/l/f; "$VOL" commit --session "$VOL_SESSION" 2>&1; echo rc=$?' 2>&1)
  assert_match "still running" "$out" "the refusal"
  assert_match "rc=1" "$out" "exit status"
  assert_eq x "$("$VOL" get l /f -)" "the session itself committed at exit"
}

run_tests "$@"
