#include "fetcher/session/changed_path.h"

#include <limits.h>
#include <stdlib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/volume/volume_path.h"

namespace vol {
namespace {

std::optional<std::string> RealPath(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return std::nullopt;
  std::string out(real);
  free(real);
  return out;
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
  for (size_t m = 0; m < real_views_.size(); ++m) {
    const std::string& root = real_views_[m];
    if (root.empty()) continue;
    if (*real_dir == root) return ResolvedPath{m, name};
    if (absl::StartsWith(*real_dir, root) && (*real_dir)[root.size()] == '/') {
      return ResolvedPath{m, absl::StrCat(real_dir->substr(root.size() + 1), "/", name)};
    }
  }
  return std::nullopt;
}

}  // namespace vol
