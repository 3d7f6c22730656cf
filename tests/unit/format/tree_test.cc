// Trees: canonical encoding (equal trees, equal bytes, equal ids), decode of
// what was encoded, and refusal of malformed documents.
#include "fetcher/format/tree.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

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

// A document of one entry: `members` inside the braces.
std::string OneEntry(const std::string& members) { return R"({"entries":[{)" + members + "}]}"; }

const std::string kFileMembers = R"("name":"a","type":"file","mode":420,"mtime":0,"size":0,"chunks":[])";

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
  // Truncated anywhere: every proper prefix of a version-2 document.
  Tree v2 = Sample();
  v2.entries[0].xattrs = {{"user.a", "1"}};
  v2.entries[1].owner = Owner{1, 2};
  v2.entries[2].target = "\xff";
  good = EncodeTree(v2);
  for (size_t n = 0; n < good.size(); ++n) expect_bad(good.substr(0, n));
}

// Each member is checked for the type and range EncodeTree writes there; a
// document with anything else is malformed (DataLoss naming the tree), never
// converted, and never a crash.
TEST(Tree, MalformedMembersAreDataLoss) {
  const std::string id = R"("0123456789abcdef0123456789abcdef")";
  const std::string dir = R"("name":"d","type":"dir","mode":493,"mtime":0,"size":0,"files":0,"tree":)" + id;
  const std::string link = R"("name":"l","type":"symlink","mode":511,"mtime":0,"size":1,"target":"x")";
  // The baselines decode.
  for (const std::string& members : {kFileMembers, dir, link}) {
    absl::StatusOr<Tree> t = DecodeTree(OneEntry(members), "t");
    EXPECT_TRUE(t.ok()) << members << " -> " << t.status();
  }
  // `file` with `from` replaced by `to` (or `to` appended when `from` is empty).
  auto edit = [](std::string members, const std::string& from, const std::string& to) {
    if (from.empty()) return OneEntry(members + "," + to);
    size_t at = members.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return OneEntry(members.replace(at, from.size(), to));
  };
  const std::string f = kFileMembers;
  struct Case {
    const char* what;
    std::string doc;
  };
  const Case cases[] = {
      {"invalid JSON", R"({"entries":[{"name":"a",}]})"},
      {"trailing bytes", OneEntry(f) + "x"},
      {"invalid UTF-8", edit(f, R"("a")", "\"\xff\"")},
      {"entries missing", R"({"entrees":[]})"},
      {"entries not a list", R"({"entries":{}})"},
      {"entry not an object", R"({"entries":[1]})"},
      {"name missing", OneEntry(R"("type":"file","mode":420,"mtime":0,"size":0,"chunks":[])")},
      {"name with '/'", edit(f, R"("a")", R"("a/b")")},
      {"name empty", edit(f, R"("a")", R"("")")},
      {"name with NUL", edit(f, R"("a")", R"("a\u0000b")")},
      {"name a number", edit(f, R"("a")", "7")},
      {"name bad base64", edit(f, R"("a")", R"({"base64":"!!"})")},
      {"name base64 and more", edit(f, R"("a")", R"({"base64":"YQ==","x":1})")},
      {"type missing", edit(f, R"("type":"file",)", "")},
      {"type not a string", edit(f, R"("file")", "1")},
      {"unknown type", edit(f, R"("file")", R"("fifo")")},
      {"mode a string", edit(f, "420", R"("420")")},
      {"mode a bool", edit(f, "420", "true")},
      {"mode a fraction", edit(f, "420", "420.5")},
      {"mode negative", edit(f, "420", "-1")},
      {"mode past uint32", edit(f, "420", "4294967296")},
      {"mode missing", edit(f, R"("mode":420,)", "")},
      {"mtime past int64", edit(f, R"("mtime":0)", R"("mtime":9223372036854775808)")},
      {"mtime a fraction", edit(f, R"("mtime":0)", R"("mtime":0.5)")},
      {"size negative", edit(f, R"("size":0)", R"("size":-1)")},
      {"size past uint64", edit(f, R"("size":0)", R"("size":18446744073709551616)")},
      {"size an exponent", edit(f, R"("size":0)", R"("size":1e3)")},
      {"chunks missing", edit(f, R"(,"chunks":[])", "")},
      {"chunks null", edit(f, "[]", "null")},
      {"chunks do not add up", edit(f, R"("size":0)", R"("size":1)")},
      {"chunk not a pair", edit(f, R"("chunks":[])", R"("chunks":[[)" + id + "]]")},
      {"chunk of three", edit(f, R"("chunks":[])", R"("chunks":[[)" + id + ",0,0]]")},
      {"chunk size negative", edit(f, R"("chunks":[])", R"("chunks":[[)" + id + ",-1]]")},
      {"chunk id not hex", edit(f, R"("chunks":[])", R"("chunks":[["0123456789abcdef0123456789abcdeg",0]])")},
      {"chunk id upper case",
       edit(f, R"("chunks":[])", R"("chunks":[["0123456789ABCDEF0123456789abcdef",0]])")},
      {"chunk id short", edit(f, R"("chunks":[])", R"("chunks":[["0123",0]])")},
      {"dir without tree", edit(dir, R"(,"tree":)" + id, "")},
      {"dir tree not hex", edit(dir, id, R"("xyz")")},
      {"dir without files", edit(dir, R"("files":0,)", "")},
      {"dir files negative", edit(dir, R"("files":0)", R"("files":-3)")},
      {"symlink without target", edit(link, R"(,"target":"x")", "")},
      {"symlink target a list", edit(link, R"("x")", R"(["x"])")},
      {"xattrs not a list", edit(f, "", R"("xattrs":{"user.a":"1"})")},
      {"xattr not a pair", edit(f, "", R"("xattrs":[["user.a"]])")},
      {"xattr value a number", edit(f, "", R"("xattrs":[["user.a",1]])")},
      {"xattr name empty", edit(f, "", R"("xattrs":[["","1"]])")},
      {"xattrs unsorted", edit(f, "", R"("xattrs":[["user.b","1"],["user.a","2"]])")},
      {"xattrs repeated", edit(f, "", R"("xattrs":[["user.a","1"],["user.a","2"]])")},
      {"uid without gid", edit(f, "", R"("uid":1)")},
      {"gid without uid", edit(f, "", R"("gid":1)")},
      {"uid past uint32", edit(f, "", R"("uid":4294967296,"gid":0)")},
      {"gid negative", edit(f, "", R"("uid":0,"gid":-1)")},
      {"uid null", edit(f, "", R"("uid":null,"gid":0)")},
      {"too deep", R"({"entries":)" + std::string(5000, '[') + std::string(5000, ']') + "}"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Tree> t = DecodeTree(c.doc, "trees/zz");
    EXPECT_TRUE(absl::IsDataLoss(t.status())) << c.what << ": " << c.doc << " -> " << t.status();
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("trees/zz"), std::string::npos) << c.what;
    }
  }
}

