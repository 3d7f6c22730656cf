#!/usr/bin/env bash
# vol gc, vol verify, vol --version, and put repairing damage: on a file://
# store and on Ceph RGW. The race tests run the whole gc protocol
# (docs/FORMAT.md, "Garbage collection") at VOL_TEST_GC_TIMESCALE=0.002, so
# its durations are seconds: R (reuse refresh) 2.4 s, the minimum grace 7.2 s,
# a lock stale after 5.4 s.
source "$(dirname "$0")/lib.sh"

PY_PATH=$ROOT/python

awsx() { aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} "$@"; }

# Every chunk key of the store, one per line, sorted.
chunk_keys() {
  if on_s3; then
    awsx s3 ls --recursive "${VOL_STORE%/}/chunks/" | awk '{print $4}' | sed "s|^.*/chunks/|chunks/|" | sort
  else
    (cd "$(file_store_dir)" && find chunks -type f | sort)
  fi
}

# The chunks the last command added: chunk_keys before (in $1) and now.
new_chunks() { comm -13 "$1" <(chunk_keys); }

# Replaces a stored object's bytes with others of the same length (a file
# store) or with other bytes written by another tool (S3: no vol checksum).
damage_object() {
  if on_s3; then
    printf 'garbage, not a vol object' | awsx s3 cp - "${VOL_STORE%/}/$1" >/dev/null
  else
    local f
    f="$(file_store_dir)/$1"
    python3 - "$f" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)
EOF
  fi
}

remove_object() {
  if on_s3; then awsx s3 rm "${VOL_STORE%/}/$1" >/dev/null; else rm "$(file_store_dir)/$1"; fi
}

test_gc_frees_the_bytes_of_a_removed_large_file_once_history_is_dropped() {
  "$VOL" create v >/dev/null
  head -c 20000000 /dev/urandom >big
  echo small >small
  "$VOL" put v big small / 2>/dev/null
  "$VOL" rm v /big
  local before after out
  before=$(store_bytes)
  # History is kept by default: the removed file is still in commit 1.
  out=$("$VOL" gc --grace 0 --exclusive)
  echo "$out"
  assert_match "^Freed 0 chunks and 0 trees" "$(sed -n 2p <<<"$out")"
  out=$("$VOL" gc --grace 0 --exclusive --keep-history 0)
  echo "$out"
  assert_match "^Dropped 1 commit older than 0" "$out"
  assert_match "Freed 5 chunks and 1 tree: 19\.[0-9] MiB" "$out"
  after=$(store_bytes)
  echo "store: $before -> $after bytes"
  [[ $((before - after)) -ge 20000000 ]] || fail "gc freed $((before - after)) bytes, not the 20 MB file"
  assert_eq "small" "$("$VOL" get v /small -)"
  assert_match "all intact" "$("$VOL" verify v --history)"
  assert_eq 1 "$("$VOL" history v | tail -n +2 | wc -l)"
}

test_gc_keeps_every_commit_of_every_volume_in_every_environment() {
  head -c 9000000 /dev/urandom >shared
  for env in main other; do
    for v in a b; do
      "$VOL" create --env $env $v >/dev/null
      echo "$env $v" >own
      "$VOL" put --env $env $v shared own / 2>/dev/null
      "$VOL" put --env $env --force $v own /own2 2>/dev/null
      "$VOL" rm --env $env $v /own
    done
  done
  local out
  out=$("$VOL" gc --grace 0 --exclusive)
  echo "$out"
  assert_match "^Store .*: 4 volumes \(12 commits\)" "$out"
  assert_match "Freed 0 chunks and 0 trees" "$out"
  for env in main other; do
    assert_match "all intact" "$("$VOL" verify --env $env --all --history)"
    "$VOL" get --env $env b /shared got-$env
    assert_file_eq shared got-$env
  done
}

test_gc_reclaims_a_deleted_volume() {
  "$VOL" create gone >/dev/null
  "$VOL" create kept >/dev/null
  head -c 5000000 /dev/urandom >data
  "$VOL" put gone data / 2>/dev/null
  echo kept >k
  "$VOL" put kept k / 2>/dev/null
  "$VOL" delete gone --yes >/dev/null
  local before after out
  before=$(store_bytes)
  out=$("$VOL" gc --grace 0 --exclusive)
  echo "$out"
  assert_match "^Store .*: 1 volume \(1 commit\)" "$out"
  assert_match "Removed the commit logs of 1 deleted volume \(1 commit\)" "$out"
  assert_match "Freed 2 chunks and 1 tree" "$out"
  after=$(store_bytes)
  [[ $((before - after)) -ge 5000000 ]] || fail "deleting the volume freed $((before - after)) bytes"
  assert_eq kept "$("$VOL" get kept /k -)"
}

