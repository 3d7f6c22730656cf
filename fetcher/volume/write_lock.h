// WriteLock: tells `vol gc`, on every machine, that a writer is between
// relying on its first object and its commit landing (docs/FORMAT.md,
// "Garbage collection"; the argument is in fetcher/format/gc_protocol.h).
//
// Invariants:
//   - The lock object locks/CREATED-RANDOM exists in the store from Acquire
//     until the destructor, and is rewritten every LockRefreshEvery() by a
//     thread of its own, so its last-modified time says the writer is alive.
//     A collector keeps every object modified after CREATED - LockShadow().
//   - Check() fails once the refreshes have stopped succeeding for
//     LockLapse(): a collector may then have ignored the lock, so the writer
//     must not publish a commit that relies on what it uploaded. A lapse is
//     final for this lock.
//   - Its pins (volume id, commit) are commits the writer still relies on;
//     a collector keeps them, and what they reach, even when it drops old
//     history (vol gc --keep-history).
// Writers that upload data (vol put, batch uploads, session commits) take
// one before their first upload; commits that only edit trees (rm, cp,
// rollback) finish within UnlockedWriteWindow() and need none. A session
// whose commits may reuse entries of the snapshot it mounted pins that commit.
#ifndef VOL_FETCHER_VOLUME_WRITE_LOCK_H_
#define VOL_FETCHER_VOLUME_WRITE_LOCK_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fetcher/store/object_store.h"

namespace vol {

class WriteLock {
 public:
  struct Pin {
    std::string volume_id;
    uint64_t seq = 0;
  };
  // `store` must outlive the lock. `purpose` is written into it ("vol put v").
  static absl::StatusOr<std::unique_ptr<WriteLock>> Acquire(ObjectStore& store,
                                                            absl::string_view purpose,
                                                            std::vector<Pin> pins = {});
  ~WriteLock();
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  // Call right before appending the commit that relies on this writer's objects.
  absl::Status Check();
  // Replaces the pins and rewrites the lock now.
  absl::Status SetPins(std::vector<Pin> pins);
  const std::string& key() const { return key_; }

 private:
  WriteLock(ObjectStore& store, std::string key, std::string purpose, int64_t created,
            std::vector<Pin> pins);
  std::string Body() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refresh();

  ObjectStore& store_;
  const std::string key_;
  const std::string purpose_;
  const int64_t created_;
  absl::Mutex mu_;
  std::vector<Pin> pins_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_ok_ ABSL_GUARDED_BY(mu_);
  bool lapsed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_WRITE_LOCK_H_
