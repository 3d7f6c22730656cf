// The envelope every stored object is wrapped in (docs/FORMAT.md):
//
//   0  4  magic "VOLO"
//   4  1  format version (kObjectFormatVersion; trees may be kTreeFormatVersion2)
//   5  1  kind (ObjectKind)
//   6  1  codec (0 raw, 1 zstd)
//   7  1  reserved, 0
//   8  8  raw size, little endian
//  16 16  XXH3-128 of the raw payload (the object id for chunks and trees)
//  32  …  payload, encoded by codec
//
// DecodeObject never returns bytes it has not checked: wrong magic, kind, size
// or checksum is DataLoss naming the object; a version this vol does not know
// for that kind, or an unknown codec, is FailedPrecondition ("upgrade vol": a
// newer vol wrote it), never a misread.
//
// Versions: every kind is written as version 1, except a tree that needs what
// version 1 cannot say (a name or link target that is not UTF-8, extended
// attributes, an owner: docs/FORMAT.md), which is written as version 2. So a
// store whose names are all UTF-8 stays readable by a vol that knows only
// version 1, and a tree it cannot read is refused, not misread.
#ifndef VOL_FETCHER_FORMAT_OBJECT_CODEC_H_
#define VOL_FETCHER_FORMAT_OBJECT_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "fetcher/format/object_id.h"

namespace vol {

inline constexpr uint8_t kObjectFormatVersion = 1;
inline constexpr uint8_t kTreeFormatVersion2 = 2;
inline constexpr size_t kObjectHeaderSize = 32;

enum class ObjectKind : uint8_t { kChunk = 1, kTree = 2, kCommit = 3, kVolume = 4 };
enum class Codec : uint8_t { kRaw = 0, kZstd = 1 };

const char* KindName(ObjectKind kind);
// The newest format version this vol reads for `kind`.
uint8_t MaxFormatVersion(ObjectKind kind);

struct EncodedObject {
  ObjectId id;        // XXH3-128 of the raw payload
  std::string bytes;  // header + encoded payload, ready to store
  Codec codec = Codec::kRaw;
};

// Compresses with zstd when that saves at least 1/16 of the size (model
// weights barely compress, and storing them raw saves every reader the work).
EncodedObject EncodeObject(ObjectKind kind, absl::string_view raw, bool try_compress = true,
                           uint8_t version = kObjectFormatVersion);

// `name` is used in error messages (usually the store key).
absl::StatusOr<std::string> DecodeObject(ObjectKind kind, absl::string_view bytes,
                                         absl::string_view name);

// Like DecodeObjectWithId, without copying: the payload as a view into
// `bytes` (raw codec) or into `*scratch` (zstd), valid while both live.
absl::StatusOr<absl::string_view> DecodeObjectView(ObjectKind kind, absl::string_view bytes,
                                                   const ObjectId& expected, absl::string_view name,
                                                   std::string* scratch);

// Like DecodeObject, and also requires the payload hash to equal `expected`.
absl::StatusOr<std::string> DecodeObjectWithId(ObjectKind kind, absl::string_view bytes,
                                               const ObjectId& expected, absl::string_view name);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_OBJECT_CODEC_H_
