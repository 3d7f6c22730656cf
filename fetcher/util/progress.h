// Progress: "12.0 MiB / 1.0 GiB  45.2 MiB/s  0:21 left" on stderr, redrawn a
// few times a second, only when stderr is a terminal (quiet when piped).
#ifndef VOL_FETCHER_UTIL_PROGRESS_H_
#define VOL_FETCHER_UTIL_PROGRESS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

namespace vol {

class Progress {
 public:
  Progress(std::string verb, uint64_t total_bytes);
  ~Progress();  // erases the line
  void Add(uint64_t bytes) { done_.fetch_add(bytes, std::memory_order_relaxed); }

 private:
  void Draw(bool final);

  std::string verb_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  int64_t start_ns_;
  bool enabled_;
  absl::Notification stop_;
  std::thread thread_;
};

// "1.5 GiB", "12.0 MiB", "512 B".
std::string HumanBytes(uint64_t bytes);

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_PROGRESS_H_
