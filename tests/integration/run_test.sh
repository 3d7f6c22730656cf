#!/usr/bin/env bash
# `vol run` and `vol shell` end to end with the real fetcher: exit statuses,
# mistakes caught before the program starts, a mounted tree read by real
# programs compared with the same tree on local disk, lazy fetch measured by
# the fetcher's byte counter (VOL_STATS), every read path on a cold file, the
# shared cache (a second session reads warm; LRU eviction under
# VOL_CACHE_SIZE), and a fetcher killed mid-read.
source "$(dirname "$0")/lib.sh"
HERE=$ROOT/tests/integration/shim
MiB=$((1024 * 1024))

# The stats line of a session run with VOL_STATS=/path: "key value" lines.
stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# A tree with what a view must reproduce: nested dirs, modes, mtimes, empty
# files, relative and absolute symlinks (the absolute one into the mount).
make_tree() {
  mkdir -p src/d/e src/ro
  echo hello > src/a.txt
  head -c 5000000 /dev/urandom > src/d/five_mb
  seq 1 20000 > src/d/e/nums
  : > src/empty
  ln -s a.txt src/rel
  ln -s /mnt/t/d/e/nums src/abs
  ln -s /etc/hostname src/outside
  printf '#!/bin/sh\necho script ran\n' > src/d/run.sh
  chmod 755 src/d/run.sh
  chmod 600 src/a.txt
  echo ro > src/ro/x
  chmod 555 src/ro
  touch -d '2001-02-03 04:05:06.789' src/d/e/nums
  touch -h -d '2002-01-01' src/rel
  touch -d '1999-12-31' src/d
  "$VOL" create t >/dev/null
  "$VOL" put t src/ / >/dev/null
}

test_exit_status_is_the_programs() {
  "$VOL" create t >/dev/null
  "$VOL" run -v t -- true
  local rc=0
  "$VOL" run -v t -- sh -c 'exit 7' || rc=$?
  assert_eq 7 $rc "exit code"
  rc=0
  "$VOL" run -v t -- sh -c 'kill -TERM $$' || rc=$?
  assert_eq 143 $rc "killed by SIGTERM"
  rc=0
  "$VOL" run -v t -- sh -c 'kill -9 $$' || rc=$?
  assert_eq 137 $rc "killed by SIGKILL"
  rc=0
  "$VOL" run -v t -- /no/such/program 2>/dev/null || rc=$?
  assert_eq 127 $rc "program not found"
  # No volume at all is fine too, and the session directory is cleaned up.
  assert_eq "in" "$("$VOL" run -- echo in)"
  assert_eq "" "$(ls "$T/.cache/vol/sessions")" "sessions left behind"
}

test_mistakes_are_one_line_before_the_program_starts() {
  "$VOL" create t >/dev/null
  "$VOL" create u >/dev/null
  local ran="touch $T/ran"
  assert_fails_with "volume 'nope' not found" "$VOL" run -v nope -- sh -c "$ran"
  assert_fails_with "relative" "$VOL" run -v t:mnt/t -- sh -c "$ran"
  assert_fails_with "mounted twice" "$VOL" run -v t -v t:/x -- sh -c "$ran"
  assert_fails_with "inside mount /a" "$VOL" run -v t:/a -v u:/a/b -- sh -c "$ran"
  assert_fails_with "inside mount /a" "$VOL" run -v u:/a/b -v t:/a -- sh -c "$ran"
  assert_fails_with "cannot be mounted at /" "$VOL" run -v t:/ -- sh -c "$ran"
  assert_fails_with "no program" "$VOL" run -v t
  # A vol with no libvolshim.so beside it or in ../lib.
  mkdir -p lone/bin && cp "$VOL" lone/bin/vol
  assert_fails_with "cannot find libvolshim.so .*make install" lone/bin/vol run -v t -- sh -c "$ran"
  [[ ! -e "$T/ran" ]] || fail "the program ran despite the mistake"
  assert_eq "" "$(ls "$T/.cache/vol/sessions" 2>/dev/null)" "sessions left behind"
}

