#!/usr/bin/env bash
# The shim's lazy-content guard against the session contract (session.h): a
# stand-in fetcher (shim/fake_fetcher.py) materialises a sparse view and a
# presence table and copies blocks in on request, counting the bytes. Every way
# a program can read a file must see the right bytes, a small read must fetch
# only what it covers, and a dead fetcher must give EIO, not a hang.
# (The same properties against the real fetcher and `vol run` live in the
# vol run tests.)
source "$(dirname "$0")/lib.sh"
# These checks use no store: they run once, in the file:// pass.
if [[ "${VOL_STORE_BASE:-}" == s3://* ]]; then
  echo "SKIP $(basename "$0") (uses no store; runs in the file:// pass)"
  exit 0
fi
SHIM=${VOL_SHIM_LIB:-$ROOT/build/libvolshim.so}
HERE=$ROOT/tests/integration/shim
BLOCK=65536

# A source tree, and a session serving it at $MNT through the stand-in fetcher.
make_src() {
  mkdir -p "$T/src/d"
  head -c $((8 * 1024 * 1024 + 12345)) /dev/urandom > "$T/src/big.bin"
  seq 1 100000 > "$T/src/d/nums"
  echo small > "$T/src/d/small.txt"
  WANT=$(sha256sum < "$T/src/big.bin" | cut -d' ' -f1)
}
start_fetcher() {
  SESSION=${SESSION_BASE:-$T}/session-$1
  MNT=/vol-lazy-test/$1
  mkdir -p "$SESSION"
  python3 "$HERE/fake_fetcher.py" "$SESSION" "$T/src" "$MNT" $BLOCK > "$SESSION.log" 2>&1 &
  FPID=$!
  for _ in $(seq 100); do grep -q ready "$SESSION.log" 2>/dev/null && return 0; sleep 0.05; done
  cat "$SESSION.log" >&2
  fail "the stand-in fetcher did not start"
}
fetched() { cat "$SESSION/fetched_bytes"; }
shim() { VOL_SESSION=$SESSION LD_PRELOAD=$SHIM "$@"; }

test_head_fetches_only_the_first_block() {
  make_src
  start_fetcher head
  assert_eq "$(head -c 4096 "$T/src/big.bin" | sha256sum)" "$(shim head -c 4096 "$MNT/big.bin" | sha256sum)"
  assert_eq $BLOCK "$(fetched)" "bytes fetched for head -c 4096"
  assert_eq "$(tail -c 100 "$T/src/big.bin" | sha256sum)" "$(shim tail -c 100 "$MNT/big.bin" | sha256sum)"
  [[ $(fetched) -le $((3 * BLOCK)) ]] || fail "tail -c 100 fetched $(fetched) bytes"
}

# Each read path on a cold file of its own session gives the right bytes.
test_every_read_path_sees_the_right_bytes() {
  make_src
  gcc -O1 -o "$T/prog" "$HERE/readpaths.c"
  local how
  for how in read pread readv preadv mmap sendfile fread splice copy_file_range; do
    start_fetcher "$how"
    assert_eq "$WANT" "$(shim "$T/prog" "$how" "$MNT/big.bin" | sha256sum | cut -d' ' -f1)" "read through $how"
    kill $FPID
  done
  start_fetcher cat
  assert_eq "$WANT" "$(shim cat "$MNT/big.bin" | sha256sum | cut -d' ' -f1)" "cat"
  start_fetcher sha
  assert_eq "$WANT" "$(shim sha256sum "$MNT/big.bin" | cut -d' ' -f1)" "sha256sum (stdio)"
  start_fetcher cp
  shim cp "$MNT/big.bin" "$T/copy"
  assert_file_eq "$T/src/big.bin" "$T/copy"
  start_fetcher cp-noreflink
  # No FICLONE first: cp infers holes from st_blocks and SEEK_DATA/SEEK_HOLE.
  shim cp --reflink=never "$MNT/big.bin" "$T/copy-nr"
  assert_file_eq "$T/src/big.bin" "$T/copy-nr"
  start_fetcher tar-sparse
  shim tar --sparse -cf "$T/sparse.tar" -C "$MNT" big.bin
  mkdir "$T/untar" && tar -xf "$T/sparse.tar" -C "$T/untar"
  assert_file_eq "$T/src/big.bin" "$T/untar/big.bin"
  start_fetcher seek
  assert_eq "0 $(stat -c %s "$T/src/big.bin") True" "$(shim python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
st = os.fstat(fd)
print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE), st.st_blocks * 512 >= st.st_size)' "$MNT/big.bin")" "SEEK_DATA, SEEK_HOLE and st_blocks of a cold file"
  start_fetcher py
  assert_eq "$WANT" "$(shim python3 -c 'import hashlib,mmap,sys
f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); print(hashlib.sha256(m[:]).hexdigest())' "$MNT/big.bin")" "python mmap"
  start_fetcher pyshutil
  shim python3 -c 'import shutil,sys; shutil.copyfile(sys.argv[1], sys.argv[2])' "$MNT/big.bin" "$T/copy2"
  assert_file_eq "$T/src/big.bin" "$T/copy2"
  start_fetcher inherit
  assert_eq "$WANT" "$(shim bash -c 'exec 3< "$1"; sha256sum <&3 | cut -d" " -f1' _ "$MNT/big.bin")" "inherited fd in a child"
  start_fetcher inherit-static
  # The child reads the inherited fd without any shim: the parent's exec makes it complete.
  assert_eq "$WANT" "$(shim bash -c 'exec 3< "$1"; env -u LD_PRELOAD -u VOL_SESSION -u VOL_SHIM /bin/sh -c "exec sha256sum <&3"' _ "$MNT/big.bin" | cut -d' ' -f1)" "inherited fd, child exec'd"
}

