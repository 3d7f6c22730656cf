#include "fetcher/session/view_listing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fetcher/format/material_mode.h"
#include "fetcher/util/fs.h"
#include "tests/unit/testing/temp_dir.h"
#include "vol/session.h"

namespace vol {
namespace {

Entry FileEntry(const std::string& name, uint64_t size, uint32_t mode, int64_t mtime_ns) {
  Entry e;
  e.name = name;
  e.type = EntryType::kFile;
  e.mode = mode;
  e.mtime_ns = mtime_ns;
  e.size = size;
  e.chunks.push_back({ObjectId::Of(name), size});
  return e;
}

Tree WideTree(size_t n) {
  Tree t;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t modes[] = {0644, 0755, 0600, 04755};
    t.entries.push_back(FileEntry(absl::StrFormat("f%05d", i), 1 + i * 7, modes[i % 4], 1600000000000000000 + i));
  }
  return t;
}

TEST(ViewListing, OnlyLargeDirectoriesOfNonEmptyFilesAreListable) {
  EXPECT_TRUE(Listable(WideTree(VOL_LISTING_MIN_ENTRIES)));
  EXPECT_FALSE(Listable(WideTree(VOL_LISTING_MIN_ENTRIES - 1)));
  Tree with_dir = WideTree(VOL_LISTING_MIN_ENTRIES);
  with_dir.entries[3].type = EntryType::kDir;
  EXPECT_FALSE(Listable(with_dir));
  Tree with_link = WideTree(VOL_LISTING_MIN_ENTRIES);
  with_link.entries[3].type = EntryType::kSymlink;
  EXPECT_FALSE(Listable(with_link));
  Tree with_empty = WideTree(VOL_LISTING_MIN_ENTRIES);
  with_empty.entries[3].size = 0;
  with_empty.entries[3].chunks.clear();
  EXPECT_FALSE(Listable(with_empty)) << "an empty file is made in the view, not shared: no inode to show";
}

// The listing names, for every entry, the content file that populating would
// link: the same key, the same inode, whether it existed before or not.
TEST(ViewListing, NamesTheContentFilesPopulatingWouldLink) {
  testing::TempDir tmp;
  ContentCache cache(tmp / "cache", uint64_t{1} << 30);
  Tree tree = WideTree(700);
  // Some content files exist already: one complete, some being filled.
  for (size_t i : {5, 6, 300}) {
    Entry material = tree.entries[i];
    material.mode = MaterialMode(material.mode, material.type, false);
    ASSERT_TRUE(cache.Open(material).ok());
  }
  ListingStamp stamp;
  stamp.epoch = 7;
  stamp.origin_tree = ObjectId::Of("parent");
  stamp.origin_index = 42;
  std::string path = tmp / "listing";
  ASSERT_TRUE(WriteListing(path, tree, /*preserve=*/false, cache, stamp, 2).ok());

  absl::StatusOr<std::string> data = ReadFile(path);
  ASSERT_TRUE(data.ok());
  ASSERT_GE(data->size(), sizeof(vol_listing_header));
  const auto* h = reinterpret_cast<const vol_listing_header*>(data->data());
  EXPECT_EQ(h->magic, VOL_LISTING_MAGIC);
  ASSERT_EQ(h->count, tree.entries.size());
  EXPECT_EQ(h->epoch, 7u);
  EXPECT_EQ(h->origin_index, 42u);
  EXPECT_EQ(memcmp(h->origin_tree, stamp.origin_tree.bytes().data(), 16), 0);
  EXPECT_EQ(std::string(h->files), tmp / "cache/files");
  ASSERT_EQ(data->size(), sizeof *h + h->count * sizeof(vol_listing_entry) + h->names_size);
  const auto* entries = reinterpret_cast<const vol_listing_entry*>(h + 1);
  const char* names = reinterpret_cast<const char*>(entries + h->count);

  for (size_t i = 0; i < tree.entries.size(); ++i) {
    const Entry& e = tree.entries[i];
    const vol_listing_entry& le = entries[i];
    ASSERT_LT(le.name, h->names_size);
    EXPECT_EQ(std::string(names + le.name), e.name) << "in the tree's (byte) order";
    uint32_t mode = MaterialMode(e.mode, e.type, false);
    EXPECT_EQ(le.mode, mode) << e.name << ": the mode a populated entry shows";
    Entry material = e;
    material.mode = mode;
    absl::StatusOr<ContentCache::File> f = cache.Open(material);  // what populating links
    ASSERT_TRUE(f.ok()) << e.name;
    EXPECT_EQ(std::string(le.key, sizeof le.key), f->key.Hex()) << e.name;
    EXPECT_EQ(le.ino, f->ino) << e.name << ": the inode populating links";
    EXPECT_EQ((le.flags & VOL_LISTED_PART) != 0, !f->complete) << e.name;
    std::string file = absl::StrCat(h->files, "/", f->key.Hex().substr(0, 2), "/", f->key.Hex(),
                                    (le.flags & VOL_LISTED_PART) ? ".part" : "");
    struct stat st;
    ASSERT_EQ(lstat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(static_cast<uint64_t>(st.st_ino), le.ino);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), e.size);
    EXPECT_EQ(st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec, e.mtime_ns);
  }
}

TEST(ViewListing, PreservedSpecialModesGiveOtherContentFiles) {
  testing::TempDir tmp;
  ContentCache cache(tmp / "cache", uint64_t{1} << 30);
  Tree tree = WideTree(VOL_LISTING_MIN_ENTRIES);
  ASSERT_TRUE(WriteListing(tmp / "plain", tree, false, cache, {}, 1).ok());
  ASSERT_TRUE(WriteListing(tmp / "kept", tree, true, cache, {}, 1).ok());
  std::string a = *ReadFile(tmp / "plain"), b = *ReadFile(tmp / "kept");
  const auto* ea = reinterpret_cast<const vol_listing_entry*>(a.data() + sizeof(vol_listing_header));
  const auto* eb = reinterpret_cast<const vol_listing_entry*>(b.data() + sizeof(vol_listing_header));
  EXPECT_EQ(ea[3].mode, 0755u) << "setuid dropped";
  EXPECT_EQ(eb[3].mode, 04755u) << "setuid kept";
  EXPECT_NE(ea[3].ino, eb[3].ino);
  EXPECT_EQ(ea[0].ino, eb[0].ino) << "no special bits: one content file";
}

}  // namespace
}  // namespace vol
