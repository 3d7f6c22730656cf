// Trees: canonical encoding (equal trees, equal bytes, equal ids), decode of
// what was encoded, and refusal of malformed documents.
#include "fetcher/format/tree.h"

#include <gtest/gtest.h>

#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

Tree Sample() {
  Tree t;
  Entry dir;
  dir.name = "dir";
  dir.type = EntryType::kDir;
  dir.mode = 0750;
  dir.mtime_ns = 1234567890123456789;
  dir.size = 42;
  dir.files = 3;
  dir.tree = ObjectId::Of("subtree");
  Entry file;
  file.name = "file with spaces ✓";
  file.type = EntryType::kFile;
  file.mode = 04755;
  file.mtime_ns = -5;  // before the epoch
  file.chunks = {{ObjectId::Of("c1"), 4 << 20}, {ObjectId::Of("c2"), 17}};
  file.size = (4 << 20) + 17;
  Entry link;
  link.name = "link";
  link.type = EntryType::kSymlink;
  link.mode = 0777;
  link.target = "../some where/ü";
  link.size = link.target.size();
  Entry empty;
  empty.name = "zero";
  empty.type = EntryType::kFile;
  t.entries = {dir, file, link, empty};
  return t;
}

TEST(Tree, EncodeDecodeRoundTrip) {
  Tree t = Sample();
  absl::StatusOr<Tree> back = DecodeTree(EncodeTree(t), "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->entries, t.entries);
  EXPECT_TRUE(DecodeTree(EncodeTree(Tree{}), "t")->entries.empty());
}

TEST(Tree, EncodingIsCanonical) {
  Tree a = Sample(), b = Sample();
  EXPECT_EQ(EncodeTree(a), EncodeTree(b));
  EXPECT_EQ(EncodeObject(ObjectKind::kTree, EncodeTree(a)).id,
            EncodeObject(ObjectKind::kTree, EncodeTree(b)).id);
  // Decoding and re-encoding gives the same bytes.
  EXPECT_EQ(EncodeTree(*DecodeTree(EncodeTree(a), "t")), EncodeTree(a));
  // Any change changes the bytes.
  b.entries[1].mtime_ns += 1;
  EXPECT_NE(EncodeTree(a), EncodeTree(b));
  b = Sample();
  b.entries[2].mode = 0755;
  EXPECT_NE(EncodeTree(a), EncodeTree(b));
}

TEST(Tree, WriteAndReadThroughAStore) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  Tree t = Sample();
  absl::StatusOr<ObjectId> id = WriteTree(*store, t);
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<Tree> back = ReadTree(*store, *id);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->entries, t.entries);
  // Writing an equal tree again names the same object.
  EXPECT_EQ(*WriteTree(*store, Sample()), *id);
  EXPECT_EQ(store->List("trees/")->size(), 1u);
  // The empty tree is implied: readable without being stored.
  TempDir other;
  auto empty_store = FileStoreIn(other);
  EXPECT_TRUE(ReadTree(*empty_store, EmptyTreeId())->entries.empty());
  // A missing tree is DataLoss naming it.
  absl::StatusOr<Tree> missing = ReadTree(*empty_store, *id);
  EXPECT_TRUE(absl::IsDataLoss(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find(TreeKey(*id)), std::string::npos);
}

TEST(Tree, TotalsAndFind) {
  Tree t = Sample();
  EXPECT_EQ(t.TotalFiles(), 3u + 1 + 1 + 1);          // dir's 3, file, link, zero
  EXPECT_EQ(t.TotalBytes(), 42u + (4 << 20) + 17);   // symlinks add no bytes
  ASSERT_NE(t.Find("link"), nullptr);
  EXPECT_EQ(t.Find("link")->target, "../some where/ü");
  EXPECT_EQ(t.Find("nope"), nullptr);
  EXPECT_EQ(t.Find(""), nullptr);
}

TEST(Tree, MalformedDocumentsAreDataLoss) {
  std::string good = EncodeTree(Sample());
  auto expect_bad = [](const std::string& doc) {
    absl::StatusOr<Tree> t = DecodeTree(doc, "trees/zz");
    EXPECT_TRUE(absl::IsDataLoss(t.status())) << doc << " -> " << t.status();
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("trees/zz"), std::string::npos);
    }
  };
  expect_bad("");
  expect_bad("not json");
  expect_bad("[]");
  expect_bad(R"({"entries":[{"name":"a"}]})");
  expect_bad(R"({"entries":[{"name":"..","type":"file","mode":420,"mtime":0,"size":0,"chunks":[]}]})");
  expect_bad(R"({"entries":[{"name":"a/b","type":"file","mode":420,"mtime":0,"size":0,"chunks":[]}]})");
  expect_bad(R"({"entries":[{"name":"a","type":"fifo","mode":420,"mtime":0,"size":0}]})");
  // Chunks that do not add up to the size.
  expect_bad(R"({"entries":[{"name":"a","type":"file","mode":420,"mtime":0,"size":5,"chunks":[]}]})");
  // Unsorted or duplicate names.
  std::string e = R"({"name":"N","type":"file","mode":420,"mtime":0,"size":0,"chunks":[]})";
  auto two = [&](const char* x, const char* y) {
    std::string a = e, b = e;
    a.replace(a.find('N'), 1, x);
    b.replace(b.find('N'), 1, y);
    return R"({"entries":[)" + a + "," + b + "]}";
  };
  ASSERT_TRUE(DecodeTree(two("a", "b"), "t").ok());
  expect_bad(two("b", "a"));
  expect_bad(two("a", "a"));
  // Truncated halfway.
  expect_bad(good.substr(0, good.size() / 2));
}


