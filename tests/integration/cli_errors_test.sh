#!/usr/bin/env bash
# Bad input: each case gives one clear line on stderr and a non-zero exit,
# and damages nothing already committed (the volume is got back and compared
# after each).
source "$(dirname "$0")/lib.sh"

# After a failed `get` into DIR: every file that is there is complete and
# right (a partial directory is allowed, a partial or wrong file is not).
no_wrong_files() {
  [[ -e "$1" ]] || return 0
  local f
  while IFS= read -r -d '' f; do
    [[ "$f" != *vol-tmp* ]] || fail "a failed get left a temporary file: $f"
    assert_file_eq "src/${f#"$1"/}" "$f"
  done < <(find "$1" -type f -print0)
}

# A committed volume `v` holding the tree `src` (kept for comparison).
setup_volume() {
  mkdir -p src/dir/sub src/empty
  head -c $((5 * 1024 * 1024)) /dev/urandom >src/big   # two chunks
  echo small >src/dir/small
  echo deeper >src/dir/sub/deeper
  ln -s dir/small src/link
  $VOL create v >/dev/null
  $VOL put v src/ / >/dev/null
  COMMITS=$(commit_count)
}

commit_count() { $VOL history v --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# The volume still holds exactly `src`, and no commit was added.
assert_intact() {
  rm -rf "$T/check"
  $VOL get v / "$T/check" >/dev/null || fail "the volume can no longer be read back"
  same_tree src "$T/check"
  rm -rf "$T/check"
  assert_eq "$COMMITS" "$(commit_count)" "commits (a failed command must not commit)"
}

test_invalid_names() {
  setup_volume
  assert_fails_with "invalid volume name 'bad/name': use 1-64 characters" $VOL create bad/name
  assert_fails_with "invalid volume name ''" $VOL create ''
  assert_fails_with "invalid volume name 'sp ace'" $VOL create 'sp ace'
  assert_fails_with "invalid volume name '\.\.'" $VOL create ..
  assert_fails_with "invalid volume name" $VOL create "$(printf 'x%.0s' $(seq 65))"
  assert_ok $VOL create "$(printf 'x%.0s' $(seq 64))" >/dev/null
  assert_ok $VOL create A-z.0_9 >/dev/null
  assert_fails_with "invalid environment name 'a/b'" $VOL create --env a/b w
  assert_fails_with "invalid volume name 'b@d'" $VOL put b@d src/big /x
  assert_fails_with "invalid volume name 'v/'" $VOL get v/ /big -
  # Empty paths are bad paths, not a crash.
  assert_fails_with "a file cannot replace the volume root" $VOL put v src/big ""
  assert_fails_with "cannot read" $VOL put v "" /x
  assert_intact
}

test_usage_errors_are_one_line() {
  setup_volume
  assert_fails_with "^vol: error: PATHS is required \(see: vol put --help\)$" $VOL put v
  assert_fails_with "^vol: error: unknown command 'nosuch' \(see: vol --help\)$" $VOL nosuch
  assert_fails_with "not expected: --bogus \(see: vol ls --help\)$" $VOL ls v --bogus
  assert_fails_with "see: vol --help" $VOL
  local rc=0
  $VOL put v >/dev/null 2>&1 || rc=$?
  assert_eq 2 "$rc" "exit status of a usage error"
  assert_match "^Upload files or directories" "$($VOL put --help)"
  assert_intact
}

test_missing_volume() {
  setup_volume
  assert_fails_with "volume 'nope' not found in environment 'main' \(create it with: vol create nope\)" \
    $VOL ls nope
  assert_fails_with "volume 'nope' not found" $VOL put nope src/big /x
  assert_fails_with "volume 'nope' not found" $VOL get nope /big out
  [[ ! -e out ]] || fail "a failed get created out"
  assert_fails_with "volume 'nope' not found" $VOL history nope
  assert_fails_with "volume 'nope' not found" $VOL rename nope other
  assert_intact
}

test_missing_path() {
  setup_volume
  assert_fails_with "no such path in volume 'v': /nope" $VOL get v /nope out
  assert_fails_with "no such path in volume 'v': /dir/nope" $VOL ls v /dir/nope
  assert_fails_with "no such path in volume 'v': /nope" $VOL rm v /nope
  # A path through a file is a missing path, not a crash.
  assert_fails_with "no such path in volume 'v': /big/x" $VOL get v /big/x out
  assert_fails_with "cannot read missing-local" $VOL put v missing-local /x
  [[ ! -e out ]] || fail "a failed get created out"
  assert_intact
}

test_dotdot_escaping_the_root() {
  setup_volume
  assert_fails_with "path '/\.\./etc' escapes the volume root" $VOL get v /../etc out
  assert_fails_with "escapes the volume root" $VOL get v dir/../../big out
  assert_fails_with "escapes the volume root" $VOL put v src/big /dir/../../x
  assert_fails_with "escapes the volume root" $VOL ls v ..
  assert_fails_with "escapes the volume root" $VOL rm -r v /..
  assert_fails_with "escapes the volume root" $VOL cp v /big /../x
  # `..` that stays inside is fine.
  assert_eq small "$($VOL get v /dir/sub/../small -)"
  assert_intact
}

test_overwrite_without_force() {
  setup_volume
  echo other >other
  assert_fails_with "/big already exists in the volume \(use --force to overwrite\)" $VOL put v other /big
  assert_fails_with "/dir/small already exists in the volume" $VOL put v other /dir/small
  # A directory put over an existing tree refuses as a whole: nothing of it lands.
  mkdir -p again/dir && echo changed >again/dir/small && echo new >again/newfile
  assert_fails_with "/dir/small already exists" $VOL put v again/ /
  assert_intact
  # get: an existing local file is not overwritten, and nothing is written.
  mkdir out && echo keep >out/big
  assert_fails_with "out/big already exists \(use --force to overwrite\)" $VOL get v / out/
  assert_eq "keep" "$(cat out/big)"
  assert_eq "big" "$(ls out)"
  echo mine >f
  assert_fails_with "f already exists \(use --force" $VOL get v /dir/small f
  assert_eq mine "$(cat f)"
  assert_intact
}

test_file_over_directory() {
  setup_volume
  echo f >f
  assert_fails_with "cannot put f at /dir: a directory is there" $VOL put --force v f /dir
  printf 'x' | assert_fails_with "cannot put standard input at /dir: a directory is there" \
    $VOL put --force v - /dir
  mkdir d && echo x >d/x
  assert_fails_with "cannot put directory d at /big: a file is there" $VOL put --force v d /big
  # A file in the way of a parent directory.
  assert_fails_with "'big' is a file, not a directory" $VOL put v f /big/under
  # get: a local file where a directory must go, and the reverse.
  echo x >out
  assert_fails_with "cannot create directory out: a file is in the way" $VOL get v /dir out
  mkdir -p o2/dir/small
  assert_fails_with "cannot write o2/dir/small: a directory is in the way" $VOL get --force v /dir o2
  assert_intact
}

test_corrupted_chunk_is_an_error_naming_it() {
  setup_volume
  store=$(file_store_dir)
  # The big file's chunks are the only large objects.
  local n=0
  for c in $(find "$store/chunks" -type f -size +100k); do
    n=$((n + 1))
    cp "$c" saved
    printf '\xff' | dd of="$c" bs=1 seek=1000 conv=notrunc 2>/dev/null
    cmp -s "$c" saved && printf '\x00' | dd of="$c" bs=1 seek=1000 conv=notrunc 2>/dev/null
    key=${c#"$store/"}
    assert_fails_with "object $key is corrupt \(checksum mismatch\)" $VOL get v /big got
    # No wrong bytes and no partial file where the user asked for one.
    [[ ! -e got ]] || fail "a failed get left 'got' behind"
    [[ -z "$(ls -A . | grep vol-tmp)" ]] || fail "a failed get left a temporary file: $(ls -A)"
    # Other files do not depend on the damaged chunk.
    assert_eq small "$($VOL get v /dir/small -)"
    # A truncated chunk too.
    truncate -s 500 "$c"
    assert_fails_with "object $key is corrupt" $VOL get v /big got
    # A missing one.
    rm "$c"
    assert_fails_with "chunk $key is missing from store" $VOL get v /big got
    mv saved "$c"
  done
  assert_eq 2 "$n" "chunks of the big file"
  assert_intact
}

# The tree objects a read walks: all but the empty directory's, which is
# implied and never read (payload {"entries":[]}, stored raw).
tree_objects() {
  local t
  for t in $(find "$1/trees" -type f); do
    grep -q '{"entries":\[\]}' "$t" || echo "$t"
  done
}

test_truncated_tree_object() {
  setup_volume
  store=$(file_store_dir)
  local n=0 t key
  for t in $(tree_objects "$store"); do
    n=$((n + 1))
    cp "$t" saved
    truncate -s $(( $(stat -c %s "$t") / 2 )) "$t"
    key=${t#"$store/"}
    # Whatever reads that tree fails naming it; never a partial listing.
    assert_fails_with "object $key is corrupt" $VOL get v / got
    [[ ! -e got ]] || fail "get of a damaged tree left 'got' behind"
    truncate -s 10 "$t"
    assert_fails_with "object $key is corrupt \(only 10 bytes, truncated\)" $VOL get v / got
    mv saved "$t"
  done
  [[ $n -ge 3 ]] || fail "expected at least 3 tree objects (/, /dir, /dir/sub), found $n"
  assert_intact
}

test_unknown_format_version() {
  setup_volume
  store=$(file_store_dir)
  local obj key
  for obj in "$(tree_objects "$store" | head -1)" \
             "$(find "$store/chunks" -type f -size +100k | head -1)" \
             "$(find "$store/volumes" -path '*/commits/*' -type f | tail -1)" \
             "$store/envs/main/volumes/v"; do
    cp "$obj" saved
    printf '\x03' | dd of="$obj" bs=1 seek=4 conv=notrunc 2>/dev/null   # the version byte
    key=${obj#"$store/"}
    assert_fails_with "object $key has format version 3; this vol reads [a-z]+ objects up to version [12]: upgrade vol" \
      $VOL get v / got
    no_wrong_files got
    rm -rf got
    mv saved "$obj"
  done
  # A new vol's commit cannot be overwritten by an old one either.
  cm=$(find "$store/volumes" -path '*/commits/*' -type f | tail -1)
  cp "$cm" saved
  printf '\x02' | dd of="$cm" bs=1 seek=4 conv=notrunc 2>/dev/null
  echo x >x
  assert_fails_with "has format version 2.*upgrade vol" $VOL put v x /x
  mv saved "$cm"
  assert_intact
}

test_store_that_cannot_be_written() {
  setup_volume
  store=$(file_store_dir)
  # Tests run as root, who can write anywhere: run vol as nobody, to whom the
  # store (root's, 0755) is read-only.
  command -v setpriv >/dev/null || skip "setpriv is not installed"
  chmod 755 "$T"
  echo x >x && chmod 644 x
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
  assert_fails_with "cannot write .* in store file://$store: Permission denied \(check the store directory's permissions\)" \
    as_nobody $VOL put v x /x
  # Reading a read-only store works.
  assert_eq small "$(as_nobody $VOL get v /dir/small -)"
  assert_fails_with "Permission denied" as_nobody $VOL create w
  assert_fails_with "Permission denied" as_nobody $VOL rm v /big
  assert_intact
}

test_store_path_under_a_file() {
  echo i-am-a-file >afile
  assert_fails_with "cannot create store directory $T/afile/store" \
    $VOL create --store "file://$T/afile/store" v
  assert_fails_with "store URL|must be absolute" $VOL create --store "file://relative/x" v
  assert_fails_with "unsupported store URL 'ftp://x'" $VOL create --store ftp://x v
}
run_tests "$@"
