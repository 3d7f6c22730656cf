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

test_put_get_round_trip() {
  make_tree src
  $VOL create v >/dev/null
  $VOL put v src/ / >/dev/null
  $VOL get v / out >/dev/null
  same_tree src out
}
run_tests "$@"
