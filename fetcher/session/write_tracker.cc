#include "fetcher/session/write_tracker.h"

#include <algorithm>

namespace vol {
namespace {

// `path` is `dir` or lies under it.
bool Within(const std::string& path, const std::string& dir) {
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || dir.empty() || path[dir.size()] == '/');
}

}  // namespace

WriteTracker::WriteTracker(Alive alive) : alive_(std::move(alive)) {}

void WriteTracker::Opened(size_t mount, const std::string& path, int pid) {
  absl::flat_hash_set<int>& pids = writers_[{mount, path}];
  if (!pids.empty() && std::none_of(pids.begin(), pids.end(), alive_)) pids.clear();
  pids.insert(pid);
}

void WriteTracker::Closed(size_t mount, const std::string& path, int pid) {
  auto it = writers_.find(Key{mount, path});
  if (it == writers_.end()) return;
  it->second.erase(pid);
  if (it->second.empty()) writers_.erase(it);
}

void WriteTracker::Exited(int pid) {
  absl::erase_if(writers_, [pid](auto& entry) {
    entry.second.erase(pid);
    return entry.second.empty();
  });
}

void WriteTracker::Renamed(size_t mount, const std::string& from, const std::string& to) {
  if (from == to) return;
  absl::erase_if(writers_, [&](const auto& entry) { return entry.first.first == mount && Within(entry.first.second, to); });
  std::vector<std::pair<Key, absl::flat_hash_set<int>>> moved;
  absl::erase_if(writers_, [&](auto& entry) {
    if (entry.first.first != mount || !Within(entry.first.second, from)) return false;
    moved.push_back({{mount, to + entry.first.second.substr(from.size())}, std::move(entry.second)});
    return true;
  });
  for (auto& [key, pids] : moved) writers_[key] = std::move(pids);
}

std::vector<std::string> WriteTracker::CutShort(size_t mount) const {
  std::vector<std::string> out;
  for (const auto& [key, pids] : writers_) {
    if (key.first == mount && std::none_of(pids.begin(), pids.end(), alive_)) out.push_back(key.second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vol
