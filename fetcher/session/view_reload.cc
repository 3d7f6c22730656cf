#include "fetcher/session/view_reload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : absl::StrCat(dir, "/", name);
}

void AddTree(ObjectStore& store, const Entry& e, const std::string& path, std::vector<ReloadEdit>& out,
             absl::Status& status);

absl::Status Diff(ObjectStore& store, const ObjectId& from, const ObjectId& to, const std::string& dir,
                  std::vector<ReloadEdit>& out) {
  if (from == to) return absl::OkStatus();
  absl::StatusOr<Tree> a = ReadTree(store, from);
  if (!a.ok()) return a.status();
  absl::StatusOr<Tree> b = ReadTree(store, to);
  if (!b.ok()) return b.status();
  std::map<std::string, std::pair<const Entry*, const Entry*>> both;
  for (const Entry& e : a->entries) both[e.name].first = &e;
  for (const Entry& e : b->entries) both[e.name].second = &e;
  for (const auto& [name, pair] : both) {
    const auto [old, now] = pair;
    std::string path = Join(dir, name);
    if (now == nullptr) {
      out.push_back({path, ReloadEdit::kRemove, {}});
      continue;
    }
    if (old != nullptr && old->type == now->type) {
      if (now->is_dir()) {
        if (old->mode != now->mode || old->mtime_ns != now->mtime_ns) {
          out.push_back({path, ReloadEdit::kPut, *now});
        }
        if (absl::Status s = Diff(store, old->tree, now->tree, path, out); !s.ok()) return s;
        continue;
      }
      Entry x = *old, y = *now;
      x.name = y.name = "";
      if (x == y) continue;
    } else if (old != nullptr) {
      out.push_back({path, ReloadEdit::kRemove, {}});
    }
    absl::Status s;
    AddTree(store, *now, path, out, s);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void AddTree(ObjectStore& store, const Entry& e, const std::string& path, std::vector<ReloadEdit>& out,
             absl::Status& status) {
  out.push_back({path, ReloadEdit::kPut, e});
  if (e.is_dir()) status = Diff(store, EmptyTreeId(), e.tree, path, out);
}

}  // namespace

absl::StatusOr<std::vector<ReloadEdit>> PlanReload(ObjectStore& store, const ObjectId& from,
                                                   const ObjectId& to) {
  std::vector<ReloadEdit> out;
  if (absl::Status s = Diff(store, from, to, "", out); !s.ok()) return s;
  return out;
}

}  // namespace vol
