#!/usr/bin/env bash
# Round trip through `vol put` and `vol get`: what comes back is the tree that
# went in, byte for byte, with modes, mtimes and symlinks.
source "$(dirname "$0")/lib.sh"

# make_tree DIR: nested and empty directories, empty files, a file of more
# than 3 chunks, binary data, names with spaces and non-ASCII characters,
# symlinks (relative, absolute, dangling) and executable bits.
make_tree() {
  local d=$1
  mkdir -p "$d/a/b/c" "$d/empty dir" "$d/a/empty" "$d/ünïcødé ✓"
  : >"$d/empty"
  : >"$d/a/b/c/also empty"
  printf 'x' >"$d/one byte"
  head -c $((12 * 1024 * 1024 + 12345)) /dev/urandom >"$d/a/big.bin"   # > 3 chunks of 4 MiB
  head -c 100000 /dev/urandom >"$d/a/b/binary"
  seq 1 200000 >"$d/a/b/c/text.txt"                                       # compressible
  printf 'héllo wörld\n' >"$d/ünïcødé ✓/fïlé with spaces.txt"
  printf 'new\nline\n' >"$d/ünïcødé ✓/name with a"$'\n'"newline and a 'quote\""
  printf '#!/bin/sh\necho hi\n' >"$d/a/run.sh"
  chmod 755 "$d/a/run.sh"
  chmod 600 "$d/a/b/binary"
  chmod 700 "$d/a/empty"
  ln -s b/c/text.txt "$d/a/link"
  ln -s /etc/hostname "$d/abs link"
  ln -s nowhere "$d/a/dangling"
  # Distinct, sub-second mtimes, so that a lost timestamp shows.
  touch -h -d '2021-03-04 05:06:07.123456789' "$d/a/link"
  touch -d '2020-01-02 03:04:05.5' "$d/a/big.bin"
  touch -d '2019-06-07 08:09:10.987654321' "$d/empty" "$d/a/b" "$d/empty dir"
}

# checksums DIR: "sha256  path" of every regular file, sorted.
checksums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum); }

test_put_get_round_trip() {
  make_tree src
  $VOL create v >/dev/null
  $VOL put v src/ / >/dev/null
  $VOL get v / out >/dev/null
  same_tree src out
  assert_eq "$(checksums src)" "$(checksums out)" "checksums of every file"
  # And once more through a second volume, from the got-back copy.
  $VOL create w >/dev/null
  $VOL put w out/ /copy/ >/dev/null
  $VOL get w /copy again >/dev/null
  same_tree src again
}

test_put_dir_into_remote_dir_keeps_its_name() {
  make_tree src
  $VOL create v >/dev/null
  $VOL put v ./src /data/
  assert_eq "src/" "$($VOL ls v /data)"
  $VOL get v /data/src out
  same_tree src out
}

test_put_dir_with_trailing_slash_puts_its_contents() {
  mkdir -p src/sub && echo a >src/a && echo b >src/sub/b
  $VOL create v >/dev/null
  $VOL put v ./src/ /data/
  assert_eq "a
sub/" "$($VOL ls v /data)"
  assert_eq "b" "$($VOL get v /data/sub/b -)"
}

test_put_remote_defaults_to_root() {
  mkdir src && echo a >src/a && echo top >file
  $VOL create v >/dev/null
  $VOL put v src
  $VOL put v file
  assert_eq "file
src/" "$($VOL ls v)"
  assert_eq "a" "$($VOL get v /src/a -)"
  assert_eq "top" "$($VOL get v /file -)"
}

test_put_several_locals_into_a_dir() {
  echo one >a && echo two >b && mkdir d && echo three >d/c
  $VOL create v >/dev/null
  $VOL put v a b d /dst
  assert_eq "a
b
d/" "$($VOL ls v /dst)"
  assert_eq "three" "$($VOL get v /dst/d/c -)"
  # One commit for the whole command.
  assert_eq 1 "$($VOL history v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
}

