#!/usr/bin/env bash
# Runs unmodified programs under libvolshim.so against a session made by hand
# (a `mounts` file pointing a mount path at a view directory, no presence
# table: every file is complete, no fetcher) and compares what they print with
# the same command on an identical local tree, the tree's root replaced by '@'.
# Also checks that every write under a read-only mount fails with EROFS and
# leaves the view untouched. One PASS/FAIL line per check (tests/integration/run
# counts them); the checks share one tree, so they are not lib.sh test functions.
set -uo pipefail
# These checks use no store: they run once, in the file:// pass.
if [[ "${VOL_STORE_BASE:-}" == s3://* ]]; then
  echo "SKIP $(basename "$0") (uses no store; runs in the file:// pass)"
  exit 0
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHIM=${VOL_SHIM_LIB:-$ROOT/build/libvolshim.so}
HERE=$ROOT/tests/integration/shim
[ -f "$SHIM" ] || { echo "shim_test: $SHIM is missing; run make first" >&2; exit 1; }

T=$(mktemp -d /tmp/vol-shim-test.XXXXXX)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
LOCAL=$T/lcl/volume       # ground truth (as long as MNT: symlink sizes compare)
SESSION=$T/session
VIEW=$SESSION/views/v     # what the fetcher would materialise
MNT=$T/mnt/volume         # the mount path: it does not exist on the host
passed=0 failed=0

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | head -40 | sed 's/^/     /'; }

# --- the tree -------------------------------------------------------------------
mk_tree() {
  local d=$1
  mkdir -p "$d"/dir/sub/deeper "$d"/empty "$d"/lib "$d"/bin "$d"/py/volpkg "$d/with space"
  echo hello > "$d"/a.txt
  seq 1 20000 > "$d"/dir/nums
  echo deep > "$d"/dir/sub/deep.txt
  echo deeper > "$d"/dir/sub/deeper/x.txt
  : > "$d"/dir/empty.txt
  echo hidden > "$d"/.hidden
  echo spaced > "$d/with space/file name.txt"
  head -c 3000000 /dev/urandom > "$d"/big.bin
  ln -s ../a.txt "$d"/dir/rel
  ln -s dir/sub "$d"/subdir-link
  printf '#!/bin/sh\necho script says "$1"\n' > "$d"/bin/script.sh
  chmod 755 "$d"/bin/script.sh
  chmod 640 "$d"/dir/nums
  printf 'VALUE = 7\n' > "$d"/py/volpkg/mod.py
  git init -q "$d"/repo && echo one > "$d"/repo/file &&
    git -C "$d"/repo add file && git -C "$d"/repo -c user.name=t -c user.email=t@t commit -qm first &&
    echo two >> "$d"/repo/file
  mkdir -p "$d"/node && printf 'module.exports = { v: require("./dep.js") + 1 };\n' > "$d"/node/m.js
  printf 'module.exports = 41;\n' > "$d"/node/dep.js
  : > "$d"/py/volpkg/__init__.py
  gcc -O1 -o "$d"/bin/hello "$HERE"/hello.c
  gcc -O1 -shared -fPIC -o "$d"/lib/libplug.so "$HERE"/plug.c
  sqlite3 "$d"/db.sqlite 'create table t(x integer, s text);
    with recursive c(i) as (select 1 union all select i+1 from c where i<5000) insert into t select i, hex(randomblob(8)) from c;'
  touch "$d"/dir/old.txt "$d"/ref
  find "$d" -exec touch -h -d '2022-02-02 02:02:02' {} +
  touch -d '2020-01-02 03:04:05' "$d"/dir/old.txt
  touch -d '2021-01-01 00:00:00' "$d"/ref
}
mk_tree "$LOCAL"
mkdir -p "$SESSION/views" "$T/mnt" "$T/out"
cp -a "$LOCAL" "$VIEW"
# Absolute symlinks into the volume are stored in the view rewritten to the view.
ln -s "$LOCAL/dir/nums" "$LOCAL/abs-link"
ln -s "$VIEW/dir/nums" "$VIEW/abs-link"
touch -h -r "$LOCAL/ref" "$LOCAL/abs-link" "$VIEW/abs-link"
touch -d '2022-02-02 02:02:02' "$LOCAL" "$VIEW"
printf '%s\t%s\tro\n' "$MNT" "$VIEW" > "$SESSION/mounts"
cc_ok=1
g++ -O1 -o "$T/prog" "$HERE"/prog.cc -ldl || cc_ok=0
gcc -O1 -o "$T/closeall" "$HERE"/closeall.c || cc_ok=0
gcc -O1 -o "$T/walk" "$HERE"/walk.c || cc_ok=0

shim() { VOL_SESSION=$SESSION LD_PRELOAD=$SHIM "$@"; }

# check NAME CMD: CMD is a bash snippet using @ for the tree's root. It runs
# natively on the local tree and under the shim on the mount; outputs must match.
check() {
  local name=$1 cmd=$2
  local want got
  want=$(cd "$T/out" && bash -c "${cmd//@/$LOCAL}" 2>&1 | sed "s#$LOCAL#@#g")
  got=$(cd "$T/out" && shim bash -c "${cmd//@/$MNT}" 2>&1 | sed "s#$MNT#@#g")
  if [ "$want" == "$got" ]; then
    if [ -z "$want" ]; then fail "$name" "no output at all"; else pass "$name"; fi
  else
    fail "$name" "$(diff <(echo "$want") <(echo "$got"))"
  fi
}

# --- coreutils and friends ----------------------------------------------------------
check "ls -la"            'ls -la --time-style=full-iso @ @/dir | grep -v " \.\.$"'
check "ls -R"             'ls -R @'
check "ls -laR"           'ls -laR --time-style=+%s @ | grep -v " \.\.$"'
check "stat"              'cd @ && find . | sort | xargs -d "\n" stat -c "%n %s %a %F %Y %h"'
check "stat symlink size" 'stat -c "%n %s %N" @/abs-link @/dir/rel'
check "find -type"        'find @ -type f | sort; find @ -type d | sort; find @ -type l | sort'
check "find -newer"       'find @ -newer @/ref | sort'
check "find -size"        'find @ -size +10k | sort; find @ -size -1 -type f | sort'
check "du -ab"            'du -ab @ | sort -k2'
check "cat"               'cat @/a.txt @/dir/rel @/with\ space/file\ name.txt @/dir/sub/deep.txt'
check "head -c"           'head -c 100 @/big.bin | od -An -tx1 | head -3; head -c 5 @/dir/nums'
check "tail -c"           'tail -c 100 @/big.bin | od -An -tx1 | head -3; tail -c 12 @/dir/nums'
check "wc"                'cd @ && wc dir/nums a.txt big.bin'
check "sha256sum"         'cd @ && find . -type f | sort | xargs -d "\n" sha256sum'
check "sha256sum stdin"   'sha256sum < @/big.bin'
check "cp -r out"         'rm -rf cpout && cp -r @ cpout && (diff -r --no-dereference cpout '"$LOCAL"' | grep -v "Symbolic links .*abs-link"); readlink cpout/abs-link; rm -rf cpout'
check "cp -a out"         'rm -rf cpout && cp -a @/dir cpout && ls -la --time-style=+%s cpout | grep -v " \.\.$" && rm -rf cpout'
check "tar -c"            'tar -c --sort=name --owner=0 --group=0 -C @ --exclude=./abs-link . | sha256sum; tar -c -C @ abs-link | tar -tvf -'
check "tar -tv"           'tar -cf - -C @ dir | tar -tvf - | sort'
check "grep -r"           'grep -rn "^1999" @ | sort; grep -rl deep @ | sort'
check "readlink"          'readlink @/abs-link @/dir/rel; readlink -f @/dir/rel @/abs-link @/subdir-link/../a.txt'
check "realpath"          'realpath @/dir/../a.txt @/subdir-link @/abs-link'
check "symlinks followed" 'cat @/subdir-link/deep.txt; wc -l < @/abs-link'
check "git"               'git -C @/repo log --format=%s; git -C @/repo show HEAD:file; git -C @/repo diff --stat; git -C @/repo ls-files'
check "sqlite3"           'sqlite3 @/db.sqlite "select count(*), sum(x), min(s) < max(s) from t"'
check "sqlite3 -readonly" 'sqlite3 -readonly @/db.sqlite "select x, length(s) from t where x % 1000 = 0"'
check "script on volume"  '@/bin/script.sh arg'
check "binary on volume"  '@/bin/hello @; echo "exit $?"'
check "PATH on volume"    'PATH=@/bin:$PATH hello @; PATH=@/bin:$PATH script.sh x'

# diff -r of the mount against the local tree, run under the shim.
out=$(shim diff -r "$MNT" "$LOCAL" 2>&1)
out=$(printf '%s\n' "$out" | grep -v abs-link)  # their targets differ by design
[ -z "$out" ] && pass "diff -r mount vs local" || fail "diff -r mount vs local" "$out"

# --- bash -------------------------------------------------------------------------
check "bash cd ls ../"    'cd @/dir/sub && pwd && ls ../ && ls ../../dir/sub && cd .. && pwd'
check "bash glob"         'echo @/*/n* @/dir/*/*.txt @/.h*'
check "bash < redirect"   'wc -l < @/dir/nums; read -r line < @/a.txt; echo "$line"'
check "bash exec 3<"      'exec 3< @/dir/nums; head -c 20 <&3 | tail -1; cat <&3 | wc -c; bash -c "cat <&3 | wc -c"'
check "bash exec 3< child" 'exec 3< @/big.bin; bash -c "sha256sum <&3"'
check "cwd above the mount" 'cd @/.. && cat volume/a.txt && ls volume/dir && python3 -c "import os; print(os.path.getsize(\"volume/dir/nums\"))"'
check "bash cd pwd -P"    'cd @/subdir-link && pwd && pwd -P && /bin/pwd'
# ".." out of the mount lands on the host: the mount's parent is $T/mnt, which
# lists the mount as the parent of a bind mount would.
want=$(mkdir "$T/bind" && cp -a "$T/mnt/." "$T/bind/" && mkdir "$T/bind/volume" && ls -a "$T/bind"; rm -rf "$T/bind")
got=$(shim bash -c "cd $MNT/dir && ls -a ../.." 2>&1)
[ "$want" == "$got" ] && pass "cd mount/dir; ls ../.. lists the host and the mount" || fail "cd mount/dir; ls ../.. lists the host and the mount" "want: $want got: $got"
# A sibling name that only shares a prefix with the mount is not the mount.
got=$(shim ls "${MNT}x" 2>&1)
case $got in *"No such file"*) pass "prefix-only sibling is not the mount" ;; *) fail "prefix-only sibling is not the mount" "$got" ;; esac

