// The commit log: put-if-absent entries, and a head found whatever the hint
// says (missing, stale, ahead of the log, garbage).
#include "fetcher/volume/commit_log.h"

#include <gtest/gtest.h>

#include "fetcher/format/keys.h"
#include "fetcher/format/tree.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

const std::string kVol = "0123456789abcdef0123456789abcdef";

CommitInfo Commit(uint64_t seq) {
  CommitInfo c;
  c.seq = seq;
  c.parent = seq - 1;
  c.root = ObjectId::Of("root " + std::to_string(seq));
  c.time_ns = 1000 + seq;
  c.host = "h";
  c.message = "m" + std::to_string(seq);
  c.files = seq;
  c.bytes = 10 * seq;
  c.files_changed = 1;
  c.bytes_changed = 10;
  return c;
}

TEST(CommitLog, EmptyVolumeHeadIsTheEmptyTree) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  absl::StatusOr<CommitInfo> head = ReadHead(*store, kVol);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->seq, 0u);
  EXPECT_EQ(head->root, EmptyTreeId());
  EXPECT_TRUE(ReadHistory(*store, kVol)->empty());
}

TEST(CommitLog, AppendIsPutIfAbsentAndRoundTrips) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_TRUE(AppendCommit(*store, kVol, Commit(s)).ok());
  absl::Status again = AppendCommit(*store, kVol, Commit(2));
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  absl::StatusOr<CommitInfo> c = ReadCommit(*store, kVol, 2);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->root, Commit(2).root);
  EXPECT_EQ(c->message, "m2");
  EXPECT_EQ(c->bytes, 20u);
  std::vector<uint64_t> seqs;
  absl::StatusOr<std::vector<CommitInfo>> history = ReadHistory(*store, kVol);
  ASSERT_TRUE(history.ok()) << history.status();
  for (const CommitInfo& h : *history) seqs.push_back(h.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 2, 1})) << "newest first";
}

TEST(CommitLog, ReadHeadWhateverTheHint) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  for (uint64_t s = 1; s <= 12; ++s) ASSERT_TRUE(AppendCommit(*store, kVol, Commit(s)).ok());
  auto head = [&] { return ReadHead(*store, kVol)->seq; };
  EXPECT_EQ(head(), 12u);
  for (const char* hint : {"1", "11", "12", "13", "999", "", "garbage", "-4"}) {
    ASSERT_TRUE(store->Put(HeadHintKey(kVol), hint).ok());
    EXPECT_EQ(head(), 12u) << "hint '" << hint << "'";
  }
  ASSERT_TRUE(store->Delete(HeadHintKey(kVol)).ok());
  EXPECT_EQ(head(), 12u) << "missing hint";
  // A hint ahead of an empty log.
  TempDir dir2;
  auto empty = FileStoreIn(dir2);
  ASSERT_TRUE(empty->Put(HeadHintKey(kVol), "5").ok());
  EXPECT_EQ(ReadHead(*empty, kVol)->seq, 0u);
}

TEST(CommitLog, DamagedCommitIsAnError) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ASSERT_TRUE(AppendCommit(*store, kVol, Commit(1)).ok());
  std::string key = CommitKey(kVol, 1);
  std::string bytes = *store->Get(key);
  bytes[bytes.size() - 2] ^= 0x20;
  ASSERT_TRUE(store->Put(key, bytes).ok());
  absl::StatusOr<CommitInfo> head = ReadHead(*store, kVol);
  EXPECT_TRUE(absl::IsDataLoss(head.status())) << head.status();
  EXPECT_NE(head.status().message().find(key), std::string::npos);
}

}  // namespace
}  // namespace vol