// Every kind of entry and every optional member, at the edges of their
// ranges, reads back as it was written.
TEST(Tree, EveryKindOfEntryRoundTrips) {
  Tree t;
  Entry file;
  file.name = "big";
  file.mode = 07777;
  file.mtime_ns = INT64_MIN;
  file.chunks = {{ObjectId::Of("a"), 1ull << 63}, {ObjectId::Of("b"), (1ull << 53) + 1},
                 {ObjectId::Of("c"), 0}};
  file.size = (1ull << 63) + (1ull << 53) + 1;  // past what a double holds exactly
  file.xattrs = {{"user.a", ""}, {"user.b", std::string("\0\xff", 2)}, {"user.\xe9", "\xc3"}};
  file.owner = Owner{0, 0};
  Entry dir;
  dir.name = "dir";
  dir.type = EntryType::kDir;
  dir.mode = 0;
  dir.mtime_ns = INT64_MAX;
  dir.size = UINT64_MAX;
  dir.files = UINT64_MAX;
  dir.tree = ObjectId::Of("subtree");
  dir.owner = Owner{UINT32_MAX, UINT32_MAX};
  Entry escaped;
  escaped.name = "quote\" back\\slash \t tab \x01 ctl";
  escaped.type = EntryType::kSymlink;
  escaped.target = "\"\\\n";
  escaped.size = escaped.target.size();
  Entry bytes;
  bytes.name = "\x80\xfe\xff";  // not UTF-8: written as {"base64": ...}
  bytes.type = EntryType::kSymlink;
  bytes.target = std::string("\0\xc0\x80", 3);
  bytes.size = 3;
  Entry empty_target;
  empty_target.name = "link";
  empty_target.type = EntryType::kSymlink;
  t.entries = {file, dir, empty_target, escaped, bytes};
  for (size_t i = 1; i < t.entries.size(); ++i) ASSERT_LT(t.entries[i - 1].name, t.entries[i].name) << i;

  std::string doc = EncodeTree(t);
  absl::StatusOr<Tree> back = DecodeTree(doc, "t");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << doc;
  EXPECT_EQ(back->entries, t.entries);
  EXPECT_EQ(EncodeTree(*back), doc);
}

