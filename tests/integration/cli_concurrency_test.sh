#!/usr/bin/env bash
# Many processes committing to one volume at once lose nothing: different
# files all survive, and the same file ends up as exactly one writer's.
source "$(dirname "$0")/lib.sh"

test_8_writers_20_files_each_all_survive() {
  $VOL create v >/dev/null
  for w in $(seq 1 8); do
    mkdir -p "src$w"
    for f in $(seq 1 20); do echo "writer $w file $f" >"src$w/f$f"; done
  done
  # Each writer puts its 20 files one command (and so one commit) at a time,
  # so there are 160 commits racing, not 8.
  for w in $(seq 1 8); do
    (
      for f in $(seq 1 20); do
        $VOL put v "src$w/f$f" "/w$w/f$f" || exit 1
      done
    ) &
  done
  local failed=0
  for pid in $(jobs -p); do wait "$pid" || failed=1; done
  [[ $failed -eq 0 ]] || fail "a writer failed"
  $VOL get v / out
  assert_eq 160 "$(find out -type f | wc -l)" "files in the volume"
  for w in $(seq 1 8); do same_tree_content "src$w" "out/w$w"; done
  assert_eq 160 "$($VOL history v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "commits"
  assert_eq 160 "$($VOL list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["files"])')" "files in list"
}

# diff -r only (the directories were created by the commits, not put).
same_tree_content() {
  diff -r "$1" "$2" >/dev/null || fail "content of $2 differs from $1: $(diff -r "$1" "$2" | head -5)"
}

test_8_writers_force_same_path_one_wins_whole() {
  $VOL create v >/dev/null
  for w in $(seq 1 8); do
    # Two chunks each, so a mix of writers would show.
    { yes "writer $w" | head -c $((5 * 1024 * 1024)); } >"data$w"
  done
  for w in $(seq 1 8); do
    $VOL put --force v "data$w" /same &
  done
  local failed=0
  for pid in $(jobs -p); do wait "$pid" || failed=1; done
  [[ $failed -eq 0 ]] || fail "a writer failed"
  $VOL get v /same got
  local matches=0
  for w in $(seq 1 8); do cmp -s got "data$w" && matches=$((matches + 1)); done
  assert_eq 1 "$matches" "writers whose content /same equals"
  # The winner is the newest commit's writer: every put made a commit.
  assert_eq 8 "$($VOL history v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "commits"
}

test_concurrent_creates_of_one_name_one_wins() {
  for i in $(seq 1 8); do
    ( $VOL create v >"out$i" 2>"err$i"; echo $? >"rc$i" ) &
  done
  wait
  assert_eq 1 "$(cat rc* | grep -c '^0$')" "creates that succeeded"
  assert_eq 7 "$(cat err* | grep -c 'already exists')" "creates told the name exists"
}
run_tests "$@"