test_mounted_tree_matches_local_tree() {
  make_tree
  # What the program sees through the mount, listed like tree_listing does,
  # and every file's checksum.
  local listing='cd /mnt/t && find . -mindepth 1 \( -type d -printf "%P|%y|%m|%T@|-|\n" \) -o -printf "%P|%y|%m|%T@|%s|%l\n" | LC_ALL=C sort'
  "$VOL" run -v t -- bash -c "$listing" > got.list
  (cd src && find . -mindepth 1 \( -type d -printf "%P|%y|%m|%T@|-|\n" \) -o -printf "%P|%y|%m|%T@|%s|%l\n" | LC_ALL=C sort) > want.list
  diff want.list got.list || fail "listing through the mount differs from the local tree"
  "$VOL" run -v t -- bash -c 'cd /mnt/t && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum' > got.sum
  (cd src && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) > want.sum
  diff want.sum got.sum || fail "checksums through the mount differ"
  "$VOL" run -v t -- diff -r --no-dereference /mnt/t "$T/src" || fail "diff -r mount vs local"
  assert_eq "$(cat src/d/e/nums)" "$("$VOL" run -v t -- cat /mnt/t/abs)" "absolute symlink into the mount"
  assert_eq hello "$("$VOL" run -v t -- cat /mnt/t/rel)" "relative symlink"
  assert_eq "script ran" "$("$VOL" run -v t -- /mnt/t/d/run.sh)" "a script on the volume"
  assert_eq hello "$("$VOL" run -v t:/data/x -- cat /data/x/a.txt)" "a custom mount path"
}

# Two volumes at once, and a program that sees both.
test_two_volumes() {
  "$VOL" create a >/dev/null
  "$VOL" create b >/dev/null
  echo one > one && echo two > two
  "$VOL" put a one /f >/dev/null
  "$VOL" put b two /f >/dev/null
  assert_eq "one two" "$("$VOL" run -v a -v b:/srv/b -- sh -c 'echo $(cat /mnt/a/f /srv/b/f)')"
}

test_head_of_a_cold_1g_file_fetches_little() {
  "$VOL" create t >/dev/null
  head -c $((1024 * MiB)) /dev/urandom > big
  "$VOL" put t big /big >/dev/null
  VOL_STATS=$T/stats "$VOL" run -v t -- head -c 4096 /mnt/t/big > got
  assert_eq "$(head -c 4096 big | sha256sum)" "$(sha256sum < got)" "first 4 KiB"
  local fetched
  fetched=$(stat_of stats store_bytes)
  echo "head -c 4096 of a cold 1 GiB file fetched $fetched bytes"
  [[ $fetched -gt 0 && $fetched -le $((16 * MiB)) ]] || fail "fetched $fetched bytes (want ≤ 16 MiB)"
  # A read in the middle fetches around it, not from the start.
  VOL_STATS=$T/stats "$VOL" run -v t -- sh -c 'tail -c +$((700 * 1048576 + 1)) /mnt/t/big | head -c 1000' > mid
  assert_eq "$(tail -c +$((700 * MiB + 1)) big | head -c 1000 | sha256sum)" "$(sha256sum < mid)" "1000 bytes at 700 MiB"
}