# --- Python 3 ---------------------------------------------------------------------
mkdir -p "$T/out/py-local" "$T/out/py-mount"
want=$(python3 "$HERE/py_reads.py" "$LOCAL" "$T/out/py-local" 2>&1 | sed "s#$LOCAL#@#g")
got=$(shim python3 "$HERE/py_reads.py" "$MNT" "$T/out/py-mount" 2>&1 | sed "s#$MNT#@#g")
if [ "$want" == "$got" ]; then pass "python3 reads"; else fail "python3 reads" "$(diff <(echo "$want") <(echo "$got"))"; fi

# --- Node.js (libuv makes some calls through syscall()) ------------------------------
if command -v node >/dev/null; then
  check "node fs and require" 'node -e "
const fs = require(\"fs\"), crypto = require(\"crypto\");
const h = b => crypto.createHash(\"sha256\").update(b).digest(\"hex\");
console.log(fs.readdirSync(\"@\").sort().join(\" \"), fs.statSync(\"@/dir/nums\").size, fs.lstatSync(\"@/dir/rel\").isSymbolicLink());
console.log(h(fs.readFileSync(\"@/big.bin\")), fs.realpathSync(\"@/subdir-link\"), fs.existsSync(\"@/nope\"));
fs.promises.readFile(\"@/dir/nums\").then(b => console.log(\"async\", h(b)));
fs.copyFileSync(\"@/a.txt\", \"node-copy\"); console.log(fs.readFileSync(\"node-copy\", \"utf8\").trim());
"; rm -f node-copy'
  check "node require from the tree" 'cd / && NODE_PATH=@/py node -e "console.log(require(\"@/node/m.js\").v)"'
fi

# --- C and C++ --------------------------------------------------------------------
if [ $cc_ok = 1 ]; then
  check "C/C++ fread ifstream dlopen exec" "$T/prog @"
  check "glob(3) and nftw(3)"              "$T/walk @ | sort"
  check "close_range then read"            "$T/closeall @/dir/nums @/big.bin"
else
  fail "C/C++ programs" "could not compile the test programs"
fi

# --- writes under a read-only mount fail with EROFS, and change nothing -------------
before=$(cd "$VIEW" && find . -printf '%p %s %m %T@\n' | sort)
erofs() {
  local name=$1; shift
  local out
  out=$(shim "$@" 2>&1)
  if [ $? -ne 0 ] && [[ $out == *"Read-only file system"* || $out == *"readonly database"* ]]; then pass "EROFS: $name"
  else fail "EROFS: $name" "exit and output: $out"; fi
}
erofs "touch new"     touch "$MNT/new"
erofs "touch existing" touch "$MNT/a.txt"
erofs "mkdir"         mkdir "$MNT/newdir"
erofs "rm"            rm "$MNT/a.txt"
erofs "rm -r"         rm -r "$MNT/dir/sub"
erofs "rmdir"         rmdir "$MNT/empty"
erofs "mv within"     mv "$MNT/a.txt" "$MNT/b.txt"
erofs "mv out"        mv "$MNT/a.txt" "$T/out/a.txt"
erofs "> redirect"    bash -c "echo x > $MNT/a.txt"
erofs ">> append"     bash -c "echo x >> $MNT/a.txt"
erofs "cp into"       cp "$LOCAL/a.txt" "$MNT/dir/"
erofs "chmod"         chmod 600 "$MNT/a.txt"
erofs "ln -s"         ln -s a.txt "$MNT/l"
erofs "ln"            ln "$MNT/a.txt" "$MNT/hard"
erofs "truncate"      truncate -s 0 "$MNT/a.txt"
erofs "sqlite3 write" sqlite3 "$MNT/db.sqlite" "insert into t values (1, 'x')"
erofs "python open w" python3 -c "open('$MNT/a.txt', 'w')"
erofs "python fchmod" python3 -c "import os; os.fchmod(os.open('$MNT/a.txt', os.O_RDONLY), 0o600)"
erofs "mktemp -p"     mktemp -p "$MNT"
erofs "python mkstemp" python3 -c "import ctypes, os; b = ctypes.create_string_buffer(b'$MNT/tXXXXXX'); fd = ctypes.CDLL(None, use_errno=True).mkstemp(b); fd < 0 or exit(0); raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))"
erofs "tar -x into"   tar -xf <(tar -cf - -C "$LOCAL" a.txt) -C "$MNT/dir"
after=$(cd "$VIEW" && find . -printf '%p %s %m %T@\n' | sort)
[ "$before" == "$after" ] && pass "view unchanged by refused writes" || fail "view unchanged by refused writes" "$(diff <(echo "$before") <(echo "$after"))"
got=$(shim python3 -c "import os; print(os.access('$MNT/a.txt', os.W_OK), os.access('$MNT/a.txt', os.R_OK))")
[ "$got" == "False True" ] && pass "access(W_OK) is false on a read-only mount" || fail "access(W_OK) is false on a read-only mount" "$got"

# --- a script whose #! interpreter is on the mount (a venv made on a volume) --------
S2=$T/session2 MNT2=$T/mnt/venv-volume
mkdir -p "$S2/view/venv/bin"
cp /bin/bash "$S2/view/venv/bin/mysh"
printf '#!%s/venv/bin/mysh -e\necho "ran $0 $1"\n' "$MNT2" > "$S2/view/venv/bin/tool"
chmod +x "$S2/view/venv/bin/tool"
printf '%s\t%s\tro\n' "$MNT2" "$S2/view" > "$S2/mounts"
got=$(VOL_SESSION=$S2 LD_PRELOAD=$SHIM bash -c "$MNT2/venv/bin/tool a; PATH=$MNT2/venv/bin:\$PATH tool b;
  python3 -c 'import subprocess, sys; subprocess.run([sys.argv[1], \"c\"])' $MNT2/venv/bin/tool
  python3 -c 'import os, sys; os.waitpid(os.posix_spawn(sys.argv[1], [sys.argv[1], \"d\"], os.environ), 0)' $MNT2/venv/bin/tool" 2>&1)
want="ran $MNT2/venv/bin/tool a
ran $MNT2/venv/bin/tool b
ran $MNT2/venv/bin/tool c
ran $MNT2/venv/bin/tool d"
[ "$got" == "$want" ] && pass "#! interpreter on the mount" || fail "#! interpreter on the mount" "$got"

# --- the session's environment survives a program that strips it ------------------
got=$(shim env -u LD_PRELOAD -u VOL_SESSION -u VOL_SHIM cat "$MNT/a.txt" 2>&1)
[ "$got" == hello ] && pass "stripped LD_PRELOAD is put back" || fail "stripped LD_PRELOAD is put back" "$got"
got=$(shim env -i /bin/cat "$MNT/dir/sub/deep.txt" 2>&1)
[ "$got" == deep ] && pass "env -i child still sees the mount" || fail "env -i child still sees the mount" "$got"

# --- outside a session the shim is inert --------------------------------------------
got=$(LD_PRELOAD=$SHIM cat "$LOCAL/a.txt" 2>&1; LD_PRELOAD=$SHIM ls "$MNT" 2>&1)
case $got in "hello"*"No such file"*) pass "no session: pass-through" ;; *) fail "no session: pass-through" "$got" ;; esac
# PATH searches (execvp, env, posix_spawnp) with the shim loaded but no session.
got=$(LD_PRELOAD=$SHIM env cat "$LOCAL/a.txt" 2>&1; LD_PRELOAD=$SHIM python3 -c 'import subprocess; print(subprocess.run(["cat", "'"$LOCAL"'/a.txt"], capture_output=True, text=True).stdout.strip())' 2>&1)
[ "$got" == "hello
hello" ] && pass "no session: exec by PATH" || fail "no session: exec by PATH" "$got"

echo "shim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