// Version 1 is what every vol so far wrote and read: a tree whose names and
// targets are UTF-8 and that has no xattrs or owner encodes to exactly the
// same bytes as before (and so has the same id), and is stored as version 1.
TEST(Tree, Utf8TreesAreStillVersion1ByteForByte) {
  Tree t;
  Entry f;
  f.name = "café";
  f.mode = 0644;
  f.mtime_ns = 7;
  f.size = 3;
  f.chunks = {{*ObjectId::FromHex("0123456789abcdef0123456789abcdef"), 3}};
  Entry l;
  l.name = "l";
  l.type = EntryType::kSymlink;
  l.mode = 0777;
  l.target = "café";
  l.size = 5;
  t.entries = {f, l};
  EXPECT_EQ(EncodeTree(t),
            R"({"entries":[{"chunks":[["0123456789abcdef0123456789abcdef",3]],"mode":420,"mtime":7,"name":"café",)"
            R"("size":3,"type":"file"},{"mode":511,"mtime":0,"name":"l","size":5,"target":"café","type":"symlink"}]})");
  EXPECT_EQ(TreeFormatVersion(t), 1);
  EXPECT_EQ(TreeFormatVersion(Sample()), 1);
  EXPECT_EQ(EmptyTreeId(), ObjectId::Of(R"({"entries":[]})"));
}

TEST(Tree, ByteNamesXattrsAndOwnersNeedVersion2AndRoundTrip) {
  Tree t = Sample();
  Entry latin1;
  latin1.name = "caf\xe9.txt";
  latin1.type = EntryType::kSymlink;
  latin1.target = std::string("\xff\x00x", 3);
  latin1.size = 3;
  t.entries.insert(t.entries.begin(), latin1);  // "caf\xe9.txt" < "dir"
  EXPECT_EQ(TreeFormatVersion(t), kTreeFormatVersion2);
  std::string doc = EncodeTree(t);
  EXPECT_NE(doc.find(R"("name":{"base64":"Y2Fm6S50eHQ="})"), std::string::npos) << doc;
  absl::StatusOr<Tree> back = DecodeTree(doc, "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->entries, t.entries);

  Tree x = Sample();
  x.entries[0].xattrs = {{"user.a", "1"}, {"user.b", std::string("\0\xff", 2)}};
  x.entries[1].owner = Owner{1000, 100};
  EXPECT_EQ(TreeFormatVersion(x), kTreeFormatVersion2);
  back = DecodeTree(EncodeTree(x), "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->entries, x.entries);
  EXPECT_EQ(EncodeTree(*back), EncodeTree(x));

  // Through a store: the object's header says version 2, and it reads back.
  TempDir dir;
  auto store = FileStoreIn(dir);
  absl::StatusOr<ObjectId> id = WriteTree(*store, t);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ((*store->Get(TreeKey(*id)))[4], 2);
  EXPECT_EQ(ReadTree(*store, *id)->entries, t.entries);
  absl::StatusOr<ObjectId> v1 = WriteTree(*store, Sample());
  EXPECT_EQ((*store->Get(TreeKey(*v1)))[4], 1);
}

// A store written by an older vol reads as before; a newer version is refused.
TEST(Tree, OldTreesReadAndNewerVersionsAskForAnUpgrade) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  std::string v1_doc =
      R"({"entries":[{"chunks":[],"mode":420,"mtime":1,"name":"old.txt","size":0,"type":"file"}]})";
  EncodedObject obj = EncodeObject(ObjectKind::kTree, v1_doc);  // as vol 0.1 wrote it
  ASSERT_EQ(obj.bytes[4], 1);
  ASSERT_TRUE(store->Put(TreeKey(obj.id), obj.bytes).ok());
  absl::StatusOr<Tree> old = ReadTree(*store, obj.id);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->entries[0].name, "old.txt");

  std::string v3 = obj.bytes;
  v3[4] = 3;
  ASSERT_TRUE(store->Put(TreeKey(obj.id), v3).ok());
  absl::StatusOr<Tree> newer = ReadTree(*store, obj.id);
  EXPECT_TRUE(absl::IsFailedPrecondition(newer.status())) << newer.status();
  EXPECT_NE(newer.status().message().find("upgrade vol"), std::string::npos) << newer.status();
  // Version 2 is a tree's: a chunk or commit that claims it is refused too.
  EncodedObject chunk = EncodeObject(ObjectKind::kChunk, "data", true, kTreeFormatVersion2);
  EXPECT_TRUE(absl::IsFailedPrecondition(DecodeObject(ObjectKind::kChunk, chunk.bytes, "c").status()));
}

}  // namespace
}  // namespace vol
