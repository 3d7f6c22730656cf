#include "fetcher/format/object_id.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace vol {

ObjectId ObjectId::Of(absl::string_view bytes) {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(bytes.data(), bytes.size()));
  ObjectId id;
  std::copy(std::begin(canon.digest), std::end(canon.digest), id.bytes_.begin());
  return id;
}

namespace {

// Each byte's value as a lowercase hex digit, or -1. A table rather than
// comparisons: a tree names an id per file and ids are random, so branches
// on their digits are mispredicted about half the time.
constexpr std::array<int8_t, 256> kHexDigit = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  return t;
}();

}  // namespace

std::optional<ObjectId> ObjectId::FromHex(absl::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  ObjectId id;
  int bad = 0;  // negative once any digit was not one
  for (size_t i = 0; i < 16; ++i) {
    int hi = kHexDigit[static_cast<uint8_t>(hex[2 * i])];
    int lo = kHexDigit[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;
    id.bytes_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (bad < 0) return std::nullopt;
  return id;
}

std::string ObjectId::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 15];
  }
  return out;
}

}  // namespace vol
