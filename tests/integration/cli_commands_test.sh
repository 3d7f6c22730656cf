#!/usr/bin/env bash
# The volume-level and browsing commands: create, list, ls, rm, cp, rename,
# delete, history, and environments; each checked against what was put.
source "$(dirname "$0")/lib.sh"

# json EXPR: evaluates a Python expression over the JSON on stdin (as `d`).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

test_create_message_and_allow_existing() {
  assert_eq "Created volume 'v' in environment 'main'." "$($VOL create v)"
  assert_fails_with "already exists.*--allow-existing" $VOL create v
  assert_ok $VOL create v --allow-existing >/dev/null
  VOL_ENV=staging assert_eq "Created volume 'w' in environment 'staging'." "$(VOL_ENV=staging $VOL create w)"
  assert_eq "Created volume 'x' in environment 'dev'." "$($VOL create --env dev x)"
}

test_env_isolation() {
  echo main-data >f
  $VOL create v >/dev/null
  $VOL put v f /f
  # The same name in another environment is another volume.
  assert_fails_with "volume 'v' not found in environment 'other'" $VOL ls --env other v
  VOL_ENV=other $VOL create v >/dev/null
  echo other-data >g
  VOL_ENV=other $VOL put v g /f
  assert_eq main-data "$($VOL get v /f -)"
  assert_eq other-data "$(VOL_ENV=other $VOL get v /f -)"
  assert_eq other-data "$($VOL get --env other v /f -)"
  # --env wins over VOL_ENV.
  assert_eq main-data "$(VOL_ENV=other $VOL get --env main v /f -)"
  assert_eq "v" "$(VOL_ENV=other $VOL list --json | json '" ".join(v["name"] for v in d)')"
  VOL_ENV=other $VOL delete --yes v >/dev/null
  assert_eq main-data "$($VOL get v /f -)"
}

test_list_json_counts_files_and_bytes() {
  $VOL create a >/dev/null
  $VOL create b >/dev/null
  mkdir src && head -c 5000 /dev/urandom >src/x && head -c 123 /dev/urandom >src/y && ln -s x src/l
  $VOL put a src/ /
  out=$($VOL list --json)
  assert_eq "a b" "$(json '" ".join(v["name"] for v in d)' <<<"$out")"
  # Symlinks count as files and add no bytes (DESIGN: totals of files and symlinks).
  assert_eq "3 5123" "$(json '"%d %d" % (d[0]["files"], d[0]["bytes"])' <<<"$out")"
  assert_eq "0 0" "$(json '"%d %d" % (d[1]["files"], d[1]["bytes"])' <<<"$out")"
  # The table has a row per volume.
  assert_match '^a +[0-9-]+ [0-9:]+ +3 ' "$($VOL list | sed -n 2p)"
}

test_ls_long_and_json_match_what_was_put() {
  mkdir -p src/dir
  head -c 1234 /dev/urandom >src/file
  chmod 640 src/file
  touch -d '2021-05-06 07:08:09.25' src/file
  ln -s file src/link
  echo x >src/dir/inner
  $VOL create v >/dev/null
  $VOL put v src/ /
  assert_eq "dir/
file
link" "$($VOL ls v)"
  long=$($VOL ls v / -l)
  assert_match '^-rw-r----- +1234 +2021-05-06 07:08:09 +file$' "$(grep ' file$' <<<"$long")"
  assert_match '^l.* link -> file$' "$(grep 'link' <<<"$long")"
  assert_match '^d.* dir/$' "$(grep 'dir' <<<"$long")"
  js=$($VOL ls v / --json)
  assert_eq "dir file link" "$(json '" ".join(e["name"] for e in d)' <<<"$js")"
  assert_eq "file 1234 0640 $(stat -c %Y src/file)250000000" \
    "$(json '" ".join(str(x) for x in [d[1]["type"], d[1]["size"], d[1]["mode"], d[1]["mtime_ns"]])' <<<"$js")"
  assert_eq "symlink file /link" "$(json '" ".join([d[2]["type"], d[2]["target"], d[2]["path"]])' <<<"$js")"
  assert_eq "dir 1" "$(json '"%s %d" % (d[0]["type"], d[0]["files"])' <<<"$js")"
  # ls of a file lists that file.
  assert_eq "file" "$($VOL ls v /file)"
  assert_eq "/dir/inner" "$($VOL ls v /dir/inner --json | json 'd[0]["path"]')"
  assert_fails_with "no such path in volume 'v': /nope" $VOL ls v /nope
}

test_rm_file_and_dir_needs_r() {
  mkdir -p src/d/e && echo 1 >src/f && echo 2 >src/d/e/g
  $VOL create v >/dev/null
  $VOL put v src/ /
  assert_fails_with "/d is a directory \(use -r" $VOL rm v /d
  assert_eq "d/
f" "$($VOL ls v)"
  $VOL rm v /f
  assert_eq "d/" "$($VOL ls v)"
  $VOL rm -r v /d
  assert_eq "" "$($VOL ls v)"
  assert_fails_with "no such path in volume 'v': /f" $VOL rm v /f
  assert_fails_with "root" $VOL rm -r v /
}

