#include "fetcher/session/write_tracker.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fetcher/util/fs.h"

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

constexpr uint64_t kMinRewriteBytes = 64 << 10;

std::string Record(char op, size_t mount, const std::string& path, const std::string* to) {
  const std::string nul(1, '\0');
  std::string r = absl::StrCat(std::string(1, op), nul, mount, nul, path, nul);
  if (to != nullptr) absl::StrAppend(&r, *to, nul);
  return r;
}

}  // namespace

WriteTracker::WriteTracker(Alive alive, std::string log_path)
    : alive_(std::move(alive)), log_path_(std::move(log_path)) {
  if (log_path_.empty()) return;
  absl::MutexLock lock(&mu_);
  RewriteLog();  // an empty log: nothing in flux yet
}

WriteTracker::~WriteTracker() {
  if (log_fd_ >= 0) close(log_fd_);
}

void WriteTracker::Log(char op, size_t mount, const std::string& path, const std::string* to) {
  if (log_path_.empty()) return;
  if (log_broken_ || log_bytes_ >= rewrite_at_) {
    RewriteLog();  // the set as it is now, this change included
    return;
  }
  std::string r = Record(op, mount, path, to);
  absl::Status s = WriteFull(log_fd_, r.data(), r.size());
  if (s.ok()) {
    log_bytes_ += r.size();
    return;
  }
  log_broken_ = true;
  if (!warned_) {
    warned_ = true;
    fprintf(stderr,
            "vol: cannot write the session's writers log %s (%s); it is rewritten at the next change. Until "
            "then, a session killed whole may publish a file it was writing\n",
            log_path_.c_str(), std::string(s.message()).c_str());
  }
}

void WriteTracker::RewriteLog() {
  std::string text;
  for (const auto& [key, pids] : writers_) text += Record('O', key.first, key.second, nullptr);
  // Not synced, as the appends are not: this runs on the loop thread while a
  // program waits for its open, and the log only has to outlive a kill.
  absl::Status s = WriteFileAtomic(log_path_, text, 0600, /*synced=*/false);
  int fd = s.ok() ? open(log_path_.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC) : -1;
  if (fd < 0) {
    log_broken_ = true;
    if (!warned_) {
      warned_ = true;
      fprintf(stderr, "vol: cannot write the session's writers log %s (%s)\n", log_path_.c_str(),
              s.ok() ? strerror(errno) : std::string(s.message()).c_str());
    }
    return;
  }
  if (log_fd_ >= 0) close(log_fd_);
  log_fd_ = fd;
  log_broken_ = false;
  log_bytes_ = text.size();
  rewrite_at_ = std::max<uint64_t>(kMinRewriteBytes, 2 * text.size());
}

std::vector<std::vector<std::string>> WriteTracker::WrittenWhenKilled(const std::string& log_path, size_t mounts) {
  std::vector<std::vector<std::string>> out(mounts);
  absl::StatusOr<std::string> text = ReadFile(log_path);
  if (!text.ok()) return out;
  absl::flat_hash_map<Key, char> in_flux;
  std::vector<std::string> f = absl::StrSplit(absl::string_view(*text), '\0');
  auto mount_no = [&](const std::string& t, size_t* m) { return absl::SimpleAtoi(t, m) && *m < mounts; };
  // Every complete record ends with a NUL: the last field is the empty string
  // after it, or a torn record, which is dropped.
  for (size_t i = 0; i + 1 < f.size();) {
    size_t m = 0;
    if (f[i] == "O" && i + 3 < f.size() && mount_no(f[i + 1], &m)) {
      in_flux[{m, f[i + 2]}] = 1;
      i += 3;
    } else if (f[i] == "C" && i + 3 < f.size() && mount_no(f[i + 1], &m)) {
      in_flux.erase(Key{m, f[i + 2]});
      i += 3;
    } else if (f[i] == "R" && i + 4 < f.size() && mount_no(f[i + 1], &m)) {
      Move(in_flux, m, f[i + 2], f[i + 3]);
      i += 4;
    } else {
      break;
    }
  }
  for (const auto& [key, unused] : in_flux) out[key.first].push_back(key.second);
  for (auto& paths : out) std::sort(paths.begin(), paths.end());
  return out;
}

bool WriteTracker::CutShort(const absl::flat_hash_set<int>& pids) const {
  return std::none_of(pids.begin(), pids.end(), alive_);
}

void WriteTracker::Opened(size_t mount, const std::string& path, int pid) {
  absl::MutexLock lock(&mu_);
  auto [it, first] = writers_.try_emplace(Key{mount, path});
  absl::flat_hash_set<int>& pids = it->second;
  if (!pids.empty() && CutShort(pids)) pids.clear();  // still in flux: nothing to log
  pids.insert(pid);
  if (first) Log('O', mount, path);
  last_open_[{mount, path}] = ++epoch_;
}

void WriteTracker::Closed(size_t mount, const std::string& path, int pid) {
  absl::MutexLock lock(&mu_);
  auto it = writers_.find(Key{mount, path});
  if (it == writers_.end()) return;
  it->second.erase(pid);
  if (!it->second.empty()) return;
  writers_.erase(it);
  Log('C', mount, path);
}

void WriteTracker::Exited(int pid) {
  absl::MutexLock lock(&mu_);
  std::vector<Key> left;
  absl::erase_if(writers_, [pid, &left](auto& entry) {
    entry.second.erase(pid);
    if (!entry.second.empty()) return false;
    left.push_back(entry.first);
    return true;
  });
  for (const Key& key : left) Log('C', key.first, key.second);
}

void WriteTracker::Renamed(size_t mount, const std::string& from, const std::string& to) {
  if (from == to) return;
  absl::MutexLock lock(&mu_);
  // Replayed on an empty set, a rename changes nothing: not logged then.
  if (!writers_.empty()) {
    Move(writers_, mount, from, to);
    Log('R', mount, from, &to);
  }
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
