#!/usr/bin/env bash
# The crash suite: `kill -9` at random moments while a program writes and its
# session commits — of `vol run` alone, of the fetcher, of the program's whole
# process group — and of `vol put` / `vol cp` / `vol rm` mid-flight. After
# each trial:
#   - the volume's head is a complete snapshot (`vol verify`, `vol get`);
#   - no file in it is half-written (every file the program writes carries
#     its own length and an end mark, checked whole);
#   - every file the program closed before the kill is in the volume, or in
#     a kept session that `vol commit --session` publishes.
# The kinds: vol run alone; the fetcher alone; the program's process group;
# the fetcher and the program together (a container stop); vol put/cp/rm.
#
# Trials per kind: $VOL_CRASH_TRIALS (default 30, 10 on S3). More, e.g.:
#   VOL_CRASH_TRIALS=200 tests/integration/run crash
# Each test prints its counts after its PASS line; the concurrent
# writers' randomised trials are commit_merge_test.sh's (VOL_RACE_TRIALS).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

trials() {
  if [[ -n "${VOL_CRASH_TRIALS:-}" ]]; then echo "$VOL_CRASH_TRIALS"
  elif on_s3; then echo 10
  else echo 30; fi
}

# The program: writes FILES files under ROOT/w, each "vol-crash NAME SIZE\n",
# SIZE bytes, "\nEND\n", in 16 KiB writes with pauses (a kill lands
# mid-file), some through a temporary name renamed into place, now and then a
# sync(2) (a commit now). After each close it appends NAME to LOG on the host,
# fsynced: what the program knows it finished.
WORKER='
import os, random, sys, time
root, log, seed, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
os.makedirs(root + "/w", exist_ok=True)
for i in range(files):
    name = "f%03d" % i
    size = rng.randrange(1, 150000)
    body = (name.encode() * (size // 4 + 1))[:size]
    data = b"vol-crash %s %d\n" % (name.encode(), size) + body + b"\nEND\n"
    path = root + "/w/" + name
    via_tmp = rng.random() < 0.3
    with open(path + ".tmp" if via_tmp else path, "wb") as f:
        for k in range(0, len(data), 16384):
            f.write(data[k:k + 16384]); f.flush()
            if rng.random() < 0.4: time.sleep(0.005)
    if via_tmp: os.rename(path + ".tmp", path)
    with open(log, "a") as l:
        l.write(name + "\n"); l.flush(); os.fsync(l.fileno())
    if rng.random() < 0.1: os.sync()
open(log + ".done", "w").close()
'

# CHECK DIR LOG: every file under DIR/w is whole; every name in LOG is there.
# Prints "FILES" (how many files the volume holds).
CHECK='
import os, sys
top, log = sys.argv[1] + "/w", sys.argv[2]
names = os.listdir(top) if os.path.isdir(top) else []
for n in names:
    data = open(os.path.join(top, n), "rb").read()
    head, _, rest = data.partition(b"\n")
    parts = head.split(b" ")
    want = n[:-4] if n.endswith(".tmp") else n
    if len(parts) != 3 or parts[0] != b"vol-crash" or parts[1] != want.encode():
        sys.exit("half-written file published: %s (%d bytes, starts %r)" % (n, len(data), data[:40]))
    size = int(parts[2])
    body = (want.encode() * (size // 4 + 1))[:size]
    if rest != body + b"\nEND\n":
        sys.exit("half-written file published: %s (%d of %d bytes)" % (n, len(data), size + len(head) + 6))
closed = open(log).read().split() if os.path.exists(log) else []
lost = [c for c in closed if c not in names]
if lost:
    sys.exit("closed before the kill but lost: %s" % " ".join(lost))
print(len(names))
'

wait_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $end ]] || return 1
    sleep 0.05
  done
}
sessions_dir() { echo "$T/.cache/vol/sessions"; }
# The session directory of the `vol run` whose pid is $1 (empty if gone).
session_of() { compgen -G "$(sessions_dir)/$1-*" | head -1; }
fetcher_up() { local s; s=$(session_of "$1") && [[ -s "$s/fetcher.pid" ]]; }
no_live_fetcher() {
  local f
  for f in "$(sessions_dir)"/*/fetcher.pid; do
    [[ -e "$f" ]] || continue
    kill -0 "$(cat "$f")" 2>/dev/null && return 1
  done
  return 0
}
random_delay() { python3 -c "import random; print('%.2f' % random.uniform($1, $2))"; }

# start_in_own_group VOLUME LOG [FILES]: creates VOLUME and starts the program
# on it (FILES files, default 25) under `vol run`, which leads its own process
# group (setsid; the fetcher leaves it). Sets run (vol run's pid, the group's id).
start_in_own_group() {
  "$VOL" create "$1" >/dev/null
  setsid "$VOL" run --commit-every 1 -v "$1:/mnt/v" -- python3 -c "$WORKER" /mnt/v "$2" "$trial" "${3:-25}" \
    >/dev/null 2>&1 &
  run=$!
}

# check_trial VOLUME LOG: publishes a kept session (if any), then checks the
# head. Sets CUT (files left out as cut short) and HELD (files in the volume).
check_trial() {
  local v=$1 log=$2 s rc out
  CUT=0
  for s in "$(sessions_dir)"/*; do
    [[ -e "$s/keep" || -e "$s/changed" ]] || continue
    rc=0
    out=$("$VOL" commit --session "$s" 2>&1) || rc=$?
    if [[ $rc -ne 0 ]]; then
      grep -q "still being written when the session ended" <<<"$out" || fail "vol commit --session $s: $out"
      CUT=$((CUT + $(grep -c '^  ' <<<"$out")))
      rm -rf "$s"  # what is left is cut short: dropped, as the message says one may
    fi
  done
  "$VOL" verify "$v" >/dev/null || fail "vol verify $v: $("$VOL" verify "$v" 2>&1 | head -5)"
  rm -rf got && "$VOL" get "$v" / got >/dev/null || fail "vol get $v failed"
  HELD=$(python3 -c "$CHECK" got "$log" 2>&1) || fail "trial $trial: $HELD"
}

test_kill_9_of_vol_run_loses_nothing_and_publishes_nothing_half_written() {
  local n; n=$(trials)
  local trial run cut=0
  for trial in $(seq 1 "$n"); do
    local v=r$trial log=$T/log-$trial
    "$VOL" create "$v" >/dev/null
    "$VOL" run --commit-every 1 -v "$v:/mnt/v" -- python3 -c "$WORKER" /mnt/v "$log" "$trial" 25 &
    run=$!
    sleep "$(random_delay 0.1 1.0)"
    kill -9 "$run" 2>/dev/null || true
    wait "$run" 2>/dev/null || true
    # The program goes on without vol run; its fetcher commits when it ends.
    wait_for 60 test -e "$log.done" || fail "trial $trial: the program did not finish"
    wait_for 60 no_live_fetcher || fail "trial $trial: the fetcher did not finish"
    # Nothing left to publish (a kill during vol run's own clean-up may leave
    # the directory itself, which the next vol run removes).
    ! compgen -G "$(sessions_dir)/*/changed" >/dev/null && ! compgen -G "$(sessions_dir)/*/keep" >/dev/null ||
      fail "trial $trial: the session was kept: $(cat "$(sessions_dir)"/*/commit_error 2>/dev/null)"
    check_trial "$v" "$log"
    [[ $HELD -eq 25 ]] || fail "trial $trial: $HELD of 25 files in the volume after the program finished"
    cut=$((cut + CUT))
  done
  echo "NOTE: kill -9 of vol run, $n trials: 0 half-written published, 0 closed files lost, all 25 files published each time"
}

