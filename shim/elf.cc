// Libraries the dynamic loader loads by itself: when a program dlopens or execs
// an ELF file from a view, the loader opens the file's DT_NEEDED libraries
// without the shim seeing the reads. Those found in a view through the file's
// DT_RUNPATH/DT_RPATH (with $ORIGIN, as Python wheels and venvs use) or
// LD_LIBRARY_PATH are made complete first, recursively.
//
// Invariants: reads with raw system calls into stack buffers only; bounded
// (depth, number of names, string lengths); a file that is not a 64-bit ELF
// object, or that cannot be parsed, is left alone (the loader will report it).
#include <elf.h>
#include <string.h>

#include "shim.h"

namespace vol::shim {

namespace {

constexpr int kMaxDepth = 6;
constexpr int kMaxNeeded = 64;
constexpr int kMaxPhdrs = 64;
constexpr int kMaxDyn = 1024;

struct Seen {
  uint64_t ino[128];
  int n;
  const char* llp;  // LD_LIBRARY_PATH the loader will use ("" if none)
};

long pread_all(long fd, void* buf, size_t len, uint64_t off) {
  long n = sys(SYS_pread64, fd, buf, len, off);
  return n;
}

// File offset of virtual address `va`, or 0 if no PT_LOAD covers it.
uint64_t va_to_off(const Elf64_Phdr* ph, int n, uint64_t va) {
  for (int i = 0; i < n; i++)
    if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va < ph[i].p_vaddr + ph[i].p_filesz)
      return va - ph[i].p_vaddr + ph[i].p_offset;
  return 0;
}

// Reads the NUL-terminated string at file offset `off` into out.
bool read_str(long fd, uint64_t off, char* out, size_t cap) {
  long n = pread_all(fd, out, cap - 1, off);
  if (n <= 0) return false;
  out[n] = '\0';
  return memchr(out, '\0', (size_t)n) != nullptr || (size_t)n < cap - 1;
}

int deps(const char* path, int depth, Seen* seen);

// Searches `dirs` (a ':' list, $ORIGIN = origin) for `name`; a hit in a view is
// made complete and its own needs followed. Returns 1 if found (anywhere), 0 if
// not, -1 (errno set) if fetching failed.
int search(const char* dirs, const char* origin, const char* name, int depth, Seen* seen) {
  for (const char* p = dirs; *p;) {
    const char* end = strchrnul(p, ':');
    char dir[kPathMax], cand[kPathMax];
    size_t k = 0;
    for (const char* s = p; s < end && k < sizeof dir - 1;) {
      if (!strncmp(s, "$ORIGIN", 7) || !strncmp(s, "${ORIGIN}", 9)) {
        size_t ol = strlen(origin);
        if (k + ol >= sizeof dir) break;
        memcpy(dir + k, origin, ol);
        k += ol;
        s += s[1] == '{' ? 9 : 7;
      } else {
        dir[k++] = *s++;
      }
    }
    dir[k] = '\0';
    if (k && path_join(cand, sizeof cand, dir, name) >= 0) {
      char norm[kPathMax];
      const char* c = cand;
      if (cand[0] == '/' && path_normalize(cand, norm, sizeof norm) >= 0) c = norm;
      if (view_of(g.mounts, c) >= 0) materialize_path(AT_FDCWD, c);  // lazy views
      if (sys(SYS_faccessat, AT_FDCWD, c, F_OK, 0) == 0) {
        if (view_of(g.mounts, c) < 0) return 1;  // the loader takes it from the host
        if (ensure_path(c) < 0 || deps(c, depth + 1, seen) < 0) return -1;
        return 1;
      }
    }
    if (!*end) break;
    p = end + 1;
  }
  return 0;
}

// The loader's order: DT_RPATH (only without DT_RUNPATH), LD_LIBRARY_PATH,
// DT_RUNPATH, then the system's directories (never on a mount).
int find_needed(const char* name, const char* rpath, const char* runpath, const char* origin,
                int depth, Seen* seen) {
  int r = 0;
  if (!runpath && rpath) r = search(rpath, origin, name, depth, seen);
  if (r == 0 && seen->llp[0]) r = search(seen->llp, origin, name, depth, seen);
  if (r == 0 && runpath) r = search(runpath, origin, name, depth, seen);
  return r < 0 ? -1 : 0;
}

int deps(const char* path, int depth, Seen* seen) {
  if (depth > kMaxDepth) return 0;
  long fd = sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int ret = 0;
  struct stat st;
  Elf64_Ehdr eh;
  Elf64_Phdr ph[kMaxPhdrs];
  if (sys(SYS_fstat, fd, &st) != 0) goto out;
  for (int i = 0; i < seen->n; i++)
    if (seen->ino[i] == st.st_ino) goto out;
  if (seen->n < (int)(sizeof seen->ino / sizeof seen->ino[0])) seen->ino[seen->n++] = st.st_ino;
  if (pread_all(fd, &eh, sizeof eh, 0) != (long)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
      eh.e_phnum == 0 || eh.e_phnum > kMaxPhdrs)
    goto out;
  if (pread_all(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff) !=
      (long)(eh.e_phnum * sizeof(Elf64_Phdr)))
    goto out;
  for (int i = 0; i < eh.e_phnum; i++) {
    if (ph[i].p_type != PT_DYNAMIC) continue;
    Elf64_Dyn dyn[kMaxDyn];
    size_t want = ph[i].p_filesz < sizeof dyn ? ph[i].p_filesz : sizeof dyn;
    long n = pread_all(fd, dyn, want, ph[i].p_offset);
    if (n <= 0) break;
    int count = (int)(n / sizeof(Elf64_Dyn));
    uint64_t strtab = 0, needed[kMaxNeeded];
    int nneeded = 0;
    long rpath = -1, runpath = -1;
    for (int j = 0; j < count && dyn[j].d_tag != DT_NULL; j++) {
      switch (dyn[j].d_tag) {
        case DT_STRTAB: strtab = dyn[j].d_un.d_ptr; break;
        case DT_NEEDED: if (nneeded < kMaxNeeded) needed[nneeded++] = dyn[j].d_un.d_val; break;
        case DT_RPATH: rpath = (long)dyn[j].d_un.d_val; break;
        case DT_RUNPATH: runpath = (long)dyn[j].d_un.d_val; break;
      }
    }
    uint64_t stroff = va_to_off(ph, eh.e_phnum, strtab);
    if (!stroff || !nneeded || (rpath < 0 && runpath < 0 && !seen->llp[0])) break;
    char rdirs[kPathMax], rundirs[kPathMax], origin[kPathMax];
    bool have_r = rpath >= 0 && read_str(fd, stroff + rpath, rdirs, sizeof rdirs);
    bool have_run = runpath >= 0 && read_str(fd, stroff + runpath, rundirs, sizeof rundirs);
    size_t ol = strlen(path);
    memcpy(origin, path, ol + 1);
    while (ol > 1 && origin[ol - 1] != '/') ol--;
    origin[ol > 1 ? ol - 1 : 1] = '\0';
    for (int j = 0; j < nneeded && ret == 0; j++) {
      char name[256];
      if (!read_str(fd, stroff + needed[j], name, sizeof name) || strchr(name, '/')) continue;
      ret = find_needed(name, have_r ? rdirs : nullptr, have_run ? rundirs : nullptr, origin,
                        depth, seen);
    }
    break;
  }
out:
  sys(SYS_close, fd);
  return ret;
}

}  // namespace

int ensure_elf_deps(const char* real_path, const char* ld_library_path) {
  if (!g.presence) return 0;
  char abs[kPathMax];
  if (real_path[0] != '/') {  // $ORIGIN needs the directory: make it absolute
    char cwd[kPathMax];
    if (sys(SYS_getcwd, cwd, sizeof cwd) <= 0 || path_join(abs, sizeof abs, cwd, real_path) < 0)
      return 0;
    real_path = abs;
  }
  Seen seen;
  seen.n = 0;
  seen.llp = ld_library_path ? ld_library_path : "";
  return deps(real_path, 0, &seen);
}

}  // namespace vol::shim
