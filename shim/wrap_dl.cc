// Code loading through the dynamic loader. The loader opens and maps files
// itself, out of the shim's sight. dlopen of a path on a mount translates it and fetches the
// library, and what it needs from a mount, before the loader maps them. A
// bare name is searched in LD_LIBRARY_PATH here first, so that a library the
// loader will find in a view is complete, and so that a mount directory the
// loader cannot see (LD_LIBRARY_PATH as the program started, before the shim)
// still finds it. What the loader reports (dlerror, dladdr) shows mount
// paths, never view paths.
//
// Invariants: dlerror's text is rewritten into a thread-local buffer that
// lives until that thread's next dlerror, as glibc's does; a library name
// handed out by dladdr is rewritten once and kept for the process's life
// (libraries are rarely unloaded; at most kNames of them).
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

using namespace vol::shim;

namespace {

// A library on a mount (its view path): complete it and what it needs.
int ensure_library(const char* view_path, const char* llp) {
  char views[2 * kPathMax];
  if (llp && translate_path_list(llp, views, sizeof views) > 0) llp = views;
  materialize_path(AT_FDCWD, view_path);  // lazy views: the loader looks it up itself
  if (ensure_path(view_path) < 0 || ensure_elf_deps(view_path, llp) < 0) return -1;
  return 0;
}

// Searches LD_LIBRARY_PATH for the bare `name` as the loader does. A hit in a
// view is made complete and, when the loader would not know the directory
// (named by its mount path), its view path goes to `found`. Returns -1 if
// fetching failed.
int search_llp(const char* name, char* found, size_t cap) {
  found[0] = '\0';
  const char* llp = getenv("LD_LIBRARY_PATH");
  for (const char* p = llp; p && *p;) {
    const char* end = strchrnul(p, ':');
    size_t n = (size_t)(end - p);
    char cand[kPathMax];
    if (n && p[0] == '/' && n + 1 + strlen(name) + 1 <= sizeof cand) {
      memcpy(cand, p, n);
      cand[n] = '/';
      memcpy(cand + n + 1, name, strlen(name) + 1);
      Resolved r;
      if (resolve(AT_FDCWD, cand, &r)) {
        bool in_view = r.mount >= 0 || view_of(g.mounts, r.path) >= 0;
        // Lazy views: its directory may not be populated yet (the loader
        // would find it empty, and so would faccessat).
        if (in_view) materialize_path(r.dirfd, r.path);
        if (sys(SYS_faccessat, r.dirfd, r.path, F_OK, 0) == 0) {
          if (!in_view) return 0;  // the host's: the loader's business
          if (ensure_library(r.path, llp) < 0) return -1;
          if (r.mount >= 0 && strlen(r.path) < cap) memcpy(found, r.path, strlen(r.path) + 1);
          return 0;
        }
      }
    }
    if (!*end) break;
    p = end + 1;
  }
  return 0;
}

// `text` with every view path in it rewritten to its mount path, into out.
// False if there was none (or the result does not fit).
bool untranslate_text(const char* text, char* out, size_t cap) {
  size_t k = 0;
  bool any = false;
  for (const char* s = text; *s;) {
    int v = -1;
    if (*s == '/' && (s == text || s[-1] == ' ' || s[-1] == '"' || s[-1] == '\'' || s[-1] == ':' ||
                      s[-1] == '(' || s[-1] == '`'))
      for (int i = 0; i < g.mounts.count && v < 0; i++) {
        const Mount& m = g.mounts.m[i];
        if (!strncmp(s, m.view, m.view_len) && (s[m.view_len] < '0' || s[m.view_len] == '/' ||
                                                s[m.view_len] == ':'))
          v = i;
      }
    if (v >= 0) {
      const Mount& m = g.mounts.m[v];
      if (k + m.mount_len + 1 > cap) return false;
      memcpy(out + k, m.mount, m.mount_len);
      k += m.mount_len;
      s += m.view_len;
      any = true;
    } else {
      if (k + 2 > cap) return false;
      out[k++] = *s++;
    }
  }
  out[k] = '\0';
  return any;
}

__thread char t_dlerror[2048] __attribute__((tls_model("initial-exec")));

constexpr int kNames = 64;
struct Name {
  const char* view;  // the loader's string
  char* mount;       // ours
};
Name g_names[kNames];
int g_names_lock;

const char* mount_name(const char* view) {
  if (!view || view[0] != '/' || view_of(g.mounts, view) < 0) return view;
  const char* out = view;
  while (__atomic_exchange_n(&g_names_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  for (Name& n : g_names) {
    if (n.view == view) {
      out = n.mount;
      break;
    }
    if (!n.view) {
      char tmp[kPathMax];
      long len = untranslate(g.mounts, view, tmp, sizeof tmp);
      char* copy = len > 0 ? static_cast<char*>(malloc((size_t)len + 1)) : nullptr;
      if (copy) {
        memcpy(copy, tmp, (size_t)len + 1);
        n.view = view;
        n.mount = copy;
        out = copy;
      }
      break;
    }
  }
  __atomic_store_n(&g_names_lock, 0, __ATOMIC_RELEASE);
  return out;
}

}  // namespace

VOL_WRAPPER(char*, dlerror, (void)) {
  char* msg = VOL_REAL(dlerror)();
  if (!msg || !g.active || !untranslate_text(msg, t_dlerror, sizeof t_dlerror)) return msg;
  return t_dlerror;
}

namespace {
template <typename Open>
void* open_library(const char* file, Open real) {
  if (!g.active || !file) return real(file);
  // Resolving the real dlerror later would go through dlsym, which clears
  // the error this dlopen may leave.
  (void)VOL_REAL(dlerror);
  if (!strchr(file, '/')) {
    char found[kPathMax];
    if (search_llp(file, found, sizeof found) < 0) return nullptr;
    void* h = real(file);
    if (!h && found[0]) h = real(found);
    return h;
  }
  Resolved r;
  if (!resolve(AT_FDCWD, file, &r)) return nullptr;
  if (r.mount >= 0 && ensure_library(r.path, getenv("LD_LIBRARY_PATH")) < 0) return nullptr;
  void* h = real(r.path);
  if (!h && retry_resolve(&r) && ensure_library(r.path, getenv("LD_LIBRARY_PATH")) == 0)
    h = real(r.path);
  return h;
}

}  // namespace

VOL_WRAPPER(void*, dlopen, (const char* file, int flags)) {
  return open_library(file, [&](const char* f) { return VOL_REAL(dlopen)(f, flags); });
}
VOL_WRAPPER(void*, dlmopen, (Lmid_t lm, const char* file, int flags)) {
  return open_library(file, [&](const char* f) { return VOL_REAL(dlmopen)(lm, f, flags); });
}

VOL_WRAPPER(int, dladdr, (const void* addr, Dl_info* info)) {
  int ret = VOL_REAL(dladdr)(addr, info);
  if (ret && g.active && info) info->dli_fname = mount_name(info->dli_fname);
  return ret;
}
VOL_WRAPPER(int, dladdr1, (const void* addr, Dl_info* info, void** extra, int flags)) {
  int ret = VOL_REAL(dladdr1)(addr, info, extra, flags);
  if (ret && g.active && info) info->dli_fname = mount_name(info->dli_fname);
  return ret;
}
