// The object envelope: what is encoded decodes back, and every kind of damage
// is an error naming the object, never wrong bytes.
#include "fetcher/format/object_codec.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::RandomBytes;

bool Mentions(const absl::Status& s, const std::string& what) {
  return std::string(s.message()).find(what) != std::string::npos;
}

TEST(ObjectCodec, RoundTripRawAndZstd) {
  for (const std::string& raw : {std::string(), std::string("x"), std::string(100000, 'z'),
                                 RandomBytes(100000), RandomBytes(1 << 20, 7)}) {
    EncodedObject obj = EncodeObject(ObjectKind::kChunk, raw);
    EXPECT_EQ(obj.id, ObjectId::Of(raw));
    absl::StatusOr<std::string> back = DecodeObject(ObjectKind::kChunk, obj.bytes, "k");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, raw);
    ASSERT_TRUE(DecodeObjectWithId(ObjectKind::kChunk, obj.bytes, obj.id, "k").ok());
  }
}

TEST(ObjectCodec, CompressibleIsZstdAndIncompressibleIsRaw) {
  std::string text;
  for (int i = 0; text.size() < (4u << 20); ++i) text += "line " + std::to_string(i) + "\n";
  EncodedObject packed = EncodeObject(ObjectKind::kChunk, text);
  EXPECT_EQ(packed.codec, Codec::kZstd);
  EXPECT_EQ(packed.bytes[6], static_cast<char>(Codec::kZstd)) << "the header names the codec";
  EXPECT_LT(packed.bytes.size(), text.size() / 2);

  std::string noise = RandomBytes(4 << 20);
  EncodedObject raw = EncodeObject(ObjectKind::kChunk, noise);
  EXPECT_EQ(raw.codec, Codec::kRaw);
  EXPECT_EQ(raw.bytes.size(), kObjectHeaderSize + noise.size());
  EXPECT_EQ(raw.bytes.substr(kObjectHeaderSize), noise);

  // Compressible data with an incompressible middle still judged by samples:
  // whatever is chosen must decode.
  std::string mixed = text.substr(0, 1 << 20) + noise.substr(0, 2 << 20) + text.substr(0, 1 << 20);
  EncodedObject m = EncodeObject(ObjectKind::kChunk, mixed);
  EXPECT_EQ(*DecodeObject(ObjectKind::kChunk, m.bytes, "m"), mixed);
}

TEST(ObjectCodec, FlippedByteAnywhereIsDataLossNamingTheObject) {
  std::string text(200000, 'a');
  for (size_t i = 0; i < text.size(); i += 7) text[i] = static_cast<char>('a' + i % 26);
  for (const std::string& raw : {text, RandomBytes(300000)}) {
    EncodedObject obj = EncodeObject(ObjectKind::kChunk, raw);
    // Every header byte except the version and codec (their own errors),
    // then a spread of payload bytes.
    std::vector<size_t> offsets = {0, 1, 2, 3, 5, 8, 9, 15, 16, 20, 31};
    for (size_t at = kObjectHeaderSize; at < obj.bytes.size(); at += obj.bytes.size() / 13) {
      offsets.push_back(at);
    }
    offsets.push_back(obj.bytes.size() - 1);
    for (size_t at : offsets) {
      std::string bad = obj.bytes;
      bad[at] = static_cast<char>(bad[at] ^ 0x40);
      absl::StatusOr<std::string> got = DecodeObject(ObjectKind::kChunk, bad, "chunks/ab/abcd");
      ASSERT_FALSE(got.ok()) << "flipped byte " << at << " went unnoticed";
      EXPECT_TRUE(absl::IsDataLoss(got.status())) << at << ": " << got.status();
      EXPECT_TRUE(Mentions(got.status(), "chunks/ab/abcd")) << got.status();
    }
  }
}

TEST(ObjectCodec, TruncatedIsDataLoss) {
  EncodedObject obj = EncodeObject(ObjectKind::kTree, RandomBytes(5000));
  for (size_t n : {size_t{0}, size_t{10}, kObjectHeaderSize - 1, kObjectHeaderSize,
                   obj.bytes.size() / 2, obj.bytes.size() - 1}) {
    absl::StatusOr<std::string> got =
        DecodeObject(ObjectKind::kTree, absl::string_view(obj.bytes).substr(0, n), "trees/x");
    ASSERT_FALSE(got.ok()) << n;
    EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
    EXPECT_TRUE(Mentions(got.status(), "trees/x")) << got.status();
  }
  // Truncated zstd too.
  EncodedObject z = EncodeObject(ObjectKind::kTree, std::string(100000, 'q'));
  ASSERT_EQ(z.codec, Codec::kZstd);
  absl::StatusOr<std::string> got =
      DecodeObject(ObjectKind::kTree, absl::string_view(z.bytes).substr(0, z.bytes.size() - 3), "t");
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
}

TEST(ObjectCodec, UnknownVersionOrCodecAsksForAnUpgrade) {
  EncodedObject obj = EncodeObject(ObjectKind::kCommit, "payload that is long enough to matter");
  std::string v2 = obj.bytes;
  v2[4] = 2;
  absl::StatusOr<std::string> got = DecodeObject(ObjectKind::kCommit, v2, "volumes/x/commits/1");
  EXPECT_TRUE(absl::IsFailedPrecondition(got.status())) << got.status();
  EXPECT_TRUE(Mentions(got.status(), "upgrade")) << got.status();
  EXPECT_TRUE(Mentions(got.status(), "volumes/x/commits/1")) << got.status();
  // DecodeObjectWithId reports the version too, not a checksum mismatch.
  got = DecodeObjectWithId(ObjectKind::kCommit, v2, ObjectId::Of("other"), "c");
  EXPECT_TRUE(absl::IsFailedPrecondition(got.status())) << got.status();

  std::string codec9 = obj.bytes;
  codec9[6] = 9;
  got = DecodeObject(ObjectKind::kCommit, codec9, "c");
  EXPECT_TRUE(absl::IsFailedPrecondition(got.status())) << got.status();
  EXPECT_TRUE(Mentions(got.status(), "upgrade")) << got.status();
}

TEST(ObjectCodec, WrongKindAndWrongIdAreDataLoss) {
  EncodedObject obj = EncodeObject(ObjectKind::kChunk, "some chunk bytes");
  absl::StatusOr<std::string> got = DecodeObject(ObjectKind::kTree, obj.bytes, "t");
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  // A valid object stored under another object's name.
  got = DecodeObjectWithId(ObjectKind::kChunk, obj.bytes, ObjectId::Of("different"), "chunks/x");
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  EXPECT_TRUE(Mentions(got.status(), "chunks/x")) << got.status();
}

TEST(ObjectId, HexRoundTrip) {
  ObjectId id = ObjectId::Of("abc");
  ASSERT_EQ(id.Hex().size(), 32u);
  EXPECT_EQ(ObjectId::FromHex(id.Hex()), id);
  EXPECT_FALSE(ObjectId::FromHex("xyz").has_value());
  EXPECT_FALSE(ObjectId::FromHex(id.Hex().substr(1)).has_value());
  EXPECT_NE(ObjectId::Of("abc"), ObjectId::Of("abd"));
}

}  // namespace
}  // namespace vol
