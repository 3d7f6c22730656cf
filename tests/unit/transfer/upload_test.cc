// Chunk boundaries through the upload path: a file becomes ceil(size / 4 MiB)
// chunks, all full but the last, each stored once, zstd when it compresses
// and raw when not, and FetchChunk gives back exactly the file's bytes.
#include "fetcher/transfer/upload.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "fetcher/format/chunk.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/util/fs.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::RandomBytes;
using testing::TempDir;

// Uploads `content` as one file; returns its entry.
Entry UploadOne(ObjectStore& store, const TempDir& dir, const std::string& content) {
  std::string path = dir / "input";
  EXPECT_TRUE(WriteFileAtomic(path, content).ok());
  std::vector<LocalItem> items;
  EXPECT_TRUE(ScanLocal(path, *ParseVolumePath("/f"), items).ok());
  EXPECT_EQ(items.size(), 1u);
  UploadStats stats;
  absl::StatusOr<std::vector<Entry>> entries = UploadItems(store, items, stats, nullptr);
  EXPECT_TRUE(entries.ok()) << entries.status();
  if (!entries.ok() || entries->size() != 1) return Entry{};
  EXPECT_EQ(stats.files, 1u);
  EXPECT_EQ(stats.bytes, content.size());
  return (*entries)[0];
}

std::string ReadBack(ObjectStore& store, const Entry& e) {
  std::string out;
  for (const ChunkRef& ref : e.chunks) {
    absl::StatusOr<std::string> data = FetchChunk(store, ref);
    EXPECT_TRUE(data.ok()) << data.status();
    if (data.ok()) out += *data;
  }
  return out;
}

class ChunkBoundaries : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ChunkBoundaries, SizesAndContent) {
  const uint64_t size = GetParam();
  TempDir dir;
  auto store = FileStoreIn(dir);
  std::string content = RandomBytes(size, size + 1);
  Entry e = UploadOne(*store, dir, content);
  EXPECT_EQ(e.type, EntryType::kFile);
  EXPECT_EQ(e.size, size);
  ASSERT_EQ(e.chunks.size(), (size + kChunkSize - 1) / kChunkSize);
  for (size_t i = 0; i < e.chunks.size(); ++i) {
    uint64_t want = i + 1 < e.chunks.size() ? kChunkSize : size - i * kChunkSize;
    EXPECT_EQ(e.chunks[i].size, want) << "chunk " << i;
    EXPECT_EQ(e.chunks[i].id, ObjectId::Of(absl::string_view(content).substr(i * kChunkSize, want)));
  }
  EXPECT_EQ(ReadBack(*store, e), content);
  EXPECT_EQ(store->List("chunks/")->size(), e.chunks.size());
}

INSTANTIATE_TEST_SUITE_P(Upload, ChunkBoundaries,
                         ::testing::Values(0, 1, kChunkSize - 1, kChunkSize, kChunkSize + 1,
                                           3 * kChunkSize + 12345),
                         [](const ::testing::TestParamInfo<uint64_t>& p) {
                           return "Bytes" + std::to_string(p.param);
                         });

uint8_t StoredCodec(ObjectStore& store, const ChunkRef& ref) {
  absl::StatusOr<std::string> bytes = store.Get(ChunkKey(ref.id));
  EXPECT_TRUE(bytes.ok() && bytes->size() >= kObjectHeaderSize);
  return bytes.ok() && bytes->size() > 6 ? static_cast<uint8_t>((*bytes)[6]) : 255;
}

TEST(Upload, IncompressibleStoredRawCompressibleStoredZstd) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  std::string noise = RandomBytes(kChunkSize + 1000);
  Entry raw = UploadOne(*store, dir, noise);
  ASSERT_EQ(raw.chunks.size(), 2u);
  for (const ChunkRef& c : raw.chunks) EXPECT_EQ(StoredCodec(*store, c), uint8_t(Codec::kRaw));
  EXPECT_EQ(store->Head(ChunkKey(raw.chunks[0].id))->size, kChunkSize + kObjectHeaderSize);

  std::string text;
  for (int i = 0; text.size() < kChunkSize + 5000; ++i) text += std::to_string(i * 7919) + " words\n";
  Entry packed = UploadOne(*store, dir, text);
  for (const ChunkRef& c : packed.chunks) EXPECT_EQ(StoredCodec(*store, c), uint8_t(Codec::kZstd));
  EXPECT_LT(store->Head(ChunkKey(packed.chunks[0].id))->size, kChunkSize / 2);
  EXPECT_EQ(ReadBack(*store, packed), text);
}

TEST(Upload, SameContentIsStoredOnce) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  // Two equal chunks in one file, and the file again.
  std::string block = RandomBytes(kChunkSize);
  Entry a = UploadOne(*store, dir, block + block);
  EXPECT_EQ(a.chunks[0], a.chunks[1]);
  EXPECT_EQ(store->List("chunks/")->size(), 1u);
  std::string path = dir / "input";
  std::vector<LocalItem> items;
  ASSERT_TRUE(ScanLocal(path, *ParseVolumePath("/g"), items).ok());
  UploadStats stats;
  ASSERT_TRUE(UploadItems(*store, items, stats, nullptr).ok());
  EXPECT_EQ(stats.uploaded, 0u) << "a second upload of the same bytes sends nothing";
}

TEST(Upload, ChunkThatFailsVerificationIsAnErrorNamingIt) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  Entry e = UploadOne(*store, dir, RandomBytes(1000));
  std::string key = ChunkKey(e.chunks[0].id);
  std::string bytes = *store->Get(key);
  bytes[bytes.size() - 1] ^= 1;
  ASSERT_TRUE(store->Put(key, bytes).ok());
  absl::StatusOr<std::string> got = FetchChunk(*store, e.chunks[0]);
  ASSERT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  EXPECT_NE(got.status().message().find(key), std::string::npos) << got.status();
  // A chunk whose stored size disagrees with the tree.
  ChunkRef wrong = e.chunks[0];
  wrong.size += 1;
  ASSERT_TRUE(store->Put(key, EncodeObject(ObjectKind::kChunk, RandomBytes(1000)).bytes).ok());
  got = FetchChunk(*store, wrong);
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  ASSERT_TRUE(store->Delete(key).ok());
  got = FetchChunk(*store, e.chunks[0]);
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  EXPECT_NE(got.status().message().find("missing"), std::string::npos) << got.status();
}

TEST(Upload, ScanDescribesATree) {
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir / "src/a/b").ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "src/a/f", "x", 0750).ok());
  ASSERT_EQ(symlink("a/f", (dir / "src/l").c_str()), 0);
  std::vector<LocalItem> items;
  ASSERT_TRUE(ScanLocal(dir / "src", *ParseVolumePath("/d"), items).ok());
  std::vector<std::string> got;
  for (const LocalItem& i : items) got.push_back(i.dest.ToString() + ":" + EntryTypeName(i.type));
  EXPECT_EQ(got, (std::vector<std::string>{"/d:dir", "/d/a:dir", "/d/a/b:dir", "/d/a/f:file",
                                           "/d/l:symlink"}));
  EXPECT_EQ(items[3].mode, 0750u);
  EXPECT_EQ(items[4].target, "a/f");
  // A FIFO cannot be stored.
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0644), 0);
  items.clear();
  absl::Status s = ScanLocal(dir / "fifo", *ParseVolumePath("/x"), items);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

}  // namespace
}  // namespace vol
