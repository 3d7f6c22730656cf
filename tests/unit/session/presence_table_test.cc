#include "fetcher/session/presence_table.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

namespace vol {
namespace {

class PresenceTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vol-presence-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(PresenceTableTest, InsertFindAndBitsAsTheShimSeesThem) {
  auto t = PresenceTable::Create(dir_ + "/presence", 100, 100);
  ASSERT_TRUE(t.ok()) << t.status();
  PresenceTable& p = **t;
  std::vector<uint32_t> slots;
  for (uint64_t ino = 1; ino <= 100; ++ino) {
    auto s = p.Insert(7, ino * 4096, ino * 1000, 4096);
    ASSERT_TRUE(s.ok()) << s.status();
    slots.push_back(*s);
  }
  {
    // A freed inode reused by a new file: its slot starts over.
    p.SetPresent(slots[0], 0);
    p.SetComplete(slots[0]);
    auto again = p.Insert(7, 4096, 5000, 4096);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, slots[0]);
    EXPECT_FALSE(p.IsComplete(slots[0]));
    EXPECT_FALSE(p.IsPresent(slots[0], 0)) << "fresh bitmap words";
    EXPECT_EQ(p.file(slots[0]).size, 5000u);
  }
  for (uint64_t ino = 1; ino <= 100; ++ino) {
    auto f = p.Find(7, ino * 4096);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(*f, slots[ino - 1]);
    EXPECT_EQ(p.file(*f).index, *f) << "the request index is the slot";
    EXPECT_EQ(p.file(*f).size, ino == 1 ? 5000 : ino * 1000);
  }
  EXPECT_FALSE(p.Find(8, 4096).has_value()) << "other device";
  EXPECT_FALSE(p.Find(7, 3).has_value());

  uint32_t s = slots[99];  // 100000 bytes: 25 blocks
  EXPECT_EQ(p.Blocks(s), 25u);
  EXPECT_FALSE(p.IsPresent(s, 3));
  p.SetPresent(s, 3);
  p.SetPresent(s, 24);
  EXPECT_TRUE(p.IsPresent(s, 3));
  EXPECT_TRUE(p.IsPresent(s, 24));
  EXPECT_FALSE(p.IsPresent(s, 4));
  EXPECT_FALSE(p.IsPresent(slots[98], 3)) << "bits of one file do not leak into another";
  EXPECT_FALSE(p.RangePresent(s, 3, 4));
  p.SetPresent(s, 4);
  EXPECT_TRUE(p.RangePresent(s, 3, 4));
  EXPECT_FALSE(p.IsComplete(s));
  p.SetComplete(s);
  EXPECT_TRUE(p.IsComplete(s));

  // A second, read-only mapping (the shim's) sees the same, through the
  // layout session.h documents.
  int fd = open((dir_ + "/presence").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat st;
  fstat(fd, &st);
  auto* base = static_cast<const char*>(mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0));
  close(fd);
  auto* h = reinterpret_cast<const vol_presence_header*>(base);
  EXPECT_EQ(h->magic, VOL_PRESENCE_MAGIC);
  EXPECT_EQ(h->version, VOL_PRESENCE_VERSION);
  EXPECT_EQ(h->table_slots & (h->table_slots - 1), 0u) << "a power of two";
  auto* slots_area = reinterpret_cast<const vol_presence_file*>(base + h->table_offset);
  uint64_t i = vol_presence_hash(100 * 4096) & (h->table_slots - 1);
  while (slots_area[i].ino != 100 * 4096) {
    ASSERT_NE(slots_area[i].ino, 0u) << "probe reached an empty slot";
    i = (i + 1) & (h->table_slots - 1);
  }
  const vol_presence_file& f = slots_area[i];
  EXPECT_EQ(f.complete, 1u);
  auto* words = reinterpret_cast<const uint64_t*>(base + h->bitmap_offset);
  EXPECT_EQ(words[f.bitmap_word], (1ull << 3) | (1ull << 4) | (1ull << 24));
  munmap(const_cast<char*>(base), st.st_size);
}

TEST_F(PresenceTableTest, FullTableIsAnError) {
  auto t = PresenceTable::Create(dir_ + "/presence", 1, 1);
  ASSERT_TRUE(t.ok());
  uint64_t slots = (*t)->header().table_slots;
  uint64_t ok = 0;
  for (uint64_t ino = 1; ino <= slots; ++ino) {
    if ((*t)->Insert(1, ino, 10, 4096).ok()) ++ok;
  }
  EXPECT_EQ(ok, slots / 2) << "load factor stays at most 1/2";
}

}  // namespace
}  // namespace vol
