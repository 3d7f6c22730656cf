// Chunks: pieces of file content, fixed size (kChunkSize) except a file's last,
// named by the XXH3-128 of their raw bytes and stored zstd-compressed unless
// that does not pay. A chunk is read back only through FetchChunk, which checks
// the bytes against the name and the expected size: wrong bytes are an error
// naming the object, never returned.
#ifndef VOL_FETCHER_FORMAT_CHUNK_H_
#define VOL_FETCHER_FORMAT_CHUNK_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"

namespace vol {

inline constexpr uint64_t kChunkSize = 4 << 20;

struct StoredChunk {
  ChunkRef ref;
  uint64_t uploaded = 0;  // bytes sent to the store: 0 when it already had the chunk
  bool repaired = false;  // the stored chunk was damaged and has been replaced
};

// Stores `raw` as a chunk unless the store already holds it intact (dedup;
// see StoreContentObject for what "intact" costs and how old chunks are kept).
absl::StatusOr<StoredChunk> StoreChunk(ObjectStore& store, absl::string_view raw);

// Reads, decompresses and verifies a chunk.
absl::StatusOr<std::string> FetchChunk(ObjectStore& store, const ChunkRef& ref);

// The memory one thread fetches chunks through, reused from chunk to chunk.
struct ChunkBuffers {
  std::string object;   // the stored object as read (ObjectStore::GetInto)
  std::string decoded;  // zstd's output, for compressed chunks
};

// FetchChunk into `buffers`: the chunk's verified raw bytes, valid until
// `buffers` is used again. *stored, if given, is set to the bytes read from
// the store.
absl::StatusOr<absl::string_view> FetchChunkView(ObjectStore& store, const ChunkRef& ref, ChunkBuffers& buffers,
                                                 uint64_t* stored = nullptr);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_CHUNK_H_
