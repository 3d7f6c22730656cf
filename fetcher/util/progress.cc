#include "fetcher/util/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace vol {

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%d B", bytes) : absl::StrFormat("%.1f %s", v, kUnits[u]);
}

Progress::Progress(std::string verb, uint64_t total_bytes)
    : verb_(std::move(verb)),
      total_(total_bytes),
      start_ns_(absl::GetCurrentTimeNanos()),
      enabled_(isatty(STDERR_FILENO) == 1) {
  if (!enabled_) return;
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(200))) Draw(false);
  });
}

Progress::~Progress() {
  if (!enabled_) return;
  stop_.Notify();
  thread_.join();
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
}

void Progress::Draw(bool) {
  uint64_t done = done_.load(std::memory_order_relaxed);
  double secs = static_cast<double>(absl::GetCurrentTimeNanos() - start_ns_) / 1e9;
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  std::string left = "";
  if (rate > 0 && total_ > done) {
    int64_t s = static_cast<int64_t>(static_cast<double>(total_ - done) / rate);
    left = absl::StrFormat("  %d:%02d left", s / 60, s % 60);
  }
  fprintf(stderr, "\r\033[K%s %s / %s  %s/s%s", verb_.c_str(), HumanBytes(done).c_str(),
          HumanBytes(total_).c_str(), HumanBytes(static_cast<uint64_t>(rate)).c_str(), left.c_str());
  fflush(stderr);
}

}  // namespace vol
