#!/usr/bin/env bash
# A mount behaves like local disk (issue 9): each case runs twice, natively on a
# local copy of the volume's tree and under `vol run` on a mount of the volume
# with an empty cache (every file cold), and both runs must print the same
# thing and exit the same way (paths shown as @ for the tree's root, @P for its
# parent, @G for the grandparent). The mount's parents do not exist on the
# host, so they are the shim's synthetic parents. Cases whose ground truth is
# not a local directory (a read-only mount, a dead fetcher, xattrs vol does not
# publish) assert what the docs promise.
source "$(dirname "$0")/lib.sh"
HERE=$ROOT/tests/integration/shim/compat

need_vol_run() {
  "$VOL" --help 2>&1 | grep -qE '^ +run ' || skip "this vol has no 'run' command"
}

# The volume's tree: small files, cold big ones, a library, a binary, a walk.
make_tree() {
  local d=$1
  mkdir -p "$d"/small "$d"/lib "$d"/bin "$d"/walk/a/b "$d"/walk/c "$d"/sock
  echo one > "$d"/small/f1
  echo two > "$d"/small/f2
  echo deep > "$d"/walk/a/b/x
  seq 1 30000 > "$d"/walk/a/nums
  head -c 100000 /dev/urandom > "$d"/walk/c/r.bin
  ln -s ../a/nums "$d"/walk/c/link
  local i
  for i in 1 2 3 4 5 6 7; do head -c $((3000000 + i)) /dev/urandom > "$d/cold$i.bin"; done
  head -c 12000000 /dev/urandom > "$d"/ckpt.bin
  gcc -O1 -shared -fPIC -o "$d"/lib/libplug.so "$ROOT"/tests/integration/shim/plug.c
  head -c 5000 /dev/urandom > "$d"/lib/libbad.so
  gcc -O1 -o "$d"/bin/hello "$ROOT"/tests/integration/shim/hello.c
  printf 'hello from the volume\n' > "$d"/a.txt
  find "$d" -exec touch -h -d '2023-03-03 03:03:03' {} +
}

# A volume 'data' holding the tree, the test programs, and the mount path: under
# two directories that do not exist on the host.
setup() {
  need_vol_run
  make_tree "$T/src"
  "$VOL" create data >/dev/null
  "$VOL" put data "$T/src/" / >/dev/null
  BIN=$T/bin
  mkdir -p "$BIN"
  gcc -O1 -Wno-deprecated-declarations -o "$BIN/compat" "$HERE/compat.c" -ldl
  g++ -O1 -o "$BIN/compat_fs" "$HERE/compat_fs.cc"
  export BIN PY=$HERE
  MNT=/vol-compat-$$-$RANDOM/parent/v
  LOCAL=$T/lcl/parent/v
  DIFFS=""
}