test_second_read_is_warm() {
  make_src
  start_fetcher warm
  shim cat "$MNT/big.bin" > /dev/null
  local first
  first=$(fetched)
  assert_eq $((8 * 1024 * 1024 + 12345)) "$first" "bytes fetched by the first cat"
  assert_eq "$WANT" "$(shim cat "$MNT/big.bin" | sha256sum | cut -d' ' -f1)"
  assert_eq "$first" "$(fetched)" "bytes fetched by the second cat"
}

test_close_range_then_read_cold() {
  make_src
  gcc -O1 -o "$T/closeall" "$HERE/closeall.c"
  start_fetcher closeall
  local out
  out=$(shim "$T/closeall" "$MNT/d/nums" "$MNT/big.bin")
  assert_eq "$("$T/closeall" "$T/src/d/nums" "$T/src/big.bin")" "$out"
}

test_fork_child_reads_with_its_own_connection() {
  make_src
  start_fetcher fork
  local out
  out=$(shim python3 -c '
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.pread(fd, 10, 0)                   # the parent connects
pid = os.fork()
part = 0 if pid == 0 else 1
h = hashlib.sha256()
size = os.fstat(fd).st_size
half = size // 2
off, end = (0, half) if part == 0 else (half, size)
while off < end:
    b = os.pread(fd, min(65536, end - off), off); h.update(b); off += len(b)
print(part, h.hexdigest())
sys.stdout.flush()
if pid == 0: os._exit(0)
os.waitpid(pid, 0)' "$MNT/big.bin" | sort)
  local half=$(( (8 * 1024 * 1024 + 12345) / 2 ))
  assert_eq "0 $(head -c $half "$T/src/big.bin" | sha256sum | cut -d' ' -f1)
1 $(tail -c +$((half + 1)) "$T/src/big.bin" | sha256sum | cut -d' ' -f1)" "$out"
}

# vfork children run on the parent's memory, and a fork made by syscall(2)
# skips the atfork handlers: neither may change the parent's fd table or
# share its connections to the fetcher.
test_children_on_the_parents_memory_leave_its_state_alone() {
  make_src
  gcc -O1 -o "$T/children" "$HERE/shared_memory_children.c"
  "$T/children" "$T/src/big.bin" "$T/want-half" > "$T/want"
  local i
  for i in 1 2 3; do
    start_fetcher "children-$i"
    shim timeout 60 "$T/children" "$MNT/big.bin" "$T/got-half" > "$T/got" || fail "round $i: exit $?"
    assert_file_eq "$T/want" "$T/got"
    assert_file_eq "$T/want-half" "$T/got-half"
    kill $FPID
  done
}

# The same with threads: vfork children that close the readers' fd numbers
# while three threads open, read and close the cold file in a loop.
test_vfork_children_beside_reading_threads() {
  make_src
  gcc -O1 -pthread -o "$T/vfork_threads" "$HERE/vfork_threads.c"
  start_fetcher vfork-threads
  assert_eq ok "$(shim timeout 120 "$T/vfork_threads" "$MNT/big.bin" "$T/src/big.bin" 300)" "reads beside vfork children"
}

test_threads_read_concurrently() {
  make_src
  start_fetcher threads
  local out
  out=$(shim python3 -c '
import hashlib, os, sys, threading
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
parts = [None] * 12
def work(i):
    lo, hi = size * i // 12, size * (i + 1) // 12
    b = bytearray()
    while lo < hi:
        chunk = os.pread(fd, min(50000, hi - lo), lo); b += chunk; lo += len(chunk)
    parts[i] = bytes(b)
ts = [threading.Thread(target=work, args=(i,)) for i in range(12)]
[t.start() for t in ts]; [t.join() for t in ts]
print(hashlib.sha256(b"".join(parts)).hexdigest())
def target(l):
    try: return os.readlink("/proc/self/fd/" + l)
    except OSError: return ""
print(len([l for l in os.listdir("/proc/self/fd") if target(l).startswith("socket:")]) > 1)' "$MNT/big.bin")
  assert_eq "$WANT
True" "$out" "12 threads reading; more than one connection to the fetcher"
}

test_dead_fetcher_gives_eio_not_a_hang() {
  make_src
  start_fetcher dead
  # Connected and half-read, then the fetcher dies.
  local out rc=0
  out=$(shim timeout 20 python3 -c '
import os, sys, signal
fd = os.open(sys.argv[1], os.O_RDONLY)
os.pread(fd, 10, 0)
os.kill(int(sys.argv[2]), signal.SIGKILL)
try:
    os.pread(fd, 10, 4 * 1024 * 1024)
    print("read succeeded")
except OSError as e:
    print("errno", e.errno)' "$MNT/big.bin" $FPID 2>&1) || rc=$?
  assert_eq 0 $rc "exit status (124 would be a hang)"
  assert_match "errno 5" "$out"
  assert_match "vol: fetcher for session .* is gone" "$out"
  # Never connected: nothing listens on the socket any more.
  rc=0
  out=$(shim timeout 20 cat "$MNT/d/nums" 2>&1 >/dev/null) || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] || fail "cat exited $rc"
  assert_match "Input/output error" "$out"
}

# The loader opens a library's DT_NEEDED itself: those in the volume, found
# through RUNPATH $ORIGIN (as Python wheels ship them), must be fetched first.
test_dlopen_and_exec_pull_in_rpath_dependencies() {
  make_src
  mkdir -p "$T/src/lib" "$T/src/bin" "$T/build"
  printf 'int dep_value(void) { return 1234; }\nchar pad[200000] = {1};\n' > "$T/build/dep.c"
  printf 'int dep_value(void);\nint top(void) { return dep_value() + 1; }\n' > "$T/build/top.c"
  printf '#include <stdio.h>\nint dep_value(void);\nint main(void) { printf("%%d\\n", dep_value()); return 0; }\n' > "$T/build/main.c"
  gcc -shared -fPIC -o "$T/src/lib/libdep.so" "$T/build/dep.c"
  gcc -shared -fPIC -o "$T/src/lib/libtop.so" "$T/build/top.c" -L"$T/src/lib" -ldep -Wl,-rpath,'$ORIGIN'
  gcc -o "$T/src/bin/usedep" "$T/build/main.c" -L"$T/src/lib" -ldep -Wl,-rpath,'$ORIGIN/../lib'
  start_fetcher dlopen
  assert_eq 1235 "$(shim python3 -c 'import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).top())' "$MNT/lib/libtop.so")" "dlopen through ctypes"
  start_fetcher exec-deps
  assert_eq 1234 "$(shim env "$MNT/bin/usedep")" "exec of a binary whose library is on the volume"
  # A host binary whose library is on the volume, found through LD_LIBRARY_PATH
  # naming the mount: the shim hands the child's loader the view and fetches it.
  gcc -o "$T/hostbin" "$T/build/main.c" -L"$T/src/lib" -ldep
  start_fetcher llp
  assert_eq 1234 "$(shim bash -c 'LD_LIBRARY_PATH=$1/lib "$2"' _ "$MNT" "$T/hostbin")" "LD_LIBRARY_PATH on the volume"
  start_fetcher exec-deps-relative
  assert_eq 1234 "$(shim bash -c 'cd "$1/bin" && ./usedep' _ "$MNT")" "exec by a relative path"
}

# A fetcher that stops answering without its socket being closed (its process
# is gone but the socket lives on, here: stopped, with fetcher.pid naming a dead
# process): the reader notices within seconds instead of waiting forever.
test_silent_dead_fetcher_is_noticed() {
  make_src
  start_fetcher silent
  sleep 0 & local dead=$!
  wait $dead
  echo $dead > "$SESSION/fetcher.pid"
  kill -STOP $FPID
  local out rc=0 t0=$SECONDS
  out=$(shim timeout 30 cat "$MNT/big.bin" 2>&1 >/dev/null) || rc=$?
  kill -CONT $FPID
  [[ $rc -ne 0 && $rc -ne 124 ]] || fail "cat exited $rc (124: it hung)"
  assert_match "is gone: its process exited" "$out"
  assert_match "Input/output error" "$out"
  [[ $((SECONDS - t0)) -le 10 ]] || fail "took $((SECONDS - t0)) s to notice"
}

# The socket's path is longer than sockaddr_un allows (108 bytes).
test_long_session_path() {
  make_src
  SESSION_BASE=$T/$(printf 'long-directory-name-%.0s' 1 2 3 4 5 6)
  mkdir -p "$SESSION_BASE"
  start_fetcher long
  [[ ${#SESSION} -gt 108 ]] || fail "the session path is only ${#SESSION} bytes"
  assert_eq "$WANT" "$(shim cat "$MNT/big.bin" | sha256sum | cut -d' ' -f1)"
}

test_io_uring_is_refused() {
  make_src
  start_fetcher uring
  local out
  out=$(shim python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(425, 8, ctypes.create_string_buffer(120))   # io_uring_setup
print(r, ctypes.get_errno())')
  assert_eq "-1 38" "$out" "syscall(SYS_io_uring_setup) under the shim"
}

run_tests "$@"
