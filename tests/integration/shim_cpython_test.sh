#!/usr/bin/env bash
# An upstream test suite nobody here wrote, on a mount: the file-system parts
# of CPython's own test suite (Debian's libpython3.11-testsuite), run once with
# its working directory and temporary files on a local directory and once on a
# mount under `vol run`. Every test case must end the same way (ok, skipped,
# FAIL, ERROR) in both runs, except the cases documented below.
source "$(dirname "$0")/lib.sh"
# It measures the shim, not the store: it runs once, in the file:// pass.
if [[ "${VOL_STORE_BASE:-}" == s3://* ]]; then
  echo "SKIP $(basename "$0") (runs in the file:// pass)"
  exit 0
fi

PYTHON=/usr/bin/python3.11
MODULES=(test_os test_shutil test_pathlib test_tempfile test_glob test_fileinput test_posixpath
         test_genericpath test_stat test_filecmp test_fnmatch test_zipfile test_tarfile test_mmap
         test_fileio test_file test_py_compile test_zipimport test_dbm_dumb test_mailbox
         test_linecache test_importlib)

# Test cases that end differently on a mount, by design:
# - CPython decides whether xattrs work by setting a trusted.* one: vol
#   publishes user.* xattrs only and refuses the others (ENOTSUP), so these
#   skip (as they do on local disk for a user who is not root).
EXPECTED_DIFFERENT='test_(copy2_xattr|copyxattr|copyxattr_symlinks) \(test\.test_shutil\.'

# One line per test case: "name (id) ... ok|skipped|FAIL|ERROR|expected failure"
# (a case that prints its own progress ends with "OK.").
results() {
  grep -E '^test\S* \(.*\) \.\.\. ' "$1" |
    sed -E -e 's/^(test\S* \([^)]*\)) \.\.\. .* OK\.$/\1 ... ok/' \
           -e 's/ \.\.\. (skipped|ok|FAIL|ERROR|expected failure|unexpected success).*/ ... \1/' | sort
}

test_cpython_file_system_suites_match_local_disk() {
  "$VOL" --help 2>&1 | grep -qE '^ +run ' || skip "this vol has no 'run' command"
  [[ -d /usr/lib/python3.11/test/libregrtest ]] || skip "needs Debian's libpython3.11-testsuite (scripts/install-deps test)"
  mkdir -p "$T/local"
  (cd "$T/local" && TMPDIR=$T/local "$PYTHON" -m test -v "${MODULES[@]}") > "$T/local.log" 2>&1 || true
  "$VOL" create py >/dev/null
  # The suite's output to its own log: vol's messages (a FIFO the suite made
  # is "not published") must not land in the middle of a result line.
  VOL_CACHE_DIR=$T/cache LOG=$T/mount.log "$VOL" run -v py:/mnt/py -- bash -c \
    'mkdir -p /mnt/py/tmp && cd /mnt/py/tmp && TMPDIR=/mnt/py/tmp "$0" -m test -v "$@" > "$LOG" 2>&1' \
    "$PYTHON" "${MODULES[@]}" > "$T/vol.log" 2>&1 || true
  results "$T/local.log" > "$T/local.res"
  results "$T/mount.log" > "$T/mount.res"
  local n
  n=$(wc -l < "$T/local.res")
  [[ $n -gt 2000 ]] || fail "only $n test cases ran on local disk:
$(tail -20 "$T/local.log")"
  local count
  for r in ok skipped FAIL ERROR; do
    count+="$r: $(grep -c " \.\.\. $r\$" "$T/local.res" || true) local, $(grep -c " \.\.\. $r\$" "$T/mount.res" || true) mount; "
  done
  echo "NOTE: CPython ${MODULES[*]}: $count"
  local diffs
  diffs=$(diff "$T/local.res" "$T/mount.res" | grep '^[<>]' | grep -vE "^[<>] $EXPECTED_DIFFERENT") || true
  if [[ -n "$diffs" ]]; then
    fail "test cases that end differently on a mount (< local, > mount):
$diffs
$(grep -B2 -A20 -E '^(FAIL|ERROR):' "$T/mount.log" | head -80)
vol run said: $(tail -5 "$T/vol.log")"
  fi
  grep -q "== Tests result: SUCCESS ==" "$T/mount.log" || fail "the suite did not pass on the mount:
$(tail -30 "$T/mount.log")
vol run said: $(tail -5 "$T/vol.log")"
}

run_tests "$@"