test_kill_9_of_the_fetcher_keeps_everything_for_vol_commit_session() {
  local n; n=$(trials)
  local trial run rc killed=0 s pid out
  for trial in $(seq 1 "$n"); do
    local v=f$trial log=$T/log-$trial
    "$VOL" create "$v" >/dev/null
    "$VOL" run --commit-every 1 -v "$v:/mnt/v" -- python3 -c "$WORKER" /mnt/v "$log" "$trial" 25 \
      >"$T/run.out" 2>&1 &
    run=$!
    # From the moment the fetcher is up (a fixed delay from the start landed
    # after the session had ended in most trials once start-up got faster).
    wait_for 10 fetcher_up "$run" || true
    sleep "$(random_delay 0 0.4)"
    s=$(session_of "$run" || true)
    pid=$(cat "$s/fetcher.pid" 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else pid=""; fi
    rc=0
    wait "$run" || rc=$?
    if [[ -n "$pid" && ! -e "$log.done" ]]; then
      # The program's next open failed (EIO): it stopped, and vol run says so.
      [[ $rc -ne 0 ]] || fail "trial $trial: vol run exited 0 after its fetcher was killed: $(cat "$T/run.out")"
      grep -q "vol commit --session" "$T/run.out" || fail "trial $trial: vol run did not say how to publish: $(cat "$T/run.out")"
    fi
    check_trial "$v" "$log"
  done
  [[ $killed -gt 0 ]] || fail "no trial killed a fetcher"
  echo "NOTE: kill -9 of the fetcher, $n trials ($killed killed mid-session): 0 half-written published, 0 closed files lost"
}

test_kill_9_of_the_process_group_publishes_what_was_closed_and_nothing_cut_short() {
  local n; n=$(trials)
  local trial run cut=0
  for trial in $(seq 1 "$n"); do
    local v=g$trial log=$T/log-$trial
    start_in_own_group "$v" "$log"
    sleep "$(random_delay 0.2 1.2)"
    kill -9 -- "-$run" 2>/dev/null || true
    wait "$run" 2>/dev/null || true
    wait_for 60 no_live_fetcher || fail "trial $trial: the fetcher did not finish"
    check_trial "$v" "$log"
    cut=$((cut + CUT))
  done
  echo "NOTE: kill -9 of the process group, $n trials: 0 half-written published, 0 closed files lost, $cut files cut short left out"
}

# A container stop or the OOM killer: the fetcher dies together with the
# program, so no one is left to tell which files were being written; the
# session's writers log says it (write_tracker.h), including files first
# opened after the last commit.
test_kill_9_of_the_fetcher_and_the_program_together_publishes_nothing_half_written() {
  local n; n=$(trials)
  local trial run s pid cut=0 killed=0
  for trial in $(seq 1 "$n"); do
    local v=a$trial log=$T/log-$trial
    start_in_own_group "$v" "$log" 100  # a longer session: most kills land in it
    wait_for 10 fetcher_up "$run" || true
    sleep "$(random_delay 0 0.6)"
    s=$(session_of "$run" || true)
    pid=$(cat "$s/fetcher.pid" 2>/dev/null || true)
    # One kill(2) each, back to back: both are gone before either can react.
    kill -9 -- "-$run" ${pid:+"$pid"} 2>/dev/null && [[ -n "$pid" ]] && killed=$((killed + 1))
    wait "$run" 2>/dev/null || true
    wait_for 60 no_live_fetcher || fail "trial $trial: the fetcher did not die"
    check_trial "$v" "$log"
    cut=$((cut + CUT))
  done
  [[ $killed -gt 0 ]] || fail "no trial killed a fetcher"
  echo "NOTE: kill -9 of the fetcher and the program together, $n trials ($killed with the fetcher up): 0 half-written published, 0 closed files lost, $cut files cut short left out"
}

test_kill_9_of_vol_put_cp_and_rm_leaves_a_complete_head() {
  local n; n=$(trials)
  local trial pid
  mkdir -p src/a/b
  local i
  for i in $(seq 1 40); do head -c $((i * 3000)) /dev/urandom > "src/a/b/f$i"; done
  "$VOL" create p >/dev/null
  "$VOL" put p src/ /base/ >/dev/null
  for trial in $(seq 1 "$n"); do
    case $((trial % 3)) in
      0) "$VOL" put p src/ "/t$trial/" >/dev/null 2>&1 & ;;
      1) "$VOL" cp -r p /base "/c$trial" >/dev/null 2>&1 & ;;
      2) "$VOL" rm -r p "/t$((trial - 2))" >/dev/null 2>&1 & ;;
    esac
    pid=$!
    sleep "$(random_delay 0 0.3)"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    "$VOL" verify p >/dev/null || fail "trial $trial: vol verify: $("$VOL" verify p 2>&1 | head -5)"
    rm -rf got && "$VOL" get p / got >/dev/null || fail "trial $trial: vol get failed"
    diff -r src got/base >/dev/null || fail "trial $trial: /base changed"
    local d
    for d in got/t* got/c*; do
      [[ -e "$d" ]] || continue
      # A put or a copy is all or nothing: one commit.
      diff -r src "$d" >/dev/null || fail "trial $trial: $d is partial"
    done
  done
  echo "NOTE: kill -9 of vol put/cp/rm, $n trials: the head always verified, no partial tree"
}

run_tests "$@"
