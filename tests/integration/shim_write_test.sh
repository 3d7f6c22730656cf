#!/usr/bin/env bash
# The shim's side of the write path (issue 4) on a writable mount, with the
# stand-in fetcher of shim_lazy_test.sh serving a lazily fetched view: the same
# operations applied to a local copy and to the mount leave the same tree, files
# not yet fetched are copied up before they are modified and discarded (never
# fetched) when they are replaced, renamed directories keep their unfetched
# files readable, and every change is reported to the fetcher.
source "$(dirname "$0")/lib.sh"
# These checks use no store: they run once, in the file:// pass.
if [[ "${VOL_STORE_BASE:-}" == s3://* ]]; then
  echo "SKIP $(basename "$0") (uses no store; runs in the file:// pass)"
  exit 0
fi
SHIM=${VOL_SHIM_LIB:-$ROOT/build/libvolshim.so}
HERE=$ROOT/tests/integration/shim

make_src() {
  mkdir -p "$T/src/d" "$T/src/dcold/sub" "$T/src/emptydir"
  head -c 3000000 /dev/urandom > "$T/src/big.bin"
  head -c 2000000 /dev/urandom > "$T/src/big2.bin"
  head -c 1000000 /dev/urandom > "$T/src/gone.bin"
  head -c 1500000 /dev/urandom > "$T/src/ckpt.bin"
  head -c 700000 /dev/urandom > "$T/src/dcold/a.bin"
  head -c 900000 /dev/urandom > "$T/src/dcold/sub/b.bin"
  seq 1 100000 > "$T/src/d/nums"
  echo small > "$T/src/d/small.txt"
  echo small2 > "$T/src/small2.txt"
  mkdir -p "$T/arch/x/y"
  for i in $(seq 1 300); do echo "file $i" > "$T/arch/x/f$i"; done
  echo deep > "$T/arch/x/y/deep"
  ln -s f1 "$T/arch/x/link1"
  tar -cf "$T/archive.tar" -C "$T/arch" x
  cp -a "$T/src" "$T/local"
}
start_fetcher() {  # NAME [ro|rw]
  SESSION=$T/session-$1
  MNT=/vol-write-test/$1
  mkdir -p "$SESSION"
  python3 "$HERE/fake_fetcher.py" "$SESSION" "$T/src" "$MNT" 65536 "${2:-rw}" > "$SESSION.log" 2>&1 &
  for _ in $(seq 100); do grep -q ready "$SESSION.log" 2>/dev/null && return 0; sleep 0.05; done
  cat "$SESSION.log" >&2
  fail "the stand-in fetcher did not start"
}
shim() { VOL_SESSION=$SESSION LD_PRELOAD=$SHIM "$@"; }
listing() {  # what diff -r does not show: type, mode, size, symlink target (mtimes are now)
  (cd "$1" && find . -mindepth 1 \( -type l -printf '%P|%y|%m|-|%l\n' \) -o \
     -printf '%P|%y|%m|%s|%l\n' | LC_ALL=C sort)
}

OPS='set -e
cd @
echo new > new.txt
echo more >> d/small.txt
printf X | dd of=big.bin bs=1 seek=2500000 conv=notrunc status=none
echo replaced > d/nums
truncate -s 1000 big2.bin
mkdir -p n1/n2/n3 && echo x > n1/n2/n3/f
mv new.txt n1/moved.txt
mv dcold renamed-dir
rm gone.bin
rmdir emptydir
ln -s ../small2.txt n1/rel-link
ln -s @/d/small.txt abs-link
chmod 600 d/small.txt
touch -d "2001-01-01 00:00:00" n1/moved.txt
ln d/small.txt hard.txt
python3 -c "
import os
with open(\"ckpt.tmp\", \"wb\") as f:
    f.write(b\"checkpoint\" * 1000); f.flush(); os.fsync(f.fileno())
os.replace(\"ckpt.tmp\", \"ckpt.bin\")"
tar -xf '"'"'$T/archive.tar'"'"'
sqlite3 db.sqlite "create table t(x); insert into t values (1),(2); update t set x = x * 10;"
sqlite3 db.sqlite "insert into t values (3)"
echo done'

test_writes_leave_the_same_tree_as_on_local_disk() {
  make_src
  start_fetcher same
  local ops=${OPS//\$T/$T}
  assert_eq done "$(bash -c "${ops//@/$T/local}" 2>&1)" "ops on the local tree"
  assert_eq done "$(shim bash -c "${ops//@/$MNT}" 2>&1)" "ops on the mount"
  # Content: read back through the mount (which fetches what was never read).
  local out
  out=$(shim diff -r --no-dereference "$MNT" "$T/local" 2>&1 | grep -v 'Symbolic links .*abs-link') || true
  assert_eq "" "$out" "diff -r mount vs local"
  out=$(diff <(listing "$T/local" | sed "s#$T/local#@#g") \
              <(shim bash -c "$(declare -f listing); listing $MNT" | sed "s#$MNT#@#g")) ||
    fail "tree listings differ (< local, > mount): $out"
  assert_eq "$(stat -c %Y "$T/local/n1/moved.txt")" "$(shim stat -c %Y "$MNT/n1/moved.txt")" "mtime set by touch -d"
  assert_eq "10 20 3" "$(shim sqlite3 "$MNT/db.sqlite" 'select group_concat(x, " ") from t')" "sqlite rows"
  assert_eq "ok" "$(shim sqlite3 "$MNT/db.sqlite" 'pragma integrity_check')"
}

test_changes_are_reported_to_the_fetcher() {
  make_src
  start_fetcher report
  local ops=${OPS//\$T/$T}
  assert_eq done "$(shim bash -c "${ops//@/$MNT}" 2>&1)"
  local log
  log=$(cat "$SESSION/changed.log")
  local want
  for want in "OPEN_WRITE $MNT/new.txt" "CLOSE_WRITE $MNT/new.txt" "OPEN_WRITE $MNT/big.bin" \
              "DISCARD $MNT/d/nums" "DISCARD $MNT/gone.bin" "DISCARD $MNT/ckpt.bin" \
              "RENAME $MNT/dcold $MNT/renamed-dir" "RENAME $MNT/new.txt $MNT/n1/moved.txt" \
              "RENAME $MNT/ckpt.tmp $MNT/ckpt.bin" "PATH $MNT/n1/n2/n3" "PATH $MNT/emptydir" \
              "PATH $MNT/abs-link" "PATH $MNT/d/small.txt" "PATH $MNT/hard.txt" "CLOSE_WRITE $MNT/x/f300"; do
    grep -qxF "$want" <<<"$log" || fail "the fetcher was not told: $want
log:
$(head -60 <<<"$log")"
  done
  # The copied-up file was fetched in full before it was written; the
  # discarded ones were not fetched at all.
  grep -qxF "DISCARD $MNT/big.bin" <<<"$log" && fail "big.bin was discarded, not copied up"
  true
}

test_rename_across_the_mount_is_exdev() {
  make_src
  start_fetcher exdev
  assert_eq "18" "$(shim python3 -c "
import os
try: os.rename('$MNT/d/small.txt', '$T/out.txt'); print('renamed')
except OSError as e: print(e.errno)")" "rename out of the mount"
  shim mv "$MNT/d/small.txt" "$T/moved-out.txt"
  assert_eq small "$(cat "$T/moved-out.txt")"
  assert_eq "" "$(shim ls "$MNT/d/" | grep small.txt || true)"
  shim mv "$T/moved-out.txt" "$MNT/back.txt"
  assert_eq small "$(shim cat "$MNT/back.txt")"
}

test_read_only_mount_refuses_writes_even_when_enabled() {
  make_src
  start_fetcher ro ro
  local out rc=0
  out=$(shim touch "$MNT/x" 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "touch succeeded on a read-only mount"
  assert_match "Read-only file system" "$out"
}

test_mkstemp_and_mkdtemp_on_a_mount() {
  make_src
  start_fetcher mkstemp
  local out
  out=$(shim python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
mnt = sys.argv[1]
t = ctypes.create_string_buffer((mnt + "/d/tmpXXXXXX").encode())
fd = libc.mkstemp(t)
assert fd >= 0, os.strerror(ctypes.get_errno())
os.write(fd, b"temp data"); os.close(fd)
name = t.value.decode()
print(name.startswith(mnt + "/d/tmp"), "XXXXXX" not in name, open(name).read())
s = ctypes.create_string_buffer((mnt + "/tmpXXXXXX.sfx").encode())
fd = libc.mkstemps(s, 4)
print(fd >= 0, s.value.decode().endswith(".sfx"), os.path.exists(s.value.decode()))
libc.mkdtemp.restype = ctypes.c_char_p
d = ctypes.create_string_buffer((mnt + "/dirXXXXXX").encode())
r = libc.mkdtemp(d)
print(r is not None and os.path.isdir(r.decode()), r.decode().startswith(mnt))' "$MNT")
  assert_eq "True True temp data
True True True
True True" "$out"
}

# The C API (vol.h) through ctypes, and sync(1), reach the fetcher.
test_vol_commit_vol_reload_and_sync() {
  make_src
  start_fetcher api
  local out
  out=$(shim python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
mnt = sys.argv[1].encode()
print(libc.vol_commit(None), libc.vol_commit(mnt), libc.vol_reload(b""))
print(libc.vol_commit(b"/not/a/mount"), ctypes.get_errno())' "$MNT")
  assert_eq "0 0 0
-1 2" "$out"
  shim sync
  assert_eq "COMMIT 
COMMIT $MNT
RELOAD 
COMMIT /not/a/mount
COMMIT " "$(grep -E '^(COMMIT|RELOAD)' "$SESSION/changed.log")"
  # Outside a session the C API says ENOTCONN.
  assert_eq "-1 107" "$(LD_PRELOAD=$SHIM python3 -c '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.vol_commit(None), ctypes.get_errno())')"
}

# A fetcher that does not list the "writes" feature has no commit side: its
# rw mounts refuse writes like read-only ones (nothing is written and lost).
test_rw_mount_without_the_writes_feature_refuses_writes() {
  make_src
  start_fetcher nofeature rw
  rm "$SESSION/features"
  local out rc=0
  out=$(shim bash -c "echo x > $MNT/new.txt" 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "the write succeeded"
  assert_match "Read-only file system" "$out"
  rc=0
  VOL_SHIM_WRITES=1 shim bash -c "echo x > $MNT/new.txt" || rc=$?
  assert_eq 0 $rc "VOL_SHIM_WRITES=1 forces writes on"
}

run_tests "$@"
