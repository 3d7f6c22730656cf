#!/usr/bin/env bash
# Listed directories (include/vol/session.h, listings): a large directory is
# listed and stat'ed from its listing without being populated. Every test
# compares what programs see of a listed directory with what they see once it
# is populated (the same inodes, so every field must agree) and with a local
# copy of the same files, and checks on disk that the listing, not a
# population, answered.
source "$(dirname "$0")/lib.sh"
HERE=$ROOT/tests/integration/shim
N=4200  # entries of the listed directory (at least VOL_LISTING_MIN_ENTRIES)

# A volume 'data' with /big: N files of 16 contents (few objects to upload),
# varied sizes, modes and mtimes, also kept locally in $T/src/big.
make_big() {
  python3 - "$T/src/big" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
blobs = [os.urandom(311 * k + 1) for k in range(16)]
for i in range(n):
    f = os.path.join(d, "f%04d" % i)
    with open(f, "wb") as out:
        out.write(blobs[i % 16])
    os.chmod(f, (0o644, 0o755, 0o600, 0o444)[i % 4])
    t = 1600000000 + i * 61
    os.utime(f, (t, t))
PY
  "$VOL" create data >/dev/null
  "$VOL" put data "$T/src/big/" /big/ >/dev/null
}

# in_session SCRIPT: runs bash SCRIPT in a session on 'data' at /mnt/data
# ($VIEW: how many entries the view directory of /big holds on disk).
in_session() {
  VOL_CACHE_DIR=$T/cache "$VOL" run -v data:/mnt/data -- bash -c '
    on_disk() { find "$VOL_SESSION"/views/*/big -mindepth 1 | wc -l; }
    '"$1"
}

STAT_FMT='%n %s %a %h %Y %Z %i %b %u %g %F'

test_a_listed_directory_shows_what_a_populated_one_shows() {
  make_big
  in_session '
    cd /mnt/data/big
    look() {  # what ls -l, stat and os.scandir show, into $T/{ls,stat,py}.$1
      ls -l --time-style=full-iso > "$T/ls.$1"
      stat -c "'"$STAT_FMT"'" * > "$T/stat.$1"
      python3 -c "import os
for e in sorted(os.scandir(\".\"), key=lambda e: e.name):
    s = e.stat(follow_symlinks=False)
    print(e.name, e.is_file(), e.inode() == s.st_ino, s.st_size, oct(s.st_mode), s.st_mtime_ns, s.st_nlink)" > "$T/py.$1"
    }
    look listed
    [ -e nope ] || echo "nope: absent"
    echo "on disk while listed: $(on_disk)"
    : < f0007  # opening a file populates the directory (and fetches nothing)
    echo "on disk once opened: $(on_disk)"
    look populated
  ' > "$T/out" 2>&1 || fail "the session failed: $(cat "$T/out")"
  assert_eq "nope: absent" "$(sed -n 1p "$T/out")" "a name the directory does not hold"
  assert_eq "on disk while listed: 0" "$(sed -n 2p "$T/out")" "the listing answered, nothing was populated"
  assert_eq "on disk once opened: $N" "$(sed -n 3p "$T/out")" "opening a file populated the directory"
  assert_eq "$((N + 1))" "$(wc -l < "$T/ls.listed")" "ls -l lines"
  assert_file_eq "$T/ls.populated" "$T/ls.listed" "ls -l, listed and populated"
  assert_file_eq "$T/stat.populated" "$T/stat.listed" "stat of every entry (inode, blocks, ctime too)"
  assert_file_eq "$T/py.populated" "$T/py.listed" "os.scandir"
  # Against the local copy: names, sizes, modes, mtimes, one link.
  (cd "$T/src/big" && stat -c '%n %s %a %h %Y %F' *) > "$T/stat.local"
  cut -d' ' -f1-5,11- "$T/stat.listed" > "$T/stat.listed.cut"
  assert_file_eq "$T/stat.local" "$T/stat.listed.cut" "stat, listed against a local copy"
}

test_stream_positions_in_a_listed_directory() {
  make_big
  gcc -O1 -Wno-deprecated-declarations -o "$T/listed_dir" "$HERE/listed_dir.c"
  "$T/listed_dir" "$T/src/big" > "$T/local" || { cat "$T/local"; fail "on the local copy"; }
  in_session '"$T/listed_dir" /mnt/data/big > "$T/listed"; echo "rc $? on disk $(on_disk)"' > "$T/out" 2>&1
  assert_eq "rc 0 on disk 0" "$(cat "$T/out")" "telldir/seekdir/rewinddir/readdir_r on the listing"
  assert_file_eq "$T/local" "$T/listed" "the names read, . and .. included"
}

test_a_rewind_after_population_shows_the_directory_as_it_is() {
  make_big
  gcc -O1 -o "$T/listed_dir" "$HERE/listed_dir.c"
  # Creating a file populates the directory; rewinddir then reads it as it is.
  in_session '"$T/listed_dir" /mnt/data/big new' > "$T/out" 2>&1 || fail "the session failed: $(cat "$T/out")"
  assert_eq "$((N + 2)) $((N + 3))" "$(cat "$T/out")" "entries before, and after rewinddir"
  assert_eq "$((N + 1))" "$("$VOL" ls data /big | wc -l)" "the new file is committed beside the others"
}

test_a_rewind_after_a_reload_reads_the_new_tree() {
  make_big
  gcc -O1 -o "$T/listed_dir" "$HERE/listed_dir.c" -ldl
  echo extra > "$T/extra"
  # The stream's listing is retired by the reload; the directory, never
  # populated, is empty on disk: rewinddir must not read that.
  in_session '"$T/listed_dir" /mnt/data/big reload "'"$VOL"' put data $T/extra /big/extra > /dev/null"' \
    > "$T/out" 2>&1 || fail "the session failed: $(cat "$T/out")"
  assert_eq "$((N + 2)) $((N + 3))" "$(cat "$T/out")" "entries before the reload, and after it and rewinddir"
}

test_a_content_file_gone_after_listing_is_made_again() {
  make_big
  in_session '
    ls -l /mnt/data/big > /dev/null
    rm -rf "$VOL_CACHE_DIR"/files/*  # as an eviction would (no view links them)
    stat -c %s /mnt/data/big/f0123
    sha256sum < /mnt/data/big/f0123
    echo "on disk $(on_disk)"' > "$T/out" 2>&1 || fail "the session failed: $(cat "$T/out")"
  assert_eq "$(stat -c %s "$T/src/big/f0123")" "$(sed -n 1p "$T/out")" "size"
  assert_eq "$(sha256sum < "$T/src/big/f0123")" "$(sed -n 2p "$T/out")" "content"
  assert_eq "on disk $N" "$(sed -n 3p "$T/out")" "populated instead"
}

test_a_reload_retires_listings() {
  make_big
  head -c 77777 /dev/urandom > "$T/changed"
  # The session lists /big, another client replaces a file in it, the
  # session reloads: the listing made before must not answer any more.
  in_session '
    ls /mnt/data/big > /dev/null  # lists it (a stat of f0042 alone would populate it on the way)
    stat -c %s /mnt/data/big/f0042
    echo "on disk $(on_disk)"
    "'"$VOL"'" put --force data "$T/changed" /big/f0042 > /dev/null
    python3 -c "import ctypes; assert ctypes.CDLL(None).vol_reload(None) == 0"
    stat -c %s /mnt/data/big/f0042
    sha256sum < /mnt/data/big/f0042' > "$T/out" 2>&1 || fail "the session failed: $(cat "$T/out")"
  assert_eq "$(stat -c %s "$T/src/big/f0042")" "$(sed -n 1p "$T/out")" "size before the reload"
  assert_eq "on disk 0" "$(sed -n 2p "$T/out")" "listed, not populated, before the reload"
  assert_eq "77777" "$(sed -n 3p "$T/out")" "size after the reload"
  assert_eq "$(sha256sum < "$T/changed")" "$(sed -n 4p "$T/out")" "content after the reload"
}

# Random sequences of calls (listing_trial.py), each on its own copy of /big,
# in a session and on a local copy: every result the same. VOL_LISTING_TRIALS
# sequences (default 4).
test_random_calls_on_a_listed_directory_match_local_disk() {
  make_big
  local trials=${VOL_LISTING_TRIALS:-4} k
  for ((k = 1; k <= trials; k++)); do
    "$VOL" cp -r data /big "/big$k" >/dev/null
    cp -a "$T/src/big" "$T/model$k"
    python3 "$HERE/listing_trial.py" "$T/model$k" "$k" > "$T/want$k" 2>&1 || fail "trial $k on local disk: $(tail -3 "$T/want$k")"
    in_session 'python3 '"$HERE"'/listing_trial.py /mnt/data/big'"$k $k"' > "$T/got'"$k"'" 2>&1' \
      || fail "trial $k in the session: $(tail -3 "$T/got$k")"
    assert_file_eq "$T/want$k" "$T/got$k" "trial $k: every call's result (diff $T/want$k $T/got$k)"
  done
  echo "NOTE: $trials random sequences of 400 calls on a listed directory: the same results as on local disk"
}

test_a_small_directory_is_populated_not_listed() {
  "$VOL" create data >/dev/null
  mkdir -p "$T/src/big"
  echo a > "$T/src/big/a"
  echo b > "$T/src/big/b"
  "$VOL" put data "$T/src/big/" /big/ >/dev/null
  in_session 'ls /mnt/data/big > /dev/null; echo "on disk $(on_disk); listings $(ls "$VOL_SESSION"/listings | wc -l)"' > "$T/out" 2>&1
  assert_eq "on disk 2; listings 0" "$(cat "$T/out")" "a 2-entry directory"
}

run_tests "$@"
