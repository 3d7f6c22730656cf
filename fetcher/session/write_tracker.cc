#include "fetcher/session/write_tracker.h"

#include <algorithm>

namespace vol {
namespace {

// `path` is `dir` or lies under it.
bool Within(const std::string& path, const std::string& dir) {
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || dir.empty() || path[dir.size()] == '/');
}

// Moves the keys of `map` at or under `from` to `to`, after dropping those at
// or under `to`.
template <typename Map>
void Move(Map& map, size_t mount, const std::string& from, const std::string& to) {
  absl::erase_if(map, [&](const auto& entry) { return entry.first.first == mount && Within(entry.first.second, to); });
  std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>> moved;
  absl::erase_if(map, [&](auto& entry) {
    if (entry.first.first != mount || !Within(entry.first.second, from)) return false;
    moved.push_back({{mount, to + entry.first.second.substr(from.size())}, std::move(entry.second)});
    return true;
  });
  for (auto& [key, value] : moved) map[key] = std::move(value);
}

}  // namespace

WriteTracker::WriteTracker(Alive alive) : alive_(std::move(alive)) {}

bool WriteTracker::CutShort(const absl::flat_hash_set<int>& pids) const {
  return std::none_of(pids.begin(), pids.end(), alive_);
}

void WriteTracker::Opened(size_t mount, const std::string& path, int pid) {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_set<int>& pids = writers_[{mount, path}];
  if (!pids.empty() && CutShort(pids)) pids.clear();
  pids.insert(pid);
  last_open_[{mount, path}] = ++epoch_;
}

void WriteTracker::Closed(size_t mount, const std::string& path, int pid) {
  absl::MutexLock lock(&mu_);
  auto it = writers_.find(Key{mount, path});
  if (it == writers_.end()) return;
  it->second.erase(pid);
  if (it->second.empty()) writers_.erase(it);
}

void WriteTracker::Exited(int pid) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(writers_, [pid](auto& entry) {
    entry.second.erase(pid);
    return entry.second.empty();
  });
}

void WriteTracker::Renamed(size_t mount, const std::string& from, const std::string& to) {
  if (from == to) return;
  absl::MutexLock lock(&mu_);
  Move(writers_, mount, from, to);
  Move(last_open_, mount, from, to);
}

bool WriteTracker::InFlux(size_t mount, const std::string& path, bool only_cut_short) const {
  absl::MutexLock lock(&mu_);
  auto it = writers_.find(Key{mount, path});
  return it != writers_.end() && (!only_cut_short || CutShort(it->second));
}

std::vector<std::string> WriteTracker::Files(size_t mount, bool only_cut_short) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [key, pids] : writers_) {
    if (key.first == mount && (!only_cut_short || CutShort(pids))) out.push_back(key.second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t WriteTracker::Epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

bool WriteTracker::OpenedSince(size_t mount, const std::string& path, uint64_t epoch) const {
  absl::MutexLock lock(&mu_);
  auto it = last_open_.find(Key{mount, path});
  return it != last_open_.end() && it->second > epoch;
}

void WriteTracker::ForgetOpensUpTo(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(last_open_, [epoch](const auto& entry) { return entry.second <= epoch; });
}

}  // namespace vol
