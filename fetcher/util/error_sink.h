// ErrorSink: the first error of many tasks running on a pool. Thread-safe.
#ifndef VOL_FETCHER_UTIL_ERROR_SINK_H_
#define VOL_FETCHER_UTIL_ERROR_SINK_H_

#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace vol {

class ErrorSink {
 public:
  // Keeps `s` if it is the first failure; an OK status is ignored.
  void Add(absl::Status s) {
    if (s.ok()) return;
    absl::MutexLock lock(&mu_);
    if (status_.ok()) status_ = std::move(s);
    failed_.store(true, std::memory_order_relaxed);
  }
  // Cheap, for tasks that stop early once anything failed.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> failed_{false};
};

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_ERROR_SINK_H_
