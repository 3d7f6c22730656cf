// ThreadPool: a fixed set of workers draining one FIFO of tasks. Tasks hold
// only descriptions of work (a file and an offset), never the data, so the
// memory in flight is bounded by the number of workers, not the queue length.
#ifndef VOL_FETCHER_UTIL_THREAD_POOL_H_
#define VOL_FETCHER_UTIL_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vol {

class ThreadPool {
 public:
  explicit ThreadPool(int workers);
  ~ThreadPool();  // finishes the queued tasks, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  // Blocks until every task submitted so far has finished.
  void Wait();

  // The default number of workers for store I/O: enough to hide a network
  // store's latency, a few per core.
  static int DefaultWorkers();

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_THREAD_POOL_H_