test_gc_removes_leftovers_of_killed_uploads_and_stale_locks() {
  local store
  store=$(file_store_dir)
  "$VOL" create v >/dev/null
  mkdir -p "$store/tmp" "$store/locks"
  head -c 100000 /dev/urandom >"$store/tmp/1234.1234.0.deadbeef"
  touch -d '2 hours ago' "$store/tmp/1234.1234.0.deadbeef"
  echo fresh >"$store/tmp/99.99.0.cafe"
  echo '{}' >"$store/locks/00000000000000000001-old"
  touch -d '3 hours ago' "$store/locks/00000000000000000001-old"
  local out
  out=$("$VOL" gc --grace 0 --exclusive)
  echo "$out"
  assert_match "Removed 1 temporary file of killed uploads \(97\.7 KiB\)" "$out"
  assert_match "Removed 1 stale lock" "$out"
  [[ ! -e "$store/tmp/1234.1234.0.deadbeef" ]] || fail "the old temporary file is still there"
  [[ -e "$store/tmp/99.99.0.cafe" ]] || fail "gc removed a temporary file an upload may be writing"
  [[ ! -e "$store/locks/00000000000000000001-old" ]] || fail "the stale lock is still there"
}

test_gc_dry_run_deletes_nothing_and_a_short_grace_needs_exclusive() {
  "$VOL" create v >/dev/null
  head -c 3000000 /dev/urandom >f
  "$VOL" put v f / 2>/dev/null
  "$VOL" rm v /f
  local before out
  before=$(chunk_keys)
  out=$("$VOL" gc --grace 0 --exclusive --keep-history 0 --dry-run)
  echo "$out"
  assert_match "Would drop 1 commit" "$out"
  assert_match "Would free 1 chunk and 1 tree" "$out"
  assert_eq "$before" "$(chunk_keys)" "dry run deleted chunks"
  assert_fails_with "grace period of 10m is shorter than 1h.*pass --exclusive" "$VOL" gc --grace 10m
  assert_fails_with "invalid --grace 'soon'" "$VOL" gc --grace soon
}

# A batch upload that holds its block open: its chunks are unreachable until
# it commits, and older than the grace period when gc runs. Its lock must
# keep them (remove the lock from vol_batch_begin and this fails).
test_gc_race_a_long_upload_in_flight_keeps_its_chunks() {
  export VOL_TEST_GC_TIMESCALE=0.002
  "$VOL" create v >/dev/null
  head -c 9000000 /dev/urandom >big
  PYTHONPATH=$PY_PATH python3 - <<'EOF' &
import os, time, vol
v = vol.Volume.from_name("v")
with v.batch_upload() as batch:
    batch.put_file("big", "/big")
    open("uploaded", "w").close()
    while not os.path.exists("go"):
        time.sleep(0.05)
open("committed", "w").close()
EOF
  local writer=$! i
  for i in $(seq 200); do [[ -e uploaded ]] && break; sleep 0.05; done
  [[ -e uploaded ]] || fail "the batch did not upload"
  sleep 10  # > the minimum grace (7.2 s): without the lock, its chunks would go
  local out
  out=$("$VOL" gc --keep-history 0)
  echo "$out"
  assert_match "Freed 0 chunks" "$out"
  assert_match "Kept 3 unreachable objects .*1 writer at work" "$out"
  touch go
  wait $writer
  [[ -e committed ]] || fail "the batch did not commit"
  assert_match "all intact" "$("$VOL" verify v)"
  "$VOL" get v /big got
  assert_file_eq big got
}

# A writer that reuses a chunk no commit reaches any more, old enough to be
# swept: it must touch it (remove the touch from StoreContentObject and this
# fails), and gc must keep it.
test_gc_race_a_writer_reusing_an_old_unreachable_chunk_keeps_it() {
  export VOL_TEST_GC_TIMESCALE=0.002
  "$VOL" create v >/dev/null
  head -c 3000000 /dev/urandom >f
  "$VOL" put v f /f 2>/dev/null
  "$VOL" rm v /f  # /f's chunk: only commit 1 reaches it, which gc --keep-history 0 drops
  sleep 7.5  # > R + 2C = 6 s: the chunk is old
  PYTHONPATH=$PY_PATH python3 - <<'EOF' &
import os, time, vol
v = vol.Volume.from_name("v")
with v.batch_upload() as batch:
    batch.put_file("f", "/again")   # the same content: the stored chunk is reused
    open("uploaded", "w").close()
    while not os.path.exists("go"):
        time.sleep(0.05)
EOF
  local writer=$! i
  for i in $(seq 200); do [[ -e uploaded ]] && break; sleep 0.05; done
  [[ -e uploaded ]] || fail "the batch did not upload"
  sleep 2  # the chunk was written > 8 s ago: older than the grace period (7.2 s)
  local out
  out=$("$VOL" gc --keep-history 0)
  echo "$out"
  assert_match "Freed 0 chunks" "$out"
  touch go
  wait $writer
  assert_match "all intact" "$("$VOL" verify v)"
  "$VOL" get v /again got
  assert_file_eq f got
}

