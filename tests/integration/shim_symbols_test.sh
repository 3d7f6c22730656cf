#!/usr/bin/env bash
# The shim's list of interposed calls: every entry point libvolshim.so exports
# is in the table of docs/SEMANTICS.md (scripts/shim-table writes it from the
# build) and is a real libc (or liburing) function; every call that a file
# system interposed with LD_PRELOAD must wrap (shared/RESEARCH.md's list and
# issue 9's) is exported. A wrapper added without the docs, or a call left
# unwrapped, fails here.
source "$(dirname "$0")/lib.sh"
if [[ "${VOL_STORE_BASE:-}" == s3://* ]]; then
  echo "SKIP $(basename "$0") (uses no store; runs in the file:// pass)"
  exit 0
fi
SHIM=${VOL_SHIM_LIB:-$ROOT/build/libvolshim.so}

exported() { nm -D --defined-only "$SHIM" | awk '{print $3}' | sed 's/@.*//' | sort -u; }

test_the_docs_table_is_what_the_shim_exports() {
  local want got
  want=$("$ROOT/scripts/shim-table" "$(dirname "$SHIM")") || fail "scripts/shim-table failed"
  got=$(sed -n '/^<!-- wrapped:begin/,/^<!-- wrapped:end/p' "$ROOT/docs/SEMANTICS.md" | sed '1d;$d')
  [[ "$want" == "$got" ]] || fail "docs/SEMANTICS.md's table of wrapped calls is stale; run scripts/shim-table --write
$(diff <(echo "$got") <(echo "$want"))"
  # And the table names every export, once.
  local listed
  listed=$(grep -o '`[^`]*`' <<<"$got" | tr -d '`' | grep -v '^shim/' | sort)
  assert_eq "$(exported)" "$listed" "entry points in the table vs nm -D"
}

test_every_export_is_a_real_libc_function() {
  local libc extra
  libc=$(nm -D --defined-only "$(ldd "$SHIM" | awk '/libc.so.6/ {print $3}')" | awk '{print $3}' | sed 's/@.*//' | sort -u)
  # liburing's helpers (the library may be absent) and vol's own C API.
  extra=$(printf '%s\n' io_uring_setup io_uring_queue_init io_uring_queue_init_params vol_commit vol_reload)
  local unknown
  unknown=$(comm -23 <(exported) <(printf '%s\n%s\n' "$libc" "$extra" | sort -u))
  assert_eq "" "$unknown" "exports that are no libc function (a misspelt wrapper is never called)"
}

test_every_call_that_must_be_wrapped_is() {
  # shared/RESEARCH.md's interposition surface (minus calls that take no path
  # and read no file: dirfd, seekdir, telldir, writes, fsync, posix_fadvise)…
  local must=(open open64 __open_2 __open64_2 openat openat64 __openat_2 __openat64_2 creat creat64
    fopen fopen64 freopen freopen64 fdopen
    stat lstat fstat fstatat stat64 lstat64 fstat64 fstatat64 statx __xstat __lxstat __fxstat
    __fxstatat __xstat64 __lxstat64 __fxstat64 __fxstatat64 statfs statvfs fstatfs fstatvfs statfs64
    statvfs64 fstatfs64 fstatvfs64 access faccessat euidaccess
    opendir readdir readdir64 readdir_r closedir rewinddir scandir scandirat
    mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat
    readlink readlinkat realpath canonicalize_file_name truncate truncate64 chmod fchmodat chown
    lchown fchownat utime utimes utimensat futimesat mknod mknodat getxattr lgetxattr listxattr
    read pread pread64 readv preadv preadv2 __read_chk __pread_chk __pread64_chk lseek lseek64
    ftruncate fallocate sendfile sendfile64 copy_file_range splice
    close close_range dup dup2 dup3 fcntl fcntl64
    chdir fchdir getcwd get_current_dir_name execve execv execvp execvpe execveat fexecve
    posix_spawn posix_spawnp dlopen mmap mmap64 sync syncfs
    # …and issue 9's.
    remove scandirat64 lchmod getwd tempnam fts_open fts_read ftw nftw name_to_handle_at syscall
    bind connect dlerror setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr)
  local missing
  missing=$(comm -23 <(printf '%s\n' "${must[@]}" | sort -u) <(exported))
  assert_eq "" "$missing" "calls the shim must wrap but does not export"
}

run_tests "$@"
