#!/usr/bin/env bash
# The shim with the real fetcher: `vol run` on a volume in a real store. Lazy
# fetch (a small read of a cold 1 GiB file fetches at most 16 MiB), every read
# path on a cold 256 MiB file gives the right checksum, a second session reads
# warm, a program that closes all its fds keeps reading, a killed fetcher gives
# EIO and not a hang, and unmodified programs see the same tree as on local
# disk. Byte counts come from the fetcher's statistics (VOL_STATS=FILE).
source "$(dirname "$0")/lib.sh"
HERE=$ROOT/tests/integration/shim
MiB=$((1024 * 1024))

need_vol_run() {
  "$VOL" --help 2>&1 | grep -qE '^ +run ' || skip "this vol has no 'run' command"
}
# stat_of FILE KEY: a number from a VOL_STATS file ("key value" lines).
stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
# cold_run STATS CMD…: vol run with an empty cache, statistics into STATS.
cold_run() {
  local stats=$1
  shift
  rm -rf "$T/cache"
  VOL_CACHE_DIR=$T/cache VOL_STATS=$stats "$VOL" run -v data:/mnt/data -- "$@"
}
put_file() {  # NAME BYTES: a random file put into volume 'data' at /NAME
  head -c "$2" /dev/urandom > "$T/$1"
  "$VOL" list 2>/dev/null | grep -q '^data' || "$VOL" create data >/dev/null
  "$VOL" put data "$T/$1" "/$1" >/dev/null
}

test_head_of_a_cold_1gib_file_fetches_at_most_16mib() {
  need_vol_run
  put_file big $((1024 * MiB))
  local got
  got=$(cold_run "$T/stats" head -c 4096 /mnt/data/big | sha256sum)
  assert_eq "$(head -c 4096 "$T/big" | sha256sum)" "$got" "first 4 KiB"
  local fetched
  fetched=$(stat_of "$T/stats" store_bytes)
  [[ -n "$fetched" && $fetched -le $((16 * MiB)) ]] || fail "head -c 4096 fetched $fetched bytes (want <= 16 MiB)"
  echo "head -c 4096 of a cold 1 GiB file fetched $fetched bytes"
}

test_cold_256mib_file_through_every_read_path() {
  need_vol_run
  put_file f $((256 * MiB))
  gcc -O1 -o "$T/readpaths" "$HERE/readpaths.c"
  local want how
  want=$(sha256sum < "$T/f" | cut -d' ' -f1)
  for how in read pread readv preadv mmap sendfile fread splice copy_file_range; do
    assert_eq "$want" "$(cold_run "$T/stats" "$T/readpaths" "$how" /mnt/data/f | sha256sum | cut -d' ' -f1)" "cold read through $how"
  done
  printf '#include <fstream>\n#include <iostream>\nint main(int, char** v) { std::ifstream in(v[1], std::ios::binary); std::cout << in.rdbuf(); return in.bad(); }\n' > "$T/ifs.cc"
  g++ -O1 -o "$T/ifs" "$T/ifs.cc"
  assert_eq "$want" "$(cold_run "$T/stats" "$T/ifs" /mnt/data/f | sha256sum | cut -d' ' -f1)" "cold read through std::ifstream"
  assert_eq "$want" "$(cold_run "$T/stats" bash -c 'exec 3< /mnt/data/f; sha256sum <&3' | cut -d' ' -f1)" "an fd inherited by a child"
  assert_eq "$want" "$(cold_run "$T/stats" python3 -c 'import hashlib, mmap, sys
f = open(sys.argv[1], "rb"); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print(hashlib.sha256(m[:]).hexdigest())' /mnt/data/f)" "Python mmap"
}

test_second_session_reads_warm() {
  need_vol_run
  put_file f $((64 * MiB))
  rm -rf "$T/cache"
  VOL_CACHE_DIR=$T/cache VOL_STATS=$T/s1 "$VOL" run -v data:/mnt/data -- cat /mnt/data/f > "$T/out1"
  VOL_CACHE_DIR=$T/cache VOL_STATS=$T/s2 "$VOL" run -v data:/mnt/data -- cat /mnt/data/f > "$T/out2"
  assert_file_eq "$T/f" "$T/out1"
  assert_file_eq "$T/f" "$T/out2"
  [[ $(stat_of "$T/s1" store_bytes) -ge $((64 * MiB)) ]] || fail "first session fetched $(stat_of "$T/s1" store_bytes)"
  assert_eq 0 "$(stat_of "$T/s2" store_bytes)" "bytes the second session fetched from the store"
}

