// CommitMutation: one change, one commit; concurrent writers (threads and
// processes) lose no change, and on one path the newest commit wins whole.
#include "fetcher/volume/volume_writer.h"

#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

VolumePath P(const std::string& s) { return *ParseVolumePath(s); }

Entry File(uint64_t size, int64_t mtime = 1) {
  Entry e;
  e.type = EntryType::kFile;
  e.size = size;
  e.mtime_ns = mtime;
  if (size > 0) e.chunks = {{ObjectId::Of(std::to_string(size)), size}};
  return e;
}

Mutation PutFile(const std::string& path, uint64_t size, int64_t mtime = 1) {
  return [=](TreeEditor& tree, ChangeStats& stats) -> absl::Status {
    ++stats.files;
    stats.bytes += size;
    return tree.Put(P(path), File(size, mtime));
  };
}

std::vector<std::string> AllFiles(ObjectStore& store, const VolumeInfo& v) {
  absl::StatusOr<CommitInfo> head = ReadHead(store, v.id);
  EXPECT_TRUE(head.ok());
  TreeEditor tree(store, head->root);
  std::vector<std::string> out;
  std::function<void(const VolumePath&)> walk = [&](const VolumePath& dir) {
    absl::StatusOr<std::vector<Entry>> entries = tree.List(dir);
    ASSERT_TRUE(entries.ok()) << entries.status();
    for (const Entry& e : *entries) {
      if (e.is_dir()) {
        walk(dir.Child(e.name));
      } else {
        out.push_back(dir.Child(e.name).ToString());
      }
    }
  };
  walk(VolumePath{});
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CommitMutation, OneCommitPerChangeAndNoneForNoChange) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  absl::StatusOr<MutationResult> r = CommitMutation(*store, v, "put /a", PutFile("/d/a", 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->commit.seq, 1u);
  EXPECT_EQ(r->commit.files, 1u);
  EXPECT_EQ(r->commit.bytes, 10u);
  EXPECT_EQ(r->commit.files_changed, 1u);
  EXPECT_EQ(r->commit.message, "put /a");

  r = CommitMutation(*store, v, "nothing", [](TreeEditor& t, ChangeStats&) {
    return t.Lookup(P("/d/a")).status();
  });
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(ReadHead(*store, v.id)->seq, 1u);

  // Edits that leave the snapshot as it was make no commit either.
  r = CommitMutation(*store, v, "same again", PutFile("/d/a", 10));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(ReadHead(*store, v.id)->seq, 1u);

  r = CommitMutation(*store, v, "refused", [](TreeEditor& t, ChangeStats&) {
    t.Put(P("/x"), File(1)).IgnoreError();
    return absl::AlreadyExistsError("no");
  });
  EXPECT_TRUE(absl::IsAlreadyExists(r.status()));
  EXPECT_EQ(ReadHead(*store, v.id)->seq, 1u) << "a refused mutation commits nothing";
  EXPECT_EQ(AllFiles(*store, v), std::vector<std::string>{"/d/a"});
}

TEST(CommitMutation, ManyThreadsLoseNoChange) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  constexpr int kThreads = 8, kEach = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string path = "/t" + std::to_string(t) + "/f" + std::to_string(i);
        absl::StatusOr<MutationResult> r = CommitMutation(*store, v, "put", PutFile(path, 1 + i));
        ASSERT_TRUE(r.ok()) << r.status();
        ASSERT_TRUE(r->committed);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> files = AllFiles(*store, v);
  EXPECT_EQ(files.size(), size_t{kThreads * kEach});
  absl::StatusOr<CommitInfo> head = ReadHead(*store, v.id);
  EXPECT_EQ(head->seq, uint64_t{kThreads * kEach}) << "one commit per change";
  EXPECT_EQ(head->files, uint64_t{kThreads * kEach});
  // The log is one line: every commit's parent is the one before it.
  absl::StatusOr<std::vector<CommitInfo>> log = ReadHistory(*store, v.id);
  ASSERT_TRUE(log.ok());
  for (const CommitInfo& c : *log) EXPECT_EQ(c.parent, c.seq - 1);
}

TEST(CommitMutation, ManyProcessesLoseNoChange) {
  TempDir dir;
  std::string root = dir / "store";
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  constexpr int kProcs = 6, kEach = 8;
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(gate[1]);
      char c;
      (void)!read(gate[0], &c, 1);
      auto mine = NewFileStore(root);
      if (!mine.ok()) _exit(2);
      for (int i = 0; i < kEach; ++i) {
        std::string path = "/p" + std::to_string(p) + "/f" + std::to_string(i);
        absl::StatusOr<MutationResult> r = CommitMutation(**mine, v, "put", PutFile(path, 1));
        if (!r.ok() || !r->committed) _exit(1);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer process failed";
  }
  EXPECT_EQ(AllFiles(*store, v).size(), size_t{kProcs * kEach});
  EXPECT_EQ(ReadHead(*store, v.id)->seq, uint64_t{kProcs * kEach});
}

TEST(CommitMutation, SamePathLastCommitWinsWhole) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  std::vector<std::thread> threads;
  for (int t = 1; t <= 8; ++t) {
    threads.emplace_back([&, t] {
      ASSERT_TRUE(CommitMutation(*store, v, std::to_string(t), PutFile("/same", 100 * t, t)).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<CommitInfo> head = ReadHead(*store, v.id);
  EXPECT_EQ(head->seq, 8u);
  TreeEditor tree(*store, head->root);
  std::optional<Entry> e = *tree.Lookup(P("/same"));
  ASSERT_TRUE(e.has_value());
  // The entry is one writer's, whole: its size and mtime agree.
  EXPECT_EQ(e->size, 100 * static_cast<uint64_t>(e->mtime_ns));
  EXPECT_EQ(e->chunks, File(e->size).chunks);
  // And it is the writer of the newest commit.
  EXPECT_EQ(head->message, std::to_string(e->mtime_ns));
}

}  // namespace
}  // namespace vol
