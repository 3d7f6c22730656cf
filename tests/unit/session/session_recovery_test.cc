// Recovery of a session that died: vol commit --session compares the view
// with the base snapshot, so a removal is published whatever the journal
// holds, and never-fetched files keep their chunks (their presence slots name
// their origin), whatever renames the journal lost. Also the journal's own
// format: torn records, old records.
#include "fetcher/session/session_recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "fetcher/format/chunk.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/session_journal.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volume_writer.h"
#include "tests/unit/testing/temp_dir.h"
#include "tests/unit/testing/test_view.h"
#include "vol/session.h"

namespace vol {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

VolumePath P(absl::string_view s) { return *ParseVolumePath(s); }

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "file://" + tmp_ / "store";
    store_ = *OpenStore(url_);
    info_ = *CreateVolume(*store_, "main", "v", false);
    // The base: d/big (never fetched by the session), d/small, gone.
    big_ = std::string(5 << 20, 'b');
    absl::StatusOr<MutationResult> r = CommitMutation(*store_, info_, "base", [&](TreeEditor& t, ChangeStats&) {
      for (auto [path, content] : {std::pair<std::string, std::string>{"/d/big", big_}, {"/d/small", "s"}, {"/gone", "g"}}) {
        Entry e;
        e.size = content.size();
        e.chunks = {StoreChunk(*store_, content)->ref};
        if (absl::Status s = t.Put(P(path), e); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(r.ok()) << r.status();
    base_ = r->commit.root;
    session_ = tmp_ / "session";
    view_ = session_ + "/views/0-v";
    fs::create_directories(session_ + "/views");
    fs::permissions(session_, fs::perms::owner_all, fs::perm_options::replace);  // private, as vol makes it
    fs::permissions(session_ + "/views", fs::perms::owner_all, fs::perm_options::replace);
    view_state_ = std::make_unique<testing::TestView>(*store_, base_, view_, session_ + "/" + VOL_SESSION_PRESENCE,
                                                      tmp_ / "cache");
    SessionMount m{"/mnt/v", view_, info_, false, base_};
    ASSERT_TRUE(WriteRecoverFile(session_, RecoverInfo{url_, {{m, 0}}}).ok());
  }

  void Journal(const std::vector<JournalRename>& renames) {
    std::string text;
    for (const JournalRename& r : renames) text += EncodeRename(r);
    std::ofstream(session_ + "/" + kSessionJournalFile) << text;
  }
  // The program, with the shim's rule: a content file is made private before it is written.
  void Unlink(const std::string& rel) { ASSERT_EQ(unlink((view_ + "/" + rel).c_str()), 0); }
  void Write(const std::string& rel, const std::string& content) {
    view_state_->MakePrivate(rel, /*empty=*/true);
    std::ofstream(view_ + "/" + rel) << content;
  }
  // The fetcher dies: what is left is the view and its presence table.
  void Die() { view_state_->Stop(); }

  std::string Get(const std::string& path) {
    CommitInfo head = *ReadHead(*store_, info_.id);
    std::optional<Entry> e = *TreeEditor(*store_, head.root).Lookup(P(path));
    if (!e) return "(absent)";
    std::string out;
    for (const ChunkRef& c : e->chunks) out += *FetchChunk(*store_, c);
    return out;
  }

  TempDir tmp_;
  std::string url_, session_, view_, big_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<testing::TestView> view_state_;
  VolumeInfo info_;
  ObjectId base_;
};

TEST_F(RecoveryTest, ComparesTheViewWithTheBaseAndReplaysTheJournalsRenames) {
  Unlink("gone");
  ASSERT_EQ(rename((view_ + "/d").c_str(), (view_ + "/e").c_str()), 0);
  Write("e/new", "new");
  Journal({{1, 0, {"d", "e"}}});
  Die();
  absl::StatusOr<CommitReport> r = RecoverSession(session_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Get("/gone"), "(absent)");
  EXPECT_EQ(Get("/d/big"), "(absent)");
  EXPECT_EQ(Get("/e/big"), big_) << "the never-fetched file kept its chunks";
  EXPECT_EQ(Get("/e/small"), "s");
  EXPECT_EQ(Get("/e/new"), "new");
  EXPECT_FALSE(fs::exists(session_)) << "published: the session is removed";
}

// Item 9: the journal could not be written (disk full) or is gone: the
// removal is still published, because nothing but the view is trusted.
TEST_F(RecoveryTest, AJournalThatLostEverythingLosesNoRemoval) {
  Unlink("gone");
  Write("d/small", "rewritten");
  Die();
  fs::remove(session_ + "/" + kSessionJournalFile);
  absl::StatusOr<CommitReport> r = RecoverSession(session_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files, 2u);
  EXPECT_EQ(Get("/gone"), "(absent)");
  EXPECT_EQ(Get("/d/small"), "rewritten");
  EXPECT_EQ(Get("/d/big"), big_);
}

// A never-fetched file moved by a rename the journal did not record keeps
// its chunks: its presence slot names its origin. It is never published with
// the view's zeros.
TEST_F(RecoveryTest, ANeverFetchedFileMovedWithoutAJournalKeepsItsChunks) {
  ASSERT_EQ(rename((view_ + "/d").c_str(), (view_ + "/e").c_str()), 0);
  Die();
  absl::StatusOr<CommitReport> r = RecoverSession(session_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Get("/e/big"), big_);
  EXPECT_EQ(Get("/e/small"), "s");
  EXPECT_EQ(Get("/d/big"), "(absent)") << "what the session saw in d went with it";
}

// When a slot's origin cannot be read (its tree is gone from the store),
// recovery stops, keeps the session and the head is untouched: the view's
// bytes of a never-fetched file are never published.
TEST_F(RecoveryTest, AnOriginThatCannotBeReadStopsRecoveryAndKeepsTheSession) {
  ASSERT_EQ(rename((view_ + "/d").c_str(), (view_ + "/e").c_str()), 0);
  Die();
  // Every tree but the root's is lost from the store.
  for (const auto& p : fs::recursive_directory_iterator(tmp_ / "store/trees")) {
    if (p.is_regular_file()) fs::remove(p.path());
  }
  fs::remove_all(tmp_ / "cache");
  absl::StatusOr<CommitReport> r = RecoverSession(session_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(fs::exists(session_));
}

TEST(SessionJournal, RecordsTornRecordsAndOldFormat) {
  TempDir tmp;
  std::vector<RecoverMount> mounts(2);
  mounts[1].renames_in_base = 2;
  std::string text = EncodeRename({1, 0, {"a", "b"}}) + EncodeRename({2, 1, {"x", "y"}}) +
                     EncodeRename({3, 1, {"y", "caf\xe9"}}) + EncodeRename({4, 0, {"b", "c"}});
  text += EncodeRename({5, 0, {"c", "d"}}).substr(0, 9);  // torn by a kill
  std::ofstream(tmp / kSessionJournalFile) << text;
  auto got = ReadJournalRenames(tmp.path(), mounts);
  ASSERT_EQ(got[0].size(), 2u);
  EXPECT_EQ(got[0][0].rename, (ViewRename{"a", "b"}));
  EXPECT_EQ(got[0][1].rename, (ViewRename{"b", "c"}));
  ASSERT_EQ(got[1].size(), 1u) << "rename 2 is in mount 1's base already";
  EXPECT_EQ(got[1][0].rename, (ViewRename{"y", "caf\xe9"}));

  // Journals of earlier vols: "P" path records and "R" rename records.
  const std::string z(1, '\0');
  std::ofstream(tmp / kSessionJournalFile) << "P" + z + "0" + z + "f" + z + "R" + z + "0" + z + "old" + z + "0" + z + "new" + z;
  got = ReadJournalRenames(tmp.path(), std::vector<RecoverMount>(1));
  ASSERT_EQ(got[0].size(), 1u);
  EXPECT_EQ(got[0][0].rename, (ViewRename{"old", "new"}));
}

TEST(SessionJournal, RecoverFileRoundTripsByteNames) {
  TempDir tmp;
  RecoverInfo info;
  info.store_url = "file:///st\xffore";
  SessionMount m{"/mnt/caf\xe9", "/v/caf\xe9", VolumeInfo{"main", "v", "0123", 0}, true, ObjectId::Of("x")};
  info.mounts.push_back({m, 7});
  ASSERT_TRUE(WriteRecoverFile(tmp.path(), info).ok());
  absl::StatusOr<RecoverInfo> back = ReadRecover(tmp.path());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->store_url, info.store_url);
  EXPECT_EQ(back->mounts[0].mount.mount, "/mnt/caf\xe9");
  EXPECT_EQ(back->mounts[0].mount.view, "/v/caf\xe9");
  EXPECT_EQ(back->mounts[0].mount.base_root, ObjectId::Of("x"));
  EXPECT_TRUE(back->mounts[0].mount.read_only);
  EXPECT_EQ(back->mounts[0].renames_in_base, 7u);
}

}  // namespace
}  // namespace vol