test_close_range_then_read_cold() {
  need_vol_run
  put_file a $((3 * MiB))
  put_file b $((20 * MiB))
  gcc -O1 -o "$T/closeall" "$HERE/closeall.c"
  assert_eq "$("$T/closeall" "$T/a" "$T/b")" "$(cold_run "$T/stats" "$T/closeall" /mnt/data/a /mnt/data/b)"
}

test_killed_fetcher_gives_eio_not_a_hang() {
  need_vol_run
  put_file f $((64 * MiB))
  local out rc=0
  out=$(cold_run "$T/stats" timeout 60 python3 -c '
import os, signal, sys
fd = os.open("/mnt/data/f", os.O_RDONLY)
os.pread(fd, 10, 0)
pid = int(open(os.environ["VOL_SESSION"] + "/fetcher.pid").read())
os.kill(pid, signal.SIGKILL)
try:
    os.pread(fd, 10, 60 * 1024 * 1024)
    print("read succeeded")
except OSError as e:
    print("errno", e.errno)' 2>"$T/err") || rc=$?
  # Apart: `vol run` reports the dead fetcher on stderr while the program
  # prints, and an unbuffered Python (PYTHONUNBUFFERED) prints in pieces.
  [[ $rc -ne 124 ]] || fail "the reader hung: $out $(cat "$T/err")"
  assert_match "errno 5" "$out"
  assert_match "vol: fetcher for session .* is gone" "$(cat "$T/err")"
}

test_unmodified_programs_see_the_tree() {
  need_vol_run
  mkdir -p "$T/tree/a/b" "$T/tree/c"
  seq 1 50000 > "$T/tree/a/nums"
  echo hello > "$T/tree/a/b/hello.txt"
  head -c 5000000 /dev/urandom > "$T/tree/c/r.bin"
  ln -s ../a/nums "$T/tree/c/link"
  "$VOL" create data >/dev/null
  "$VOL" put data "$T/tree/" / >/dev/null
  local out
  out=$(cold_run "$T/stats" diff -r --no-dereference /mnt/data "$T/tree" 2>&1) || fail "diff -r: $out"
  assert_eq "$(cd "$T/tree" && find . | sort)" "$(cold_run "$T/stats" bash -c 'cd /mnt/data && find . | sort')" "find"
  assert_eq "$(cd "$T/tree" && sha256sum a/nums c/r.bin c/link)" \
            "$(cold_run "$T/stats" bash -c 'cd /mnt/data && sha256sum a/nums c/r.bin c/link')" "sha256sum"
  # tar checks that nothing changed while it read each file; fetching must not count.
  cold_run "$T/stats" tar -cf "$T/t.tar" -C /mnt/data . || fail "tar -c of a cold volume exited $?"
  mkdir "$T/untar" && tar -xf "$T/t.tar" -C "$T/untar"
  out=$(diff -r --no-dereference "$T/untar" "$T/tree" 2>&1) || fail "tar round trip: $out"
  cold_run "$T/stats" cp --reflink=never -r /mnt/data "$T/cp-out"
  out=$(diff -r --no-dereference "$T/cp-out" "$T/tree" 2>&1) || fail "cp -r of a cold volume: $out"
  assert_eq "/mnt/data/a hello" "$(cold_run "$T/stats" bash -c 'cd /mnt/data/a/b && cd .. && pwd && cat b/hello.txt' | tr '\n' ' ' | sed 's/ $//')" "cd and pwd"
  local err rc=0
  err=$(VOL_CACHE_DIR=$T/cache "$VOL" run --read-only -v data:/mnt/data -- touch /mnt/data/new 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || fail "touch on a --read-only mount succeeded"
  assert_match "Read-only file system|EROFS" "$err"
}

run_tests "$@"
