#!/usr/bin/env bash
# A session lasts as long as any process using its mounts: the program, its
# children that outlive it, whatever happened to `vol run`. Its final commit
# comes after the last of them has exited, so what they wrote is published,
# and nothing half-written is.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $end ]] || return 1
    sleep 0.1
  done
}
in_volume() { [[ "$("$VOL" get "$1" "$2" - 2>/dev/null)" == "$3" ]]; }

test_a_child_that_outlives_the_program_is_part_of_the_session() {
  "$VOL" create v >/dev/null
  # The program returns at once; its child writes two seconds later, slowly.
  "$VOL" run -v v -- sh -c '(sleep 2; python3 -c "
import time
with open(\"/mnt/v/late\", \"w\") as f:
    for i in range(5):
        f.write(\"part %d\n\" % i); f.flush(); time.sleep(0.2)
") & exit 0'
  assert_eq "$(printf 'part 0\npart 1\npart 2\npart 3\npart 4')" "$("$VOL" get v /late -)" \
    "the child's whole file, committed when it had finished"
}

test_killing_vol_run_loses_nothing_the_program_writes_afterwards() {
  "$VOL" create w >/dev/null
  # The program writes 20 files, each in two steps (a reader of a half-done
  # one would see "half"), and says when it is done on the host.
  "$VOL" run -v w -- python3 -c '
import os, time
for i in range(20):
    with open("/mnt/w/f%02d" % i, "w") as f:
        f.write("half"); f.flush(); time.sleep(0.05)
        f.write(" and whole %d" % i)
    time.sleep(0.05)
open("'"$T"'/done", "w").close()
' &
  local run=$!
  sleep 0.6
  kill -9 "$run"
  wait "$run" 2>/dev/null || true
  # vol run is gone; the program goes on. Another vol run now (its clean-up of
  # dead sessions must leave this one alone), while the program still writes.
  "$VOL" run -v w -- true
  wait_for 30 test -e "$T/done" || fail "the program did not finish after vol run was killed"
  # The fetcher commits once the program has exited.
  wait_for 30 in_volume w /f19 "half and whole 19" || fail "the last file never reached the volume"
  local i
  for i in $(seq -w 0 19); do
    assert_eq "half and whole $((10#$i))" "$("$VOL" get w "/f$i" -)" "file f$i"
  done
  # The session cleaned up after itself.
  wait_for 10 bash -c '[[ -z "$(ls "$T/.cache/vol/sessions")" ]]' || fail "session left: $(ls "$T/.cache/vol/sessions")"
}

test_a_background_commit_never_publishes_a_file_still_being_written() {
  "$VOL" create b >/dev/null
  # Background commits every second while a file is written in 20 steps.
  "$VOL" run --commit-every 1 -v b -- python3 -c '
import time
with open("/mnt/b/slow", "w") as f:
    for i in range(20):
        f.write("line %d\n" % i); f.flush(); time.sleep(0.15)
' &
  local run=$! seen=""
  while kill -0 "$run" 2>/dev/null; do
    local got
    got=$( ("$VOL" get b /slow - 2>/dev/null || true) | wc -l)
    [[ "$got" == 0 || "$got" == 20 ]] || seen="$seen $got"
    sleep 0.2
  done
  wait "$run"
  assert_eq "" "$seen" "line counts of /slow seen in the volume while it was being written"
  assert_eq 20 "$("$VOL" get b /slow - | wc -l)"
}

run_tests "$@"
