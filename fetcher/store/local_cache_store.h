// LocalCacheStore: an ObjectStore that keeps a local copy of immutable
// objects it reads (for vol: trees, which are content-addressed), so that
// sessions on one host read each directory from the store once.
//
// Invariants:
//   - Only whole-object Gets of keys under one of `prefixes` are cached;
//     everything else (and every write) goes straight to the store.
//   - A local copy is returned only if `valid(key, bytes)` accepts it (the
//     caller checks the object's hash against its name); a copy that fails is
//     removed and the object fetched again. Copies are written to a temporary
//     name and renamed into place, mode 0600 in 0700 directories.
//   - Failing to write a local copy never fails the Get.
#ifndef VOL_FETCHER_STORE_LOCAL_CACHE_STORE_H_
#define VOL_FETCHER_STORE_LOCAL_CACHE_STORE_H_

#include <functional>
#include <string>
#include <vector>

#include "fetcher/store/object_store.h"

namespace vol {

class LocalCacheStore : public ObjectStore {
 public:
  using Validator = std::function<bool(std::string_view key, std::string_view bytes)>;
  LocalCacheStore(ObjectStore& inner, std::string dir, std::vector<std::string> prefixes, Validator valid);

  absl::StatusOr<std::string> Get(std::string_view key) override;
  // Chunks (never cached here) go straight into the caller's reused buffer.
  absl::StatusOr<std::string_view> GetInto(std::string_view key, std::string* buffer) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    return inner_.GetRange(key, offset, length);
  }
  absl::Status Put(std::string_view key, std::string_view data) override { return inner_.Put(key, data); }
  absl::Status PutIfAbsent(std::string_view key, std::string_view data) override {
    return inner_.PutIfAbsent(key, data);
  }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override { return inner_.Head(key); }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix, std::string_view start_after) override {
    return inner_.List(prefix, start_after);
  }
  absl::Status Delete(std::string_view key) override { return inner_.Delete(key); }
  std::string Url() const override { return inner_.Url(); }

 private:
  bool Cached(std::string_view key) const;

  ObjectStore& inner_;
  std::string dir_;
  std::vector<std::string> prefixes_;
  Validator valid_;
};

}  // namespace vol

#endif  // VOL_FETCHER_STORE_LOCAL_CACHE_STORE_H_
