# Shared helpers for the bash integration tests. A test file sources this,
# defines functions named test_*, and ends with `run_tests "$@"`.
#
# Invariants: every test function runs in its own subshell with `set -e`, in a
# fresh temporary directory ($T, also the cwd and $HOME) removed when it ends,
# against a fresh store ($VOL_STORE: file://$T/store, or a unique prefix under
# the s3:// URL the runner passed in $VOL_STORE). A test passes when its
# function returns 0, is skipped when it calls `skip REASON` (exit 77), and
# fails otherwise; the assertion helpers print expected vs actual and exit 1.
# Each function prints one line: PASS name, FAIL name (with its log), or
# SKIP name (reason); a passing test's lines that start "NOTE: " follow it. The runner counts those lines.

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/../.." && pwd)
VOL=${VOL:-$ROOT/build/vol}
# The store the runner asked for; each test gets its own under it.
VOL_STORE_BASE=${VOL_STORE_BASE:-${VOL_STORE:-}}
SKIP_RC=77

# --- assertions -------------------------------------------------------------

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

skip() {
  echo "SKIP-REASON: $*" >&2
  exit $SKIP_RC
}

# True when the tests run against an s3:// store (file-store-only tests skip).
on_s3() { [[ "$VOL_STORE" == s3://* ]]; }
# The directory of a file:// store; skips the test on other stores.
file_store_dir() {
  on_s3 && skip "needs a file:// store (VOL_STORE=$VOL_STORE)"
  echo "${VOL_STORE#file://}"
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
  if [[ "$1" != "$2" ]]; then
    {
      echo "assert_eq failed${3:+: $3}"
      echo "  expected: $(printf '%q' "$1")"
      echo "  actual:   $(printf '%q' "$2")"
    } >&2
    exit 1
  fi
}

# assert_match REGEX ACTUAL [WHAT]  (grep -E)
assert_match() {
  if ! grep -Eq -- "$1" <<<"$2"; then
    {
      echo "assert_match failed${3:+: $3}"
      echo "  pattern: $1"
      echo "  actual:  $2"
    } >&2
    exit 1
  fi
}

# assert_file_eq EXPECTED_FILE ACTUAL_FILE: same bytes.
assert_file_eq() {
  [[ -e "$1" ]] || fail "assert_file_eq: expected file $1 does not exist"
  [[ -e "$2" ]] || fail "assert_file_eq: actual file $2 does not exist"
  if ! cmp -s -- "$1" "$2"; then
    {
      echo "assert_file_eq failed: $1 and $2 differ"
      echo "  expected: $(stat -c %s -- "$1") bytes, sha256 $(sha256sum <"$1" | cut -c1-16)"
      echo "  actual:   $(stat -c %s -- "$2") bytes, sha256 $(sha256sum <"$2" | cut -c1-16)"
      cmp -- "$1" "$2" 2>&1 | head -3 | sed 's/^/  /'
    } >&2
    exit 1
  fi
}

# assert_fails_with PATTERN CMD...: CMD exits non-zero and prints exactly one
# line on stderr, which matches PATTERN (grep -E). The line is left in $ERR.
assert_fails_with() {
  local pattern=$1 rc=0
  shift
  "$@" >"$T/.out" 2>"$T/.err" || rc=$?
  ERR=$(cat "$T/.err")
  local lines
  lines=$(grep -c '' "$T/.err" || true)
  if [[ $rc -eq 0 ]]; then
    fail "expected failure but it succeeded: $*
  stdout: $(head -c 500 "$T/.out")
  stderr: $ERR"
  fi
  if [[ "$lines" != 1 ]]; then
    fail "expected one line on stderr from: $* (exit $rc), got $lines:
$ERR"
  fi
  if ! grep -Eq -- "$pattern" "$T/.err"; then
    fail "error message does not match
  command: $*
  pattern: $pattern
  stderr:  $ERR"
  fi
}

# assert_ok CMD...: runs CMD; on failure shows its stderr.
assert_ok() {
  local rc=0
  "$@" >"$T/.out" 2>"$T/.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "command failed (exit $rc): $*
  stderr: $(cat "$T/.err")"
  cat "$T/.out"
}

# A listing of the tree under $1 that shows what diff -r does not: type, mode,
# mtime (ns), size (files and symlinks) and symlink target. The root itself is
# left out (its name and mtime are the caller's).
tree_listing() {
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%P|%y|%m|%T@|-|\n' \) -o \
      -printf '%P|%y|%m|%T@|%s|%l\n' | LC_ALL=C sort)
}

# same_tree A B: same contents (diff -r, symlinks not followed) and same
# listing (type, mode, mtime, size, symlink target).
same_tree() {
  [[ -d "$1" ]] || fail "same_tree: $1 is not a directory"
  [[ -d "$2" ]] || fail "same_tree: $2 is not a directory"
  if ! diff -r --no-dereference -- "$1" "$2" >"$T/.diff" 2>&1; then
    fail "trees differ (diff -r $1 $2):
$(head -20 "$T/.diff")"
  fi
  if ! diff <(tree_listing "$1") <(tree_listing "$2") >"$T/.diff" 2>&1; then
    fail "tree metadata differs (< $1, > $2; path|type|mode|mtime|size|target):
$(head -20 "$T/.diff")"
  fi
}

# store_bytes: the bytes the test's store holds: du of a file:// store, or
# the total size of the objects under the s3:// prefix (aws s3 ls; skips the
# test when the AWS CLI is missing).
store_bytes() {
  if on_s3; then
    command -v aws >/dev/null || skip "measuring an s3:// store needs the AWS CLI"
    aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} s3 ls --recursive --summarize \
      "${VOL_STORE%/}/" | sed -n 's/^ *Total Size: *//p'
    return
  fi
  du -sb -- "${VOL_STORE#file://}" | cut -f1
}

# --- per-test set-up and the runner ----------------------------------------

_cleanup() {
  local rc=$?
  jobs -p | xargs -r kill 2>/dev/null || true
  wait 2>/dev/null || true
  cd /
  if [[ -n "${T:-}" && -d "$T" ]]; then
    # Tests may leave immutable or read-only files behind.
    chattr -R -i "$T" 2>/dev/null || true
    chmod -R u+rwX "$T" 2>/dev/null || true
    rm -rf -- "$T"
  fi
  return $rc
}

_setup() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/voltest.XXXXXX")
  trap _cleanup EXIT
  export T HOME=$T XDG_DATA_HOME=$T/.local/share
  unset VOL_ENV
  if [[ "$VOL_STORE_BASE" == s3://* ]]; then
    export VOL_STORE="${VOL_STORE_BASE%/}/t-$RANDOM$RANDOM"
  else
    export VOL_STORE="file://$T/store"
  fi
  cd "$T"
}

# run_tests [FILTER]: runs every test_* function (or those whose name holds
# FILTER) in this file, each in a subshell; exit 1 if any failed.
run_tests() {
  local filter=${1:-} name rc failed=0 log
  [[ -x "$VOL" ]] || { echo "FAIL $(basename "$0"): $VOL is not built (run make)"; exit 1; }
  for name in $(declare -F | awk '{print $3}' | grep '^test_'); do
    [[ -z "$filter" || "$name" == *"$filter"* ]] || continue
    log=$(mktemp "${TMPDIR:-/tmp}/voltest-log.XXXXXX")
    local start=$SECONDS
    (
      _setup
      set -e
      "$name"
    ) >"$log" 2>&1 </dev/null
    rc=$?
    local took=$((SECONDS - start))
    if [[ $rc -eq 0 ]]; then
      echo "PASS $name (${took}s)"
      sed -n 's/^NOTE: /    /p' "$log"  # what a passing test measured
    elif [[ $rc -eq $SKIP_RC ]]; then
      echo "SKIP $name ($(sed -n 's/^SKIP-REASON: //p' "$log" | tail -1))"
    else
      echo "FAIL $name (exit $rc, ${took}s)"
      tail -40 "$log" | sed 's/^/    /'
      failed=1
    fi
    rm -f "$log"
  done
  return $failed
}
