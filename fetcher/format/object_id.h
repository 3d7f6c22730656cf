// ObjectId: the XXH3-128 of an object's uncompressed content, the name under
// which chunks and trees are stored. Equal content has equal ids, which is
// what gives dedup across files, snapshots and volumes; every read recomputes
// the hash, so a wrong byte is caught by the name itself.
#ifndef VOL_FETCHER_FORMAT_OBJECT_ID_H_
#define VOL_FETCHER_FORMAT_OBJECT_ID_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace vol {

class ObjectId {
 public:
  ObjectId() = default;
  static ObjectId Of(absl::string_view bytes);
  // Parses 32 lowercase hex digits; nullopt otherwise.
  static std::optional<ObjectId> FromHex(absl::string_view hex);
  // The id whose canonical (big-endian) bytes are p[0..15].
  static ObjectId FromBytes(const uint8_t* p) {
    ObjectId id;
    for (size_t i = 0; i < id.bytes_.size(); ++i) id.bytes_[i] = p[i];
    return id;
  }

  std::string Hex() const;
  bool IsZero() const { return bytes_ == std::array<uint8_t, 16>{}; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }

  friend bool operator==(const ObjectId&, const ObjectId&) = default;
  friend auto operator<=>(const ObjectId&, const ObjectId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ObjectId& id) {
    return H::combine_contiguous(std::move(h), id.bytes_.data(), id.bytes_.size());
  }

 private:
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_OBJECT_ID_H_
