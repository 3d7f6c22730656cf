// FakeStore: an ObjectStore in memory, for unit tests of the layers above
// the store (LevelDB's EnvWrapper idea): it counts calls, can fail a call on
// purpose, and can run another writer at the worst moment of a commit —
// after the writer read the head, before its put-if-absent append.
#ifndef VOL_TESTS_UNIT_TESTING_FAKE_STORE_H_
#define VOL_TESTS_UNIT_TESTING_FAKE_STORE_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "fetcher/store/object_store.h"

namespace vol::testing {

class FakeStore : public ObjectStore {
 public:
  // Called before every operation with its name ("get", "put", "put-if-absent",
  // "head", "list", "delete") and key; a non-OK status is returned instead.
  std::function<absl::Status(std::string_view op, std::string_view key)> fail;
  // Called once, before the next put-if-absent of a commit entry
  // (volumes/…/commits/…), then cleared: another writer commits there.
  std::function<void()> before_next_commit;

  std::atomic<uint64_t> gets{0}, puts{0}, put_if_absents{0}, heads{0};

  absl::StatusOr<std::string> Get(std::string_view key) override {
    ++gets;
    if (absl::Status s = Check("get", key); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return absl::NotFoundError(std::string(key));
    return it->second;
  }
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    absl::StatusOr<std::string> all = Get(key);
    if (!all.ok()) return all;
    if (offset >= all->size()) return std::string();
    return all->substr(offset, length);
  }
  absl::Status Put(std::string_view key, std::string_view data) override {
    ++puts;
    if (absl::Status s = Check("put", key); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    objects_[std::string(key)] = std::string(data);
    return absl::OkStatus();
  }
  absl::Status PutIfAbsent(std::string_view key, std::string_view data) override {
    ++put_if_absents;
    if (key.find("/commits/") != std::string_view::npos && before_next_commit) {
      std::function<void()> other = std::move(before_next_commit);
      before_next_commit = nullptr;
      other();
    }
    if (absl::Status s = Check("put-if-absent", key); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    if (!objects_.emplace(std::string(key), std::string(data)).second) {
      return absl::AlreadyExistsError(std::string(key));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override {
    ++heads;
    if (absl::Status s = Check("head", key); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return absl::NotFoundError(std::string(key));
    ObjectInfo info;
    info.size = it->second.size();
    return info;
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix, std::string_view start_after) override {
    if (absl::Status s = Check("list", prefix); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    std::vector<std::string> keys;
    for (auto it = objects_.lower_bound(std::string(prefix)); it != objects_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (it->first > start_after) keys.push_back(it->first);
    }
    return keys;
  }
  absl::Status Delete(std::string_view key) override {
    if (absl::Status s = Check("delete", key); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    objects_.erase(std::string(key));
    return absl::OkStatus();
  }
  std::string Url() const override { return "fake://"; }

  size_t Count(std::string_view prefix) {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const auto& [k, v] : objects_) n += k.compare(0, prefix.size(), prefix) == 0;
    return n;
  }

 private:
  absl::Status Check(std::string_view op, std::string_view key) {
    return fail ? fail(op, key) : absl::OkStatus();
  }

  absl::Mutex mu_;
  std::map<std::string, std::string> objects_;
};

}  // namespace vol::testing

#endif  // VOL_TESTS_UNIT_TESTING_FAKE_STORE_H_