# Every way of reading a cold 256 MiB file (each in a fresh cache) gives the right bytes.
test_every_read_path_on_a_cold_file() {
  "$VOL" create t >/dev/null
  head -c $((256 * MiB)) /dev/urandom > big
  "$VOL" put t big /big >/dev/null
  local want how
  want=$(sha256sum < big | cut -d' ' -f1)
  gcc -O1 -o readpaths "$HERE/readpaths.c"
  for how in read pread readv mmap sendfile fread; do
    assert_eq "$want" "$(VOL_CACHE_DIR=$T/c-$how "$VOL" run -v t -- ./readpaths $how /mnt/t/big | sha256sum | cut -d' ' -f1)" "read through $how"
  done
  cat > ifs.cc <<'CC'
#include <fstream>
#include <iostream>
int main(int, char** argv) { std::ifstream f(argv[1], std::ios::binary); std::cout << f.rdbuf(); return f ? 0 : 1; }
CC
  g++ -O1 -o ifs ifs.cc
  assert_eq "$want" "$(VOL_CACHE_DIR=$T/c-ifs "$VOL" run -v t -- ./ifs /mnt/t/big | sha256sum | cut -d' ' -f1)" "std::ifstream"
  assert_eq "$want" "$(VOL_CACHE_DIR=$T/c-inh "$VOL" run -v t -- bash -c 'exec 3< /mnt/t/big; sha256sum <&3' | cut -d' ' -f1)" "inherited fd in a child"
  assert_eq "$want" "$(VOL_CACHE_DIR=$T/c-py "$VOL" run -v t -- python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' /mnt/t/big)" "python read"
}

test_second_session_reads_warm() {
  "$VOL" create t >/dev/null
  head -c $((40 * MiB)) /dev/urandom > big
  "$VOL" put t big /big >/dev/null
  local want
  want=$(sha256sum < big | cut -d' ' -f1)
  assert_eq "$want" "$(VOL_STATS=$T/s1 "$VOL" run -v t -- sha256sum /mnt/t/big | cut -d' ' -f1)" "cold"
  [[ $(stat_of s1 store_bytes) -ge $((40 * MiB)) ]] || fail "cold read fetched only $(stat_of s1 store_bytes) bytes"
  assert_eq $((40 * MiB)) "$(stat_of s1 view_bytes)" "bytes written to local disk by the first session (once)"
  # The second session links the same local copy: nothing is fetched or written.
  assert_eq "$want" "$(VOL_STATS=$T/s2 "$VOL" run -v t -- sha256sum /mnt/t/big | cut -d' ' -f1)" "warm"
  assert_eq 0 "$(stat_of s2 store_bytes)" "bytes fetched from the store by the second session"
  assert_eq 0 "$(stat_of s2 view_bytes)" "bytes written by the second session"
  # The same inode both times: st_ino is stable across sessions (git's index).
  local i1 i2
  i1=$("$VOL" run -v t -- stat -c %i /mnt/t/big)
  i2=$("$VOL" run -v t -- stat -c %i /mnt/t/big)
  assert_eq "$i1" "$i2" "st_ino of an unchanged file in two sessions"
  # A cache file cut short is noticed, dropped and fetched again.
  local entry
  entry=$(find "$T/.cache/vol/files" -type f -size +1M | head -1)
  [[ -n "$entry" ]] || fail "no content file in the cache"
  chmod u+w "$entry" && truncate -s $((4 * MiB)) "$entry"
  assert_eq "$want" "$(VOL_STATS=$T/s3 "$VOL" run -v t -- sha256sum /mnt/t/big | cut -d' ' -f1)" "after damage"
  [[ $(stat_of s3 store_bytes) -ge $((40 * MiB)) ]] || fail "the damaged copy was not fetched again"
}