# compare NAME SNIPPET [MOUNT LOCAL]: SNIPPET is bash with @ for the tree's root.
compare() {
  local name=$1 snippet=$2 mnt=${3:-$MNT} lcl=${4:-$LOCAL} want got
  rm -rf "$lcl" "$T/wd"
  mkdir -p "${lcl%/*}" "$T/wd"
  cp -a "$T/src" "$lcl"
  want=$(cd "$T/wd" && bash -c "${snippet//@/$lcl}" 2>&1; echo "exit $?")
  rm -rf "$T/wd" "$T/cache" && mkdir -p "$T/wd"
  got=$(cd "$T/wd" && VOL_CACHE_DIR=$T/cache "$VOL" run --no-commit -v "data:$mnt" -- \
        bash -c "${snippet//@/$mnt}" 2>&1; echo "exit $?")
  want=$(shown "$want" "$lcl")
  got=$(shown "$got" "$mnt")
  if [[ "$want" == "$got" ]]; then
    echo "same: $name"
  else
    DIFFS+="$name "
    echo "DIFFERENT: $name (< local disk, > mount)"
    diff <(echo "$want") <(echo "$got") | head -30
  fi
}
shown() {  # TEXT ROOT: the root, its parent and grandparent as @, @P, @G
  local text=$1 root=$2
  text=${text//$root/@}
  text=${text//${root%/*}/@P}
  text=${text//${root%/*/*}/@G}
  echo "$text"
}
all_same() { [[ -z "$DIFFS" ]] || fail "differ from local disk: $DIFFS"; }

test_walks_and_dirfds_reach_the_mount_from_above() {
  setup
  mkdir -p "$T/rs/a/b" && echo hi > "$T/rs/a/b/f" && echo top > "$T/rs/t1"
  compare "O_PATH dirfd on /, then fstatat and openat" 'python3 $PY/dirfd_above.py @'
  compare "rsync -a into a mount" 'rsync -a $T/rs/ @/ds/ && rsync -a $T/rs/t1 @/single && cd @ && find ds single | sort && cat single ds/a/b/f'
  compare "rsync -a out of a mount (cold)" 'rsync -a @/walk/ out/ && find out | sort && sha256sum out/c/r.bin out/a/nums'
  compare "ls and cd through synthetic parents" 'ls @/.. @/../..; cd @/.. && ls && ls v/small && cd .. && ls parent && pwd && cd @P/. && pwd; ls -d @/.. @/../.'
  compare "find from above the mount" 'find @P | sort; find @P -name f1'
  compare "du from above the mount" 'du -a --apparent-size -b @P/v/walk | sort -k2'
  compare "glob from above the mount" 'echo @P/*/small/*; python3 -c "import glob,sys; print(sorted(glob.glob(sys.argv[1] + \"/*/walk/*\")))" @P'
  compare "a host symlink into the mount" 'ln -s @/small lnk && cat lnk/f1 && ls lnk && readlink -f lnk/f1 && python3 -c "import os; print(os.path.realpath(\"lnk/f2\"), open(\"lnk/f2\").read())"'
  compare "a relative path from above the mount" 'cd @/.. && cat v/small/f1 && cd .. && cat parent/v/small/f2 && ls parent/v/walk'
  # A mount whose parent exists on the host: its listing shows the mount too.
  mkdir -p "$T/hp" "$T/lhp" && echo s > "$T/hp/sibling" && cp "$T/hp/sibling" "$T/lhp/"
  compare "ls of a host parent lists the mount" 'ls @/..; ls -d @/../*; python3 -c "import os,sys; print(sorted(os.listdir(sys.argv[1])))" @/..' \
    "$T/hp/v" "$T/lhp/v"
  all_same
}

test_every_spelling_of_an_open_fd_reads_the_right_bytes() {
  setup
  compare "/proc/PID/fd, /proc/thread-self, /dev/stdin, /dev/fd, /proc/self/cwd, /proc/self/root" 'python3 $PY/spellings.py @'
  all_same
}

test_a_cold_file_keeps_its_bytes_for_whoever_holds_it_open() {
  setup
  local how
  for how in replace unlink child-replace child-unlink; do
    compare "reader of a cold file, $how" "python3 \$PY/reader.py @ $how"
  done
  all_same
}

test_libc_entry_points() {
  setup
  compare "remove(3)" '$BIN/compat remove @/small/f1 @/walk/a/b @/walk/a/b/x @/walk/a/b @/nope; ls @/small @/walk/a'
  compare "std::filesystem::remove, remove_all" '$BIN/compat_fs remove @/small/f2; $BIN/compat_fs remove @/small/f2; $BIN/compat_fs remove_all @/walk; ls @'
  compare "zstd --rm" 'zstd -q --rm @/small/f1 && ls @/small && zstd -dc @/small/f1.zst'
  compare "scandirat, also of a synthetic parent" '$BIN/compat scandirat @ small; $BIN/compat scandirat @/.. .'
  compare "lchmod" '$BIN/compat lchmod @/small/f1 600'
  compare "getwd, get_current_dir_name" '$BIN/compat getwd @/walk/a'
  compare "tempnam(dir)" '$BIN/compat tempnam @/small pre'
  compare "fts_open (chdir and FTS_NOCHDIR)" '$BIN/compat fts @/walk; $BIN/compat fts @/walk nochdir'
  compare "ftw, nftw with FTW_CHDIR (cold files read by base name)" '$BIN/compat ftw @/walk | sort; $BIN/compat nftw @/walk | sort'
  compare "ftw into a symlink to a cold directory outside the walk" 'ln -s ../../small @/walk/c/up && $BIN/compat ftw @/walk | sort'
  compare "name_to_handle_at" '$BIN/compat handle @/small/f1'
  compare "openat2 through syscall()" '$BIN/compat openat2 @/small/f1'
  compare "execveat through syscall()" '$BIN/compat execveat @/bin hello @'
  compare "bind and connect a Unix socket on a mount" 'python3 $PY/sock.py @'
  all_same
}

# The hot calls go through the shim's view fds (shim/viewfd.cc): they must
# print what local disk prints, whatever the program does to its fds.
test_stat_and_open_survive_what_a_program_does_to_its_fds() {
  setup
  gcc -O1 -pthread -o "$BIN/viewfd" "$HERE/viewfd.c"
  compare "stat, access and open after closing, replacing and inheriting fds" \
    'ln -s @/small/f1 @/abs && $BIN/viewfd @'
  all_same
}

# open(2) does not look at what it opened (that would cost an fstat per
# open): a directory opened without O_DIRECTORY is populated when it is first
# listed, stat'd or used as a dirfd.
test_directories_opened_without_o_directory_list_their_entries() {
  setup
  gcc -O1 -o "$BIN/dirfds" "$HERE/dirfds.c"
  compare "fdopendir, getdents64, openat, fchdir and fstat on plain-opened directories" '$BIN/dirfds @'
  compare "tar of the tree" 'tar -cf - -C @ walk lib | tar -tvf - | sort'
  compare "Python rmtree (os.open, then scandir of the fd)" \
    'python3 -c "import shutil, sys; shutil.rmtree(sys.argv[1])" @/walk && ls @'
  all_same
}

test_dlopen_by_bare_name_through_ld_library_path() {
  setup
  compare "a cold library by bare name" 'LD_LIBRARY_PATH=@/lib $BIN/compat dlopen libplug.so plug_value'
  compare "dlerror of a bad library by bare name" 'LD_LIBRARY_PATH=@/lib $BIN/compat dlopen libbad.so'
  compare "Python ctypes by bare name" 'LD_LIBRARY_PATH=@/lib python3 -c "import ctypes; print(ctypes.CDLL(\"libplug.so\").plug_value())"'
  all_same
  # The program vol run starts: its loader read LD_LIBRARY_PATH before the shim.
  local out
  out=$(LD_LIBRARY_PATH=$MNT/lib VOL_CACHE_DIR=$T/cache2 "$VOL" run --no-commit -v "data:$MNT" -- \
        "$BIN/compat" dlopen libplug.so plug_value 2>&1)
  assert_eq "dlopen: plug_value() = 42
dladdr: $MNT/lib/libplug.so" "$out" "dlopen in the program vol run starts"
}

test_linkat_of_an_o_tmpfile() {
  setup
  compare "O_TMPFILE linked by /proc/self/fd/N (AT_SYMLINK_FOLLOW)" '$BIN/compat tmpfile @/small anon && cat @/small/anon'
  all_same
}

test_a_4090_character_path() {
  setup
  # Components of 200 characters, then a file name that makes the path 4090
  # characters long (the view path of the mount's would be longer).
  compare "mkdir -p, write, read, stat, list, walk and remove at 4090 characters" '
p=@; while [ ${#p} -lt 3850 ]; do p=$p/$(printf "d%.0s" $(seq 200)); done
f=$p/$(printf "f%.0s" $(seq $((4090 - ${#p} - 1))))
echo ${#f}
mkdir -p "$p" && echo content > "$f" && cat "$f" && stat -c "%s %F" "$f"
ls "$p" | wc -l
python3 -c "import os,sys; print(len(sys.argv[1]), open(sys.argv[1]).read().strip(), os.path.getsize(sys.argv[1]))" "$f"
cd "$p" && ls | wc -l && cat f* && [ "$(pwd)" = "$p" ] && [ "$(/bin/pwd)" = "$p" ] && echo pwd is the path
python3 -c "import os,sys; print(os.getcwd() == sys.argv[1], os.path.realpath(\".\") == sys.argv[1])" "$p"
cd @ && find . -type f -name "fff*" | wc -l
rm -r @/dddd* && ls @'
  all_same
}

test_statvfs_of_a_read_only_mount_says_read_only() {
  setup
  local ro rw
  ro=$(VOL_CACHE_DIR=$T/cache "$VOL" run --read-only -v "data:$MNT" -- python3 -c '
import os, sys
print(bool(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY), bool(os.statvfs(os.open(sys.argv[1], os.O_RDONLY)).f_flag & os.ST_RDONLY))' "$MNT")
  rw=$(VOL_CACHE_DIR=$T/cache "$VOL" run --no-commit -v "data:$MNT" -- python3 -c '
import os, sys
print(bool(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY))' "$MNT")
  assert_eq "True True" "$ro" "statvfs and fstatvfs of a --read-only mount"
  assert_eq "False" "$rw" "statvfs of a writable mount"
}

# Whatever a program can ask for — cwd, realpath, readlink of fds and of the
# cwd, dlerror, dladdr, glob, fts, libstdc++'s exception texts, a socket's
# name — shows mount paths, never the view behind them.
test_no_view_path_reaches_the_program() {
  setup
  local out
  out=$(VOL_CACHE_DIR=$T/cache "$VOL" run --no-commit -v "data:$MNT" -- bash -c '
m=$1
cd $m/walk/a && pwd && /bin/pwd && readlink -f nums && readlink /proc/self/cwd
$BIN/compat getwd $m/walk
$BIN/compat_fs paths $m/walk
LD_LIBRARY_PATH=$m/lib $BIN/compat dlopen libbad.so
LD_LIBRARY_PATH=$m/lib $BIN/compat dlopen libplug.so plug_value
$BIN/compat dlopen $m/lib/libbad.so
$BIN/compat fts $m/walk nochdir
python3 -c "
import glob, os, sys, tempfile
m = sys.argv[1]
fd = os.open(m + \"/small/f1\", os.O_RDONLY)
print(os.readlink(\"/proc/self/fd/%d\" % fd), os.path.realpath(m + \"/walk/c/link\"), os.getcwd())
print(glob.glob(m + \"/*/*\")[:3], [p for p, _, _ in os.walk(m)][:3])
print(tempfile.mkstemp(dir=m + \"/small\")[1], tempfile.mkdtemp(dir=m))
" $m
python3 $PY/sock.py $m' _ "$MNT" 2>&1)
  echo "$out"
  assert_match "$MNT/walk/a" "$out"
  if grep -F -e "$T/cache" -e "/views/" <<<"$out"; then
    fail "a view path reached the program (above)"
  fi
}

# issue 8: when the fetcher is gone, a change to a mount fails (EIO) instead of
# succeeding into nothing; data already present stays readable.
test_a_dead_fetcher_fails_the_next_change_with_eio() {
  setup
  local out
  out=$(VOL_CACHE_DIR=$T/cache timeout 60 "$VOL" run -v "data:$MNT" -- python3 "$HERE/dead_fetcher.py" "$MNT" 2>/dev/null) || true
  assert_eq "read present data: True
create EIO
mkdir EIO
rename EIO
unlink EIO
chmod EIO" "$out"
}

# issue 8: vol publishes user.* xattrs only; others fail on a writable mount.
test_xattrs_outside_user_fail_with_enotsup() {
  setup
  local out
  out=$(VOL_CACHE_DIR=$T/cache "$VOL" run --no-commit -v "data:$MNT" -- python3 "$HERE/xattrs.py" "$MNT" 2>&1)
  assert_eq "setxattr user.a ok
getxattr user.a b'1'
setxattr trusted.a ENOTSUP
setxattr security.a ENOTSUP
lsetxattr trusted.a ENOTSUP
fsetxattr trusted.a ENOTSUP
fsetxattr user.b ok
removexattr trusted.a ENOTSUP
removexattr user.a ok
chown ok
lchown ok
fchown ok" "$out"
}

run_tests "$@"
