#include "fetcher/transfer/entry_metadata.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/util/dir_fd.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

bool NoXattrs(int err) { return err == ENOTSUP || err == ENODATA || err == EPERM; }

}  // namespace

absl::StatusOr<std::vector<Xattr>> ReadUserXattrs(int dirfd, const std::string& name) {
  std::string path = FdPath(dirfd, name);
  // By name: "l" calls (the name itself, never a symlink's target); the
  // descriptor itself: /proc/self/fd/N is a link to follow.
  auto list = [&](char* buf, size_t size) {
    return name.empty() ? listxattr(path.c_str(), buf, size) : llistxattr(path.c_str(), buf, size);
  };
  auto get = [&](const char* attr, void* buf, size_t size) {
    return name.empty() ? getxattr(path.c_str(), attr, buf, size) : lgetxattr(path.c_str(), attr, buf, size);
  };
  std::vector<Xattr> out;
  std::string names;
  for (int tries = 0;; ++tries) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (NoXattrs(errno)) return out;
      return ErrnoError(absl::StrCat("cannot list the xattrs of ", ShowBytes(name)), errno);
    }
    names.resize(static_cast<size_t>(n));
    n = list(names.data(), names.size());
    if (n >= 0) {
      names.resize(static_cast<size_t>(n));
      break;
    }
    if (errno != ERANGE || tries > 8) {
      return ErrnoError(absl::StrCat("cannot list the xattrs of ", ShowBytes(name)), errno);
    }
  }
  for (size_t at = 0; at < names.size();) {
    std::string attr(names.c_str() + at);
    at += attr.size() + 1;
    if (!absl::StartsWith(attr, "user.")) continue;
    std::string value;
    for (int tries = 0;; ++tries) {
      ssize_t n = get(attr.c_str(), nullptr, 0);
      if (n < 0 && errno == ENODATA) break;  // removed meanwhile
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        n = get(attr.c_str(), value.data(), value.size());
        if (n >= 0) {
          value.resize(static_cast<size_t>(n));
          out.push_back({attr, value});
          break;
        }
      }
      if (errno != ERANGE || tries > 8) {
        return ErrnoError(absl::StrCat("cannot read xattr ", attr, " of ", ShowBytes(name)), errno);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return out;
}

std::optional<Owner> OwnerToPublish(const struct stat& st, const Entry* previous) {
  if (geteuid() == 0) {
    if (st.st_uid == 0 && st.st_gid == 0) return std::nullopt;
    return Owner{st.st_uid, st.st_gid};
  }
  if (st.st_uid != geteuid() || st.st_gid != getegid()) return Owner{st.st_uid, st.st_gid};
  return previous != nullptr ? previous->owner : std::nullopt;
}

absl::Status ApplyEntryMetadata(int dirfd, const std::string& name, const Entry& entry) {
  if (!entry.xattrs.empty()) {
    std::string path = FdPath(dirfd, name);
    for (const Xattr& x : entry.xattrs) {
      if (lsetxattr(path.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0) {
        if (errno == ENOTSUP) break;  // this file system keeps none
        return ErrnoError(absl::StrCat("cannot set xattr ", ShowBytes(x.name), " on ", ShowBytes(name)), errno);
      }
    }
  }
  if (entry.owner && geteuid() == 0 &&
      fchownat(dirfd, name.c_str(), entry.owner->uid, entry.owner->gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError(absl::StrCat("cannot set the owner of ", ShowBytes(name)), errno);
  }
  return absl::OkStatus();
}

}  // namespace vol