# Writers committing while gc sweeps, over and over: no commit loses anything.
test_gc_race_commits_during_sweeps_lose_nothing() {
  export VOL_TEST_GC_TIMESCALE=0.002
  "$VOL" create v >/dev/null
  mkdir src
  (
    for i in $(seq 12); do
      head -c 300000 /dev/urandom >"src/f$i"
      "$VOL" put v "src/f$i" / 2>/dev/null
      if ((i % 3 == 0)); then "$VOL" rm v "/f$((i - 1))"; fi
      sleep 0.3
    done
  ) &
  local writer=$!
  # Sweeps with the shortest safe grace (scaled down): `--exclusive` would
  # promise that nothing else writes, which is false here.
  while kill -0 $writer 2>/dev/null; do
    "$VOL" gc --keep-history 0 >/dev/null 2>>gc.err || true
  done
  wait $writer
  assert_match "all intact" "$("$VOL" verify v --history)"
  for i in $(seq 12); do
    if ((i % 3 == 2)); then continue; fi
    "$VOL" get v "/f$i" "got$i"
    assert_file_eq "src/f$i" "got$i"
  done
}

test_verify_finds_damaged_and_missing_chunks_and_put_repairs_them() {
  on_s3 && { command -v aws >/dev/null || skip "damaging an s3:// object needs the AWS CLI"; }
  "$VOL" create v >/dev/null
  head -c 5000000 /dev/urandom >a
  head -c 1000 /dev/urandom >b
  chunk_keys >none
  "$VOL" put v a / 2>/dev/null
  new_chunks none >a.keys
  chunk_keys >with-a
  "$VOL" put v b /dir/ 2>/dev/null
  new_chunks with-a >b.keys
  "$VOL" cp v /dir/b /b-copy
  assert_eq 2 "$(wc -l <a.keys)" "a's chunks"
  assert_eq 1 "$(wc -l <b.keys)" "b's chunk"
  local damaged missing out rc=0
  damaged=$(head -1 a.keys)
  missing=$(cat b.keys)
  damage_object "$damaged"
  remove_object "$missing"
  out=$("$VOL" verify v) || rc=$?
  echo "$out"
  assert_eq 1 "$rc" "verify's exit status"
  assert_match "^damaged chunk $damaged: .*corrupt" "$out"
  assert_match "^missing chunk $missing: " "$out"
  assert_eq "  used by v:/a" "$(grep -A1 "^damaged chunk" <<<"$out" | tail -1)"
  assert_eq "$(printf '  used by v:/b-copy\n  used by v:/dir/b')" "$(grep -A2 "^missing chunk" <<<"$out" | tail -2)"
  assert_match "2 objects missing or damaged" "$out"
  # Putting the same content again stores the damaged and missing chunks again.
  "$VOL" put --force v a /a 2>/dev/null
  "$VOL" put --force v b /dir/b 2>/dev/null
  assert_match "all intact" "$("$VOL" verify v)"
  "$VOL" get v /a got-a
  assert_file_eq a got-a
  "$VOL" get v /b-copy got-b
  assert_file_eq b got-b
}

test_verify_history_finds_damage_only_an_older_commit_reaches() {
  on_s3 && { command -v aws >/dev/null || skip "damaging an s3:// object needs the AWS CLI"; }
  "$VOL" create v >/dev/null
  head -c 100000 /dev/urandom >old
  chunk_keys >none
  "$VOL" put v old / 2>/dev/null
  new_chunks none >old.keys
  "$VOL" rm v /old
  remove_object "$(cat old.keys)"
  assert_match "all intact" "$("$VOL" verify v)"
  local out rc=0
  out=$("$VOL" verify --all --history) || rc=$?
  echo "$out"
  assert_eq 1 "$rc"
  assert_match "^missing chunk $(cat old.keys)" "$out"
  assert_match "used by v:/old \(commit 1\)" "$out"
  assert_fails_with "needs volume names or --all" "$VOL" verify
}

test_version_names_the_commit_and_the_store_formats() {
  local out
  out=$("$VOL" --version)
  echo "$out"
  assert_match "^vol [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}(-dirty)?\)$" "$(sed -n 1p <<<"$out")"
  assert_eq "store format: reads versions 1 to 2, writes versions 1 to 2" "$(sed -n 2p <<<"$out")"
  assert_match "^vol $(cat "$ROOT/VERSION") " "$out"
  if git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
    assert_match "commit $(git -C "$ROOT" rev-parse --short=12 HEAD)" "$out" "the commit vol was built from"
  fi
  local py
  py=$(PYTHONPATH=$PY_PATH python3 -c 'import vol; print(vol.__version__, vol.version_info.format_reads, vol.version_info.format_writes)')
  local commit
  commit=$(sed -n 's/.*(commit \([0-9a-f]*\).*/\1/p' <<<"$out")
  assert_match "^$(cat "$ROOT/VERSION")\+g$commit(\.dirty)? 2 2$" "$py"
}

run_tests "$@"
