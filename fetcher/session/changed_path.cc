#include "fetcher/session/changed_path.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/volume/volume_path.h"

namespace vol {
namespace {

// realpath(3) without its readlink of every component (a change deep in a
// tree would cost one system call per level): the kernel resolves the path
// once, and names what it reached.
std::optional<std::string> RealPath(const std::string& path, int flags = O_DIRECTORY) {
  int fd = open(path.c_str(), O_PATH | flags | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string link = absl::StrCat("/proc/self/fd/", fd);
  char buf[PATH_MAX];
  ssize_t n = readlink(link.c_str(), buf, sizeof buf);
  close(fd);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf || buf[0] != '/') return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

std::optional<std::string> Lexical(const std::string& rel) {
  std::optional<std::string> out;
  if (auto p = ParseVolumePath(rel); p.ok()) out = p->ToString().substr(1);
  return out;
}

}  // namespace

ChangedPathResolver::ChangedPathResolver(std::vector<std::string> views) : views_(std::move(views)) {
  for (const std::string& v : views_) real_views_.push_back(RealPath(v).value_or(""));
}

std::optional<ResolvedPath> ChangedPathResolver::Resolve(size_t mount, const std::string& rel) const {
  std::optional<std::string> lexical = Lexical(rel);
  if (!lexical) return std::nullopt;  // climbs above the mount
  size_t slash = rel.rfind('/');
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  if (rel.empty() || name.empty() || name == "." || name == "..") return ResolvedPath{mount, *lexical};
  std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
  if (dir.empty() || dir.find_first_not_of('/') == std::string::npos) return ResolvedPath{mount, *lexical};
  std::optional<std::string> real_dir = RealPath(absl::StrCat(views_[mount], "/", dir));
  if (!real_dir) return ResolvedPath{mount, *lexical};
  std::optional<ResolvedPath> in = InViews(*real_dir);
  if (!in) return std::nullopt;
  in->path = in->path.empty() ? name : absl::StrCat(in->path, "/", name);
  return in;
}

std::optional<ResolvedPath> ChangedPathResolver::Target(const ResolvedPath& p) const {
  std::string local = p.path.empty() ? views_[p.mount] : absl::StrCat(views_[p.mount], "/", p.path);
  struct stat st;
  if (lstat(local.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return std::nullopt;
  std::optional<std::string> real = RealPath(local, 0);
  return real ? InViews(*real) : std::nullopt;
}

std::optional<ResolvedPath> ChangedPathResolver::InViews(const std::string& real) const {
  for (size_t m = 0; m < real_views_.size(); ++m) {
    const std::string& root = real_views_[m];
    if (root.empty()) continue;
    if (real == root) return ResolvedPath{m, ""};
    if (absl::StartsWith(real, root) && real[root.size()] == '/') return ResolvedPath{m, real.substr(root.size() + 1)};
  }
  return std::nullopt;
}

}  // namespace vol
