#include "fetcher/session/open_writers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"

namespace vol {

absl::flat_hash_set<FileKey> FilesOpenForWriting() {
  absl::flat_hash_set<FileKey> out;
  std::string self = std::to_string(getpid());
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (struct dirent* p = readdir(proc)) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9' || self == p->d_name) continue;
    std::string base = absl::StrCat("/proc/", p->d_name);
    DIR* fds = opendir((base + "/fdinfo").c_str());
    if (fds == nullptr) continue;  // gone, or not ours
    while (struct dirent* f = readdir(fds)) {
      if (f->d_name[0] < '0' || f->d_name[0] > '9') continue;
      absl::StatusOr<std::string> info = ReadFile(absl::StrCat(base, "/fdinfo/", f->d_name));
      if (!info.ok()) continue;
      size_t at = info->find("flags:");
      if (at == std::string::npos) continue;
      long flags = strtol(info->c_str() + at + 6, nullptr, 8);
      if ((flags & O_ACCMODE) == O_RDONLY) continue;
      struct stat st;
      if (stat(absl::StrCat(base, "/fd/", f->d_name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.insert({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
    }
    closedir(fds);
  }
  closedir(proc);
  return out;
}

}  // namespace vol
