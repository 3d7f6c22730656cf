// ReadAhead: how far past a demand read the fetcher fetches, per open file.
//
// The algorithm, in chunks of 4 MiB (the bitmap's block):
//   - A file starts with no window. A demand request for chunks [first, last]
//     is *sequential* when `first` lies within what the previous request
//     covered plus one chunk: [prev_first, prev_last + prev_window + 1]. The
//     shim only asks when it meets a block that is not present, so a
//     sequential reader asks at the end of the last read-ahead, which is
//     still counted as sequential.
//   - Sequential: the window doubles (1 → 2 → 4 → … chunks) up to
//     `max_chunks` (16 chunks = 64 MiB). Otherwise it restarts at
//     `initial_chunks` (1 chunk = 4 MiB): a random reader gets one chunk
//     ahead, never more.
//   - The read-ahead is [last + 1, last + window], clipped to the file.
//   - Memory: read-ahead chunks wait in the fetch queue as descriptions; the
//     fetch engine admits at most `max_inflight` of them (16 = 64 MiB) at a
//     time across all files, and each worker holds at most one chunk in
//     memory, so the bytes in memory stay under workers × 2 × 4 MiB.
// So `head -c 4096` of a cold file fetches chunk 0 plus one chunk (8 MiB);
// a sequential read of a 1 GiB file reaches a 64 MiB window after 5 requests.
#ifndef VOL_FETCHER_SESSION_READ_AHEAD_H_
#define VOL_FETCHER_SESSION_READ_AHEAD_H_

#include <cstdint>

namespace vol {

struct ReadAheadParams {
  uint64_t initial_chunks = 1;
  uint64_t max_chunks = 16;
  uint64_t max_inflight = 16;  // read-ahead chunks queued or running, all files together
};

// VOL_READAHEAD_MAX (bytes, e.g. "64M"; "0" turns read-ahead off) and
// VOL_READAHEAD_INFLIGHT (bytes) override the defaults.
ReadAheadParams ReadAheadParamsFromEnv(uint64_t chunk_size);

class ReadAhead {
 public:
  explicit ReadAhead(const ReadAheadParams& params) : params_(params) {}

  struct Range {
    uint64_t first = 0;
    uint64_t count = 0;  // 0: nothing to read ahead
  };
  // Records a demand request for chunks [first, last] of a file of `chunks`
  // chunks and returns the chunks to read ahead.
  Range OnRequest(uint64_t first, uint64_t last, uint64_t chunks);
  uint64_t window() const { return window_; }

 private:
  ReadAheadParams params_;
  bool seen_ = false;
  uint64_t prev_first_ = 0;
  uint64_t prev_end_ = 0;  // one past the last chunk the previous request covered, read-ahead included
  uint64_t window_ = 0;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_READ_AHEAD_H_