test_put_creates_missing_parents() {
  echo deep >f
  touch -d '2022-02-02 02:02:02' f
  $VOL create v >/dev/null
  $VOL put v f /x/y/z/g
  assert_eq "y/" "$($VOL ls v /x)"
  assert_eq "deep" "$($VOL get v /x/y/z/g -)"
  $VOL get v /x/y/z/g got
  assert_eq "$(stat -c '%Y %a' f)" "$(stat -c '%Y %a' got)" "mtime and mode of the put file"
}

test_put_stdin_and_get_stdout() {
  head -c $((9 * 1024 * 1024 + 7)) /dev/urandom >data   # three chunks, the last partial
  $VOL create v >/dev/null
  $VOL put v - /in/data <data
  $VOL get v /in/data - >got
  assert_file_eq data got
  printf '' | $VOL put v - /empty
  assert_eq 0 "$($VOL get v /empty - | wc -c)"
  printf 'small' | $VOL put v - /small
  assert_eq small "$($VOL get v /small -)"
  assert_fails_with 'standard input needs a file name' $VOL put v - /dir/
}

test_get_dir_into_missing_and_existing_local_dir() {
  mkdir -p src/sub && echo a >src/a && echo b >src/sub/b
  $VOL create v >/dev/null
  $VOL put v ./src/ /data/
  # A missing LOCAL is created holding what /data holds.
  $VOL get v /data new
  same_tree src new
  # An existing LOCAL receives /data by its name (cp -r).
  mkdir existing
  $VOL get v /data existing
  assert_eq "data" "$(ls existing)"
  same_tree src existing/data
  # Same with a trailing slash on LOCAL.
  mkdir existing2
  $VOL get v /data existing2/
  same_tree src existing2/data
  # LOCAL defaults to the current directory.
  mkdir here && (cd here && $VOL get v /data)
  same_tree src here/data
}

test_get_file_to_new_name_and_into_dir() {
  echo content >f
  $VOL create v >/dev/null
  $VOL put v f /f
  $VOL get v /f renamed
  assert_file_eq f renamed
  mkdir d
  $VOL get v /f d
  assert_file_eq f d/f
}

test_get_force_overwrites() {
  echo new >f
  $VOL create v >/dev/null
  $VOL put v f /f
  echo old >local
  assert_fails_with 'already exists.*--force' $VOL get v /f local
  assert_eq old "$(cat local)"
  $VOL get --force v /f local
  assert_eq new "$(cat local)"
}

test_put_force_replaces_file() {
  echo one >f
  $VOL create v >/dev/null
  $VOL put v f /f
  echo two >f
  assert_fails_with 'already exists.*--force' $VOL put v f /f
  assert_eq one "$($VOL get v /f -)"
  $VOL put --force v f /f
  assert_eq two "$($VOL get v /f -)"
}

# Many files in one put: the upload must not hold a descriptor per file.
test_put_many_files_under_low_fd_limit() {
  mkdir src
  for i in $(seq 1 600); do echo "file $i" >"src/f$i"; done
  $VOL create v >/dev/null
  (ulimit -n 64 && $VOL put v src/ /many/)
  (ulimit -n 64 && $VOL get v /many out)
  same_tree src out
}
test_quiet_when_piped_progress_on_a_terminal() {
  head -c $((6 * 1024 * 1024)) /dev/urandom >data
  $VOL create v >/dev/null
  $VOL put v data /quiet >out 2>err
  $VOL get v /quiet got >>out 2>>err
  assert_eq "" "$(cat out err)" "output of put and get when not on a terminal"
  command -v script >/dev/null || skip "script(1) is not installed"
  # On a terminal (script gives the command a pty), a summary line each.
  script -qec "$VOL put v data /tty" /dev/null >tty.out </dev/null
  assert_match "Uploaded 1 files, 6.0 MiB \(0 B new\) to 'v'" "$(tr -d '\r' <tty.out)"
  script -qec "$VOL get v /tty got-tty" /dev/null >tty.out </dev/null
  assert_match "Downloaded 6.0 MiB to got-tty" "$(tr -d '\r' <tty.out)"
  assert_file_eq data got-tty
}
run_tests "$@"
