#include "fetcher/session/read_ahead.h"

#include <algorithm>
#include <cstdlib>

#include "fetcher/session/content_cache.h"

namespace vol {

ReadAheadParams ReadAheadParamsFromEnv(uint64_t chunk_size) {
  ReadAheadParams p;
  if (const char* s = getenv("VOL_READAHEAD_MAX"); s && *s) {
    if (absl::StatusOr<uint64_t> v = ParseByteSize(s); v.ok()) {
      p.max_chunks = *v / chunk_size;
      p.initial_chunks = std::min(p.initial_chunks, p.max_chunks);
    }
  }
  if (const char* s = getenv("VOL_READAHEAD_INFLIGHT"); s && *s) {
    if (absl::StatusOr<uint64_t> v = ParseByteSize(s); v.ok()) p.max_inflight = *v / chunk_size;
  }
  return p;
}

ReadAhead::Range ReadAhead::OnRequest(uint64_t first, uint64_t last, uint64_t chunks) {
  bool sequential = seen_ && first >= prev_first_ && first <= prev_end_;
  if (sequential) {
    window_ = std::min(std::max(window_ * 2, params_.initial_chunks), params_.max_chunks);
  } else {
    window_ = params_.initial_chunks;
  }
  seen_ = true;
  Range r;
  r.first = last + 1;
  uint64_t end = std::min(chunks, last + 1 + window_);
  r.count = end > r.first ? end - r.first : 0;
  prev_first_ = first;
  prev_end_ = std::max(end, last + 1);
  return r;
}

}  // namespace vol
