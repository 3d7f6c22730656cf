#include "fetcher/session/open_writers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

// The files process `base` (/proc/PID) maps shared and writable: a mapping
// outlives the fd it was made from, and stores into it reach the file until
// munmap. /proc/PID/maps lines: "START-END PERMS OFFSET MAJOR:MINOR INODE PATH",
// PERMS "rw-s" for such a mapping (hexadecimal device numbers).
void AddSharedWritableMappings(const std::string& base, absl::flat_hash_set<FileKey>* out) {
  absl::StatusOr<std::string> maps = ReadFile(base + "/maps");
  if (!maps.ok()) return;
  for (absl::string_view line : absl::StrSplit(*maps, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 5 || f[1].size() != 4 || f[1][1] != 'w' || f[1][3] != 's') continue;
    std::vector<absl::string_view> dev = absl::StrSplit(f[3], ':');
    unsigned major = 0, minor = 0;
    uint64_t ino = 0;
    if (dev.size() != 2 || !absl::SimpleHexAtoi(dev[0], &major) || !absl::SimpleHexAtoi(dev[1], &minor) ||
        !absl::SimpleAtoi(f[4], &ino) || ino == 0) {
      continue;
    }
    out->insert({static_cast<uint64_t>(makedev(major, minor)), ino});
  }
}

}  // namespace

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
    AddSharedWritableMappings(base, &out);
  }
  closedir(proc);
  return out;
}

}  // namespace vol