// Decoding depends on the members, not on the order EncodeTree writes them
// in; members it does not know are ignored, and mode keeps only its
// permission bits.
TEST(Tree, MembersInAnyOrderAndUnknownOnesIgnored) {
  std::string doc = R"( { "later": {"x": [1, 2.5, null]},
    "entries" : [
      {"size": 3, "chunks": [["0123456789abcdef0123456789abcdef", 3]], "future": true,
       "gid": 7, "uid": 8, "type": "file", "xattrs": [["user.x", {"base64": "/w=="}]],
       "mtime": -1, "mode": 33188, "name": {"base64": "YQ=="}},
      {"tree": "0123456789abcdef0123456789abcdef", "files": 2, "type": "dir", "name": "z",
       "size": 10, "mtime": 5, "mode": 493}
    ] } )";
  absl::StatusOr<Tree> t = DecodeTree(doc, "t");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->entries.size(), 2u);
  const Entry& f = t->entries[0];
  EXPECT_EQ(f.name, "a");
  EXPECT_EQ(f.mode, 0644u);  // 0100644: the file-type bits are dropped
  EXPECT_EQ(f.mtime_ns, -1);
  EXPECT_EQ(f.size, 3u);
  ASSERT_EQ(f.chunks.size(), 1u);
  EXPECT_EQ(f.chunks[0].id.Hex(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(f.xattrs, (std::vector<Xattr>{{"user.x", "\xff"}}));
  EXPECT_EQ(f.owner, (Owner{8, 7}));
  const Entry& d = t->entries[1];
  EXPECT_TRUE(d.is_dir());
  EXPECT_EQ(d.files, 2u);
  EXPECT_EQ(d.size, 10u);
  EXPECT_TRUE(d.chunks.empty());
  EXPECT_FALSE(d.owner.has_value());
}

// Large directories (past what a thread keeps its parser's buffers for)
// decode alike, one after another and on several threads at once.
TEST(Tree, LargeTreesDecodeOnManyThreads) {
  Tree big;
  for (int i = 0; i < 20000; ++i) {
    Entry e;
    e.name = "file-" + std::to_string(100000 + i);
    e.size = i;
    e.chunks = {{ObjectId::Of(e.name), e.size}};
    big.entries.push_back(std::move(e));
  }
  const std::string big_doc = EncodeTree(big), small_doc = EncodeTree(Sample());
  ASSERT_GT(big_doc.size(), 1u << 20);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int round = 0; round < 3; ++round) {
        absl::StatusOr<Tree> b = DecodeTree(big_doc, "big"), s = DecodeTree(small_doc, "small");
        if (!b.ok() || b->entries != big.entries || !s.ok() || s->entries != Sample().entries) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
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