# A view file is the shared cache's content file: while another session's
# fetcher writes a chunk into it, the kernel refuses to exec it (ETXTBSY).
# Exec, execveat (through the loader's fexecve) and posix_spawn wait for that
# writer instead of failing; a host binary busy for writing still fails.
test_exec_waits_for_another_sessions_chunk_write() {
  "$VOL" create x >/dev/null
  cp /bin/true mytrue
  "$VOL" put x mytrue /mytrue >/dev/null
  "$VOL" run -v x -- cat /mnt/x/mytrue >/dev/null || fail "warming the binary"
  local content
  content=$(find "$T/.cache/vol/files" -type f -inum "$("$VOL" run -v x -- stat -c %i /mnt/x/mytrue)" | head -1)
  [[ -n "$content" ]] || fail "no content file for the binary"
  # Stands in for the other fetcher: holds the content file open for writing 0.5 s.
  python3 -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_WRONLY); print("open", flush=True); time.sleep(0.5)' \
    "$content" > holder.out &
  local holder=$!
  for _ in $(seq 100); do grep -q open holder.out && break; sleep 0.05; done
  local out rc=0
  out=$("$VOL" run -v x -- bash -c '/mnt/x/mytrue && echo exec ok
    python3 -c "import os; os.waitpid(os.posix_spawn(\"/mnt/x/mytrue\", [\"t\"], {}), 0); print(\"spawn ok\")"' 2>&1) || rc=$?
  wait "$holder"
  assert_eq 0 "$rc" "exit status ($out)"
  assert_eq "exec ok
spawn ok" "$out" "exec and posix_spawn while the content file was busy"
  # A real other session that read the head of a big binary and stays: its
  # fetcher must not keep the half-filled content file open for writing.
  printf 'char pad[40 << 20] = {1};\nint main(void) { return pad[0] - 1; }\n' > big.c
  gcc -O0 -o bigbin big.c
  "$VOL" put x bigbin /bigbin >/dev/null
  "$VOL" run -v x -- python3 -c 'import time; f = open("/mnt/x/bigbin", "rb"); f.read(100); print("read", flush=True); time.sleep(4)' \
    > reader.out 2>&1 &
  local reader=$!
  for _ in $(seq 200); do grep -q read reader.out && break; sleep 0.05; done
  sleep 0.3
  out=$("$VOL" run -v x -- bash -c '/mnt/x/bigbin && echo big ok' 2>&1) || fail "exec while another session half-read it: $out"
  assert_eq "big ok" "$out" "exec of a binary another session half-read"
  wait "$reader" || fail "the reading session failed: $(cat reader.out)"
  cp /bin/true hostbin
  python3 -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_WRONLY); time.sleep(2)' hostbin &
  holder=$!
  sleep 0.3
  rc=0
  out=$("$VOL" run -v x -- ./hostbin 2>&1) || rc=$?
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
  [[ $rc -ne 0 ]] || fail "a host binary open for writing was executed"
}

# What a session wrote stays in the local cache when its final commit has
# published it: the next session reads it without fetching or copying a byte
# (git's index, rewritten by `git status` in a first session). A version
# written later by someone else is fetched: the cache is keyed by content.
test_what_a_session_wrote_is_not_fetched_again() {
  "$VOL" create t >/dev/null
  head -c $((6 * MiB)) /dev/urandom > mine
  seq 1 1000 > index
  # Written in place, and written beside and renamed over (git's index.lock).
  "$VOL" run -v t -- sh -c 'cat mine > /mnt/t/mine && cat index > /mnt/t/index.lock && mv /mnt/t/index.lock /mnt/t/index'
  "$VOL" get t /mine got-mine >/dev/null
  assert_file_eq mine got-mine "what the store holds"
  VOL_STATS=$T/s2 "$VOL" run -v t -- sh -c 'cat /mnt/t/mine /mnt/t/index' > both
  assert_eq "$(cat mine index | sha256sum)" "$(sha256sum < both)" "both files in the next session"
  assert_eq 0 "$(stat_of s2 store_bytes)" "bytes fetched by the next session"
  assert_eq 0 "$(stat_of s2 view_bytes)" "bytes copied into content files by the next session"
  # Another writer replaces one: its new bytes are fetched, never the kept copy.
  head -c $((5 * MiB)) /dev/urandom > theirs
  "$VOL" put --force t theirs /mine >/dev/null
  VOL_STATS=$T/s3 "$VOL" run -v t -- cat /mnt/t/mine > got-theirs
  assert_file_eq theirs got-theirs "the other writer's version"
  [[ $(stat_of s3 store_bytes) -gt 0 ]] || fail "the new version was not fetched"
  echo "NOTE: the second session fetched $(stat_of s2 store_bytes) bytes of $((6 * MiB + $(stat -c %s index))) its first wrote"
}