test_cp_is_metadata_only() {
  mkdir -p src/d && head -c $((6 * 1024 * 1024)) /dev/urandom >src/d/big && echo s >src/small
  $VOL create v >/dev/null
  $VOL put v src/ /
  before=$(store_bytes)
  $VOL cp v /d/big /big-copy
  $VOL cp -r v /d /d2
  $VOL cp v /small /d/            # into an existing directory, by name
  grown=$(($(store_bytes) - before))
  [[ $grown -lt 100000 ]] || fail "cp copied data: the store grew by $grown bytes"
  $VOL get v /big-copy got1
  assert_file_eq src/d/big got1
  $VOL get v /d2 got2
  assert_file_eq src/d/big got2/big
  assert_eq s "$($VOL get v /d/small -)"
  assert_fails_with "/d is a directory \(use -r" $VOL cp v /d /d3
  assert_fails_with "into itself" $VOL cp -r v /d /d/inner
  assert_fails_with "no such path in volume 'v': /missing" $VOL cp v /missing /x
}

test_rename_keeps_contents() {
  echo data >f
  $VOL create old >/dev/null
  $VOL put old f /f
  assert_eq "Renamed volume 'old' to 'new' in environment 'main'." "$($VOL rename old new)"
  assert_eq data "$($VOL get new /f -)"
  assert_fails_with "volume 'old' not found" $VOL ls old
  $VOL create other >/dev/null
  assert_fails_with "already exists" $VOL rename new other
  assert_eq data "$($VOL get new /f -)"
  assert_fails_with "invalid volume name 'bad/name'" $VOL rename new bad/name
  # History travels with the volume.
  assert_eq 1 "$($VOL history new --json | json 'len(d)')"
}

test_delete_needs_yes_off_a_terminal() {
  echo data >f
  $VOL create v >/dev/null
  $VOL put v f /f
  assert_fails_with "refusing to delete volume 'v' without confirmation: pass --yes" $VOL delete v </dev/null
  assert_eq data "$($VOL get v /f -)"
  assert_eq "Deleted volume 'v' from environment 'main'." "$($VOL delete --yes v)"
  assert_fails_with "volume 'v' not found" $VOL ls v
  assert_eq "[]" "$($VOL list --json | json 'd')"
  # The name can be used again, for a new, empty volume.
  $VOL create v >/dev/null
  assert_eq "" "$($VOL ls v)"
  assert_fails_with "volume 'nope' not found" $VOL delete --yes nope
}

test_delete_asks_on_a_terminal() {
  command -v script >/dev/null || skip "script(1) is not installed"
  echo data >f
  $VOL create v >/dev/null
  $VOL put v f /f
  # script(1) gives vol a terminal; the answer comes through it.
  local rc=0
  echo n | script -qec "$VOL delete v" /dev/null >out || rc=$?
  assert_match "Delete volume 'v' in environment 'main' and everything in it\? \[y/N\] Not deleted" "$(tr -d '\r' <out)"
  [[ $rc -ne 0 ]] || fail "declining the delete exited 0"
  assert_eq data "$($VOL get v /f -)"
  echo y | script -qec "$VOL delete v" /dev/null >out
  assert_match "Deleted volume 'v' from environment 'main'" "$(tr -d '\r' <out)"
  assert_fails_with "volume 'v' not found" $VOL ls v
}

test_history_one_commit_per_mutation() {
  $VOL create v >/dev/null
  head -c 1000 /dev/urandom >a
  head -c 2500 /dev/urandom >b
  mkdir d && echo x >d/1 && echo yy >d/2
  $VOL put v a /a                 # 1 file, 1000 bytes
  $VOL put v b d /                # 3 files, 2505 bytes
  $VOL cp v /a /a2                # 1 file, 1000 bytes
  $VOL rm -r v /d                 # 2 files
  $VOL ls v >/dev/null            # reads make no commit
  $VOL get v /a - >/dev/null
  h=$($VOL history v --json)
  assert_eq 4 "$(json 'len(d)' <<<"$h")"
  # Newest first.
  assert_eq "4 3 2 1" "$(json '" ".join(str(c["commit"]) for c in d)' <<<"$h")"
  assert_eq "1:1000 3:2505 1:1000 2:0" \
    "$(json '" ".join("%d:%d" % (c["files_changed"], c["bytes_changed"]) for c in reversed(d))' <<<"$h")"
  # Totals of the newest snapshot: a, a2, b.
  assert_eq "3 4500" "$(json '"%d %d" % (d[0]["files"], d[0]["bytes"])' <<<"$h")"
  assert_eq "$(hostname)" "$(json 'd[0]["host"]' <<<"$h")"
  # The table shows the same commits.
  assert_eq 5 "$($VOL history v | wc -l)"
  # A command that changes nothing makes no commit: cp onto itself, a put
  # of what is already there.
  $VOL cp v /a /a
  $VOL cp v /a /
  $VOL put --force v a /a
  assert_eq 4 "$($VOL history v --json | json 'len(d)')"
  # A failed mutation (overwrite without --force) makes no commit.
  $VOL put v a /a 2>/dev/null && fail "overwrite without --force succeeded"
  assert_eq 4 "$($VOL history v --json | json 'len(d)')"
}
run_tests "$@"
