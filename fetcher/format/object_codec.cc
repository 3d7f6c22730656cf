#include "fetcher/format/object_codec.h"

#include <zstd.h>

#include <cstring>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vol {
namespace {

constexpr char kMagic[4] = {'V', 'O', 'L', 'O'};
constexpr int kZstdLevel = 3;

void PutLe64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
uint64_t GetLe64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return v;
}

// Whether zstd is worth trying on `raw`: large payloads are judged by three
// 16 KiB samples, so incompressible data (model weights, archives) costs a
// few microseconds instead of a full compression pass.
bool LooksCompressible(absl::string_view raw) {
  constexpr size_t kSample = 16 << 10;
  if (raw.size() < 16 * kSample) return true;
  char out[ZSTD_COMPRESSBOUND(kSample)];
  size_t packed = 0;
  for (size_t at : {size_t{0}, raw.size() / 2, raw.size() - kSample}) {
    size_t n = ZSTD_compress(out, sizeof out, raw.data() + at, kSample, 1);
    if (ZSTD_isError(n)) return true;
    packed += n;
  }
  return packed <= 3 * kSample - 3 * kSample / 16;
}

absl::Status Corrupt(absl::string_view name, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("object ", name, " is corrupt (", what,
                                          "); the store holds damaged data"));
}

}  // namespace

const char* KindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kChunk: return "chunk";
    case ObjectKind::kTree: return "tree";
    case ObjectKind::kCommit: return "commit";
    case ObjectKind::kVolume: return "volume";
  }
  return "unknown";
}

uint8_t MaxFormatVersion(ObjectKind kind) {
  return kind == ObjectKind::kTree ? kTreeFormatVersion2 : kObjectFormatVersion;
}

EncodedObject EncodeObject(ObjectKind kind, absl::string_view raw, bool try_compress, uint8_t version) {
  EncodedObject out;
  out.id = ObjectId::Of(raw);
  std::string header(kObjectHeaderSize, '\0');
  memcpy(header.data(), kMagic, 4);
  header[4] = static_cast<char>(version);
  header[5] = static_cast<char>(kind);
  PutLe64(header.data() + 8, raw.size());
  memcpy(header.data() + 16, out.id.bytes().data(), 16);

  if (try_compress && raw.size() >= 64 && LooksCompressible(raw)) {
    size_t bound = ZSTD_compressBound(raw.size());
    std::string packed(kObjectHeaderSize + bound, '\0');
    size_t n = ZSTD_compress(packed.data() + kObjectHeaderSize, bound, raw.data(), raw.size(),
                             kZstdLevel);
    if (!ZSTD_isError(n) && n <= raw.size() - raw.size() / 16) {
      packed.resize(kObjectHeaderSize + n);
      header[6] = static_cast<char>(Codec::kZstd);
      memcpy(packed.data(), header.data(), kObjectHeaderSize);
      out.bytes = std::move(packed);
      out.codec = Codec::kZstd;
      return out;
    }
  }
  header[6] = static_cast<char>(Codec::kRaw);
  out.bytes.reserve(kObjectHeaderSize + raw.size());
  out.bytes.append(header).append(raw.data(), raw.size());
  return out;
}

namespace {

// The checks and decoding of DecodeObject; the payload lands in *scratch only
// when it must be decompressed.
absl::StatusOr<absl::string_view> Decode(ObjectKind kind, absl::string_view bytes, absl::string_view name,
                                         std::string* scratch) {
  if (bytes.size() < kObjectHeaderSize) {
    return Corrupt(name, absl::StrCat("only ", bytes.size(), " bytes, truncated"));
  }
  if (memcmp(bytes.data(), kMagic, 4) != 0) return Corrupt(name, "not a vol object");
  uint8_t version = static_cast<uint8_t>(bytes[4]);
  auto newer = [&] {
    return absl::FailedPreconditionError(absl::StrCat(
        "object ", name, " has format version ", version, "; this vol reads ", KindName(kind),
        " objects up to version ", MaxFormatVersion(kind), ": upgrade vol to read this store"));
  };
  if (version == 0) return Corrupt(name, "format version 0");
  if (version > kTreeFormatVersion2) return newer();
  if (static_cast<uint8_t>(bytes[5]) != static_cast<uint8_t>(kind)) {
    return Corrupt(name, absl::StrCat("expected a ", KindName(kind), ", found kind ",
                                      static_cast<int>(static_cast<uint8_t>(bytes[5]))));
  }
  if (version > MaxFormatVersion(kind)) return newer();
  uint64_t raw_size = GetLe64(bytes.data() + 8);
  absl::string_view payload = bytes.substr(kObjectHeaderSize);
  absl::string_view raw;
  switch (static_cast<Codec>(bytes[6])) {
    case Codec::kRaw:
      if (payload.size() != raw_size) {
        return Corrupt(name, absl::StrCat("payload is ", payload.size(), " bytes, header says ",
                                          raw_size));
      }
      raw = payload;
      break;
    case Codec::kZstd: {
      unsigned long long framed = ZSTD_getFrameContentSize(payload.data(), payload.size());
      if (framed != raw_size) return Corrupt(name, "compressed frame size mismatch");
      scratch->resize(raw_size);
      size_t n = ZSTD_decompress(scratch->data(), scratch->size(), payload.data(), payload.size());
      if (ZSTD_isError(n) || n != raw_size) {
        return Corrupt(name, absl::StrCat("zstd: ", ZSTD_isError(n) ? ZSTD_getErrorName(n)
                                                                    : "short output"));
      }
      raw = *scratch;
      break;
    }
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "object ", name, " uses codec ", static_cast<int>(bytes[6]),
          " unknown to this vol: upgrade vol to read this store"));
  }
  if (memcmp(bytes.data() + 16, ObjectId::Of(raw).bytes().data(), 16) != 0) {
    return Corrupt(name, "checksum mismatch");
  }
  return raw;
}

absl::Status CheckNamed(ObjectKind kind, absl::string_view bytes, const ObjectId& expected, absl::string_view name) {
  if (bytes.size() >= kObjectHeaderSize &&
      memcmp(bytes.data() + 16, expected.bytes().data(), 16) != 0 &&
      memcmp(bytes.data(), kMagic, 4) == 0 &&
      static_cast<uint8_t>(bytes[4]) >= 1 && static_cast<uint8_t>(bytes[4]) <= MaxFormatVersion(kind)) {
    return Corrupt(name, "its header names different content");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> DecodeObject(ObjectKind kind, absl::string_view bytes,
                                         absl::string_view name) {
  std::string scratch;
  absl::StatusOr<absl::string_view> raw = Decode(kind, bytes, name, &scratch);
  if (!raw.ok()) return raw.status();
  if (raw->data() == scratch.data()) return scratch;
  return std::string(*raw);
}

absl::StatusOr<absl::string_view> DecodeObjectView(ObjectKind kind, absl::string_view bytes,
                                                   const ObjectId& expected, absl::string_view name,
                                                   std::string* scratch) {
  if (absl::Status s = CheckNamed(kind, bytes, expected, name); !s.ok()) return s;
  return Decode(kind, bytes, name, scratch);
}

absl::StatusOr<std::string> DecodeObjectWithId(ObjectKind kind, absl::string_view bytes,
                                               const ObjectId& expected, absl::string_view name) {
  if (absl::Status s = CheckNamed(kind, bytes, expected, name); !s.ok()) return s;
  return DecodeObject(kind, bytes, name);
}

}  // namespace vol