test_cache_is_evicted_under_its_limit() {
  "$VOL" create t >/dev/null
  head -c $((64 * MiB)) /dev/urandom > big
  head -c $((4 * MiB)) /dev/urandom > small
  "$VOL" put t big small / >/dev/null
  VOL_CACHE_SIZE=16M "$VOL" run -v t -- cat /mnt/t/big > /dev/null
  VOL_CACHE_SIZE=16M "$VOL" run -v t -- cat /mnt/t/small > /dev/null
  local used
  # Blocks of content files only (files not read yet are sparse; du would
  # count the directories' own blocks too).
  used=$(find "$T/.cache/vol/files" -type f ! -name '*.map' -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}')
  echo "cache holds $used bytes under a 16 MiB limit"
  # The 64 MiB file went once its session ended (no view links it any more);
  # the small one, used last, stays.
  assert_eq $((4 * MiB)) "$used" "bytes in the cache with VOL_CACHE_SIZE=16M"
  # While a session links a file it is not evicted, whatever the limit.
  VOL_CACHE_SIZE=1M "$VOL" run -v t -- sh -c 'cat /mnt/t/big >/dev/null; cat /mnt/t/small > /dev/null; cmp /mnt/t/big '"$T"'/big'
}

test_killed_fetcher_gives_errors_not_a_hang() {
  "$VOL" create t >/dev/null
  head -c $((64 * MiB)) /dev/urandom > big
  "$VOL" put t big /big >/dev/null
  # Read 4 MiB, kill the fetcher, read on: the read fails (EIO), nothing hangs.
  local rc=0
  timeout 60 "$VOL" run -v t -- python3 -c '
import os, signal, sys
f = open("/mnt/t/big", "rb", buffering=0)
assert len(f.read(4096)) == 4096
pid = int(open(os.environ["VOL_SESSION"] + "/fetcher.pid").read())
os.kill(pid, signal.SIGKILL)
try:
    f.seek(60 << 20)
    f.read(1 << 20)
except OSError as e:
    print("error", e.errno)
    sys.exit(3)
print("read succeeded")
' > out 2> err || rc=$?
  cat out err
  assert_eq 3 $rc "exit status of the reader"
  assert_eq "error 5" "$(cat out)" "the read fails with EIO"
  assert_match "fetcher .* killed by signal 9" "$(cat err)" "vol run reports the dead fetcher"
}

test_shell_runs_an_interactive_shell_with_the_mounts() {
  "$VOL" create t >/dev/null
  echo hi > f
  "$VOL" put t f /f >/dev/null
  local rc=0
  echo 'cat /mnt/t/f; exit 5' | SHELL=/bin/bash "$VOL" shell -v t > out 2> err || rc=$?
  assert_eq 5 $rc "the shell's exit status"
  assert_eq hi "$(cat out)"
  assert_match "volume 't' .* is at /mnt/t" "$(cat err)"
}

# Where io_uring is refused (Docker's default seccomp profile), the fetcher's
# loop runs on poll(2): reads, a warm second session and commits still work.
test_without_io_uring_the_poll_loop_serves_the_same() {
  "$VOL" create t >/dev/null
  head -c $((20 * MiB)) /dev/urandom > big
  "$VOL" put t big /big >/dev/null
  local want
  want=$(sha256sum < big | cut -d' ' -f1)
  export VOL_NO_IO_URING=1
  assert_eq "$want" "$(VOL_STATS=$T/s1 "$VOL" run -v t -- sha256sum /mnt/t/big | cut -d' ' -f1)" "cold read"
  assert_eq "$want" "$(VOL_STATS=$T/s2 "$VOL" run -v t -- sha256sum /mnt/t/big | cut -d' ' -f1)" "warm read"
  assert_eq 0 "$(stat_of s2 store_bytes)" "warm session fetched from the store"
  "$VOL" run -v t --commit-every 1 -- sh -c 'echo hi > /mnt/t/new; sleep 1.5; "$0" ls t / > "$1"' "$VOL" "$T/mid" 
  grep -qx new mid || fail "no background commit through the poll loop"
  assert_eq hi "$("$VOL" get t /new -)"
}

run_tests "$@"
