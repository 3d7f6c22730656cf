#include "fetcher/format/chunk.h"

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/content_object.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"

namespace vol {

absl::StatusOr<StoredChunk> StoreChunk(ObjectStore& store, absl::string_view raw) {
  StoredChunk out;
  out.ref.id = ObjectId::Of(raw);
  out.ref.size = raw.size();
  absl::StatusOr<ContentOutcome> stored =
      StoreContentObject(store, ChunkKey(out.ref.id), EncodeObject(ObjectKind::kChunk, raw));
  if (!stored.ok()) return stored.status();
  out.uploaded = stored->uploaded;
  out.repaired = stored->repaired;
  return out;
}

absl::StatusOr<std::string> FetchChunk(ObjectStore& store, const ChunkRef& ref) {
  std::string key = ChunkKey(ref.id);
  absl::StatusOr<std::string> bytes = store.Get(key);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(absl::StrCat("chunk ", key, " is missing from store ", store.Url()));
    }
    return bytes.status();
  }
  absl::StatusOr<std::string> raw = DecodeObjectWithId(ObjectKind::kChunk, *bytes, ref.id, key);
  if (!raw.ok()) return raw.status();
  if (raw->size() != ref.size) {
    return absl::DataLossError(absl::StrCat("chunk ", key, " has ", raw->size(),
                                            " bytes where the tree says ", ref.size));
  }
  return raw;
}

absl::StatusOr<absl::string_view> FetchChunkView(ObjectStore& store, const ChunkRef& ref, ChunkBuffers& buffers,
                                                 uint64_t* stored) {
  std::string key = ChunkKey(ref.id);
  absl::StatusOr<std::string_view> bytes = store.GetInto(key, &buffers.object);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(absl::StrCat("chunk ", key, " is missing from store ", store.Url()));
    }
    return bytes.status();
  }
  if (stored != nullptr) *stored = bytes->size();
  absl::StatusOr<absl::string_view> raw = DecodeObjectView(
      ObjectKind::kChunk, absl::string_view(bytes->data(), bytes->size()), ref.id, key, &buffers.decoded);
  if (!raw.ok()) return raw.status();
  if (raw->size() != ref.size) {
    return absl::DataLossError(absl::StrCat("chunk ", key, " has ", raw->size(),
                                            " bytes where the tree says ", ref.size));
  }
  return raw;
}

}  // namespace vol
