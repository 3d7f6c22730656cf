// The commit engine end to end, without vol run: a session's view is made
// from the volume's head (ViewPopulator, populated whole: TestView), a
// "program" changes it with real system
// calls, and CommitChanges replays the changes on the newest head of an
// in-memory store, while other writers commit in between. Each test checks
// the head against the merge rules (docs/SEMANTICS.md): nothing another
// writer added is lost unless this session removed or wrote that same path.
#include "fetcher/session/committer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/keys.h"
#include "fetcher/session/change_scanner.h"
#include "fetcher/session/view_index.h"
#include "fetcher/transfer/download.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/volume_writer.h"
#include "tests/unit/testing/fake_store.h"
#include "tests/unit/testing/temp_dir.h"
#include "tests/unit/testing/test_view.h"

namespace vol {
namespace {

using testing::FakeStore;
using testing::TempDir;
namespace fs = std::filesystem;

VolumePath P(absl::string_view s) { return *ParseVolumePath(s); }

// A volume in a FakeStore, and another client writing to it (like vol put / vol rm).
class TestVolume {
 public:
  TestVolume() {
    absl::StatusOr<VolumeInfo> v = CreateVolume(store, "main", "v", false);
    EXPECT_TRUE(v.ok()) << v.status();
    info = *v;
  }

  ObjectId Head() { return ReadHead(store, info.id)->root; }
  uint64_t Seq() { return ReadHead(store, info.id)->seq; }

  void Put(const std::map<std::string, std::string>& files) {
    std::vector<std::pair<VolumePath, Entry>> entries;
    for (const auto& [path, content] : files) {
      Entry e;
      e.type = EntryType::kFile;
      e.size = content.size();
      e.mtime_ns = 1000;
      if (!content.empty()) e.chunks = {StoreChunk(store, content)->ref};
      entries.emplace_back(P(path), e);
    }
    Mutate([&](TreeEditor& t) {
      for (const auto& [p, e] : entries) {
        if (absl::Status s = t.Put(p, e); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
  }
  void Remove(const std::string& path) {
    Mutate([&](TreeEditor& t) { return t.Remove(P(path)); });
  }
  void Mutate(const std::function<absl::Status(TreeEditor&)>& f) {
    absl::StatusOr<MutationResult> r =
        CommitMutation(store, info, "other", [&](TreeEditor& t, ChangeStats&) { return f(t); });
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Every path of the head: files as their content, symlinks as "-> target", directories as "/".
  std::map<std::string, std::string> Files() {
    std::map<std::string, std::string> out;
    Walk(Head(), "", out);
    return out;
  }
  std::optional<Entry> Lookup(const std::string& path) {
    TreeEditor t(store, Head());
    return *t.Lookup(P(path));
  }

  FakeStore store;
  VolumeInfo info;

 private:
  void Walk(const ObjectId& tree, const std::string& prefix, std::map<std::string, std::string>& out) {
    absl::StatusOr<Tree> t = ReadTree(store, tree);
    ASSERT_TRUE(t.ok()) << t.status();
    for (const Entry& e : t->entries) {
      std::string path = prefix.empty() ? e.name : prefix + "/" + e.name;
      if (e.is_dir()) {
        out[path] = "/";
        Walk(e.tree, path, out);
      } else if (e.is_symlink()) {
        out[path] = "-> " + e.target;
      } else {
        std::string content;
        for (const ChunkRef& c : e.chunks) content += *FetchChunk(store, c);
        out[path] = content;
      }
    }
  }
};

// A session: a view of the volume's head, changed with real system calls as a
// program would, with the bookkeeping the shim and SessionCommits do (changed
// paths, renames, which files were written).
class TestSession {
 public:
  TestSession(TestVolume& v, const TempDir& tmp, const std::string& name)
      : v_(v),
        view_(tmp / name),
        base_(v.Head()),
        tv_(v.store, base_, view_, tmp / (name + ".presence"), tmp / "cache") {}

  std::string Local(const std::string& rel) const { return view_ + "/" + rel; }

  void Write(const std::string& rel, const std::string& content) {
    Written(rel);
    int fd = open(Local(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << rel;
    ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
    changed_.push_back(rel);
  }
  void Mkdir(const std::string& rel) {
    ASSERT_EQ(mkdir(Local(rel).c_str(), 0755), 0) << rel;
    changed_.push_back(rel);
  }
  void RmR(const std::string& rel) {
    for (const auto& e : fs::recursive_directory_iterator(Local(rel))) {
      changed_.push_back(e.path().string().substr(view_.size() + 1));
      Written(changed_.back());
    }
    fs::remove_all(Local(rel));
    changed_.push_back(rel);
  }
  void Unlink(const std::string& rel) {
    Written(rel);
    ASSERT_EQ(unlink(Local(rel).c_str()), 0) << rel;
    changed_.push_back(rel);
  }
  void Rename(const std::string& from, const std::string& to) {
    Written(to);  // what it replaces
    ASSERT_EQ(rename(Local(from).c_str(), Local(to).c_str()), 0) << from << " -> " << to;
    renames_.push_back({from, to});
    changed_.push_back(from);
    changed_.push_back(to);
  }
  void Chmod(const std::string& rel, mode_t mode) {
    tv_.MakePrivate(rel);
    ASSERT_EQ(chmod(Local(rel).c_str(), mode), 0);
    changed_.push_back(rel);
  }
  void Touch(const std::string& rel, int64_t sec) {
    tv_.MakePrivate(rel);
    struct timespec t[2] = {{sec, 0}, {sec, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, Local(rel).c_str(), t, AT_SYMLINK_NOFOLLOW), 0);
    changed_.push_back(rel);
  }
  void Symlink(const std::string& target, const std::string& rel) {
    ASSERT_EQ(symlink(target.c_str(), Local(rel).c_str()), 0);
    changed_.push_back(rel);
  }
  void MarkChanged(const std::string& rel) { changed_.push_back(rel); }

  absl::StatusOr<CommitReport> Commit(bool full = false) {
    SessionMount m{"/mnt/v", view_, v_.info, false, base_};
    CommitRequest request;
    request.changed = changed_;
    request.full = full;
    request.renames = renames_;
    absl::StatusOr<CommitReport> r = CommitChanges(v_.store, m, tv_.index(), request);
    if (r.ok()) {
      base_ = r->base;
      changed_.clear();
      renames_.clear();
    }
    return r;
  }
  const ObjectId& base() const { return base_; }
  const std::string& view() const { return view_; }

 private:
  // The shim's rule: a file written or truncated gets a private copy first
  // (one replaced or removed is simply gone from the view).
  void Written(const std::string& rel) { tv_.MakePrivate(rel, /*empty=*/true); }

  TestVolume& v_;
  std::string view_;
  ObjectId base_;
  testing::TestView tv_;
  std::vector<std::string> changed_;
  std::vector<ViewRename> renames_;
};

#define COMMIT(session)                                   \
  do {                                                    \
    absl::StatusOr<CommitReport> _r = (session).Commit(); \
    ASSERT_TRUE(_r.ok()) << _r.status();                  \
  } while (0)

using Files = std::map<std::string, std::string>;

TEST(CommitEngine, SessionsCreatingFilesInOneNewDirectoryAllSurvive) {
  TestVolume v;
  TempDir tmp;
  std::vector<std::unique_ptr<TestSession>> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(std::make_unique<TestSession>(v, tmp, absl::StrCat("s", i)));
  Files want;
  for (int i = 0; i < 4; ++i) {
    sessions[i]->Mkdir("c");
    for (int j = 0; j < 5; ++j) {
      std::string f = absl::StrCat("c/f", i, "-", j);
      sessions[i]->Write(f, absl::StrCat(i, " ", j, "\n"));
      want[f] = absl::StrCat(i, " ", j, "\n");
    }
  }
  for (auto& s : sessions) COMMIT(*s);
  want["c"] = "/";
  EXPECT_EQ(v.Files(), want);
  EXPECT_EQ(v.Seq(), 4u);
}

TEST(CommitEngine, ACommitThatLosesTheRaceIsReplayedOnTheWinner) {
  TestVolume v;
  TempDir tmp;
  TestSession a(v, tmp, "a"), b(v, tmp, "b");
  a.Mkdir("c");
  a.Write("c/from-a", "a");
  b.Mkdir("c");
  b.Write("c/from-b", "b");
  // a commits after b has read the head and before b appends its commit.
  v.store.before_next_commit = [&] { COMMIT(a); };
  COMMIT(b);
  EXPECT_EQ(v.Files(), (Files{{"c", "/"}, {"c/from-a", "a"}, {"c/from-b", "b"}}));
  EXPECT_EQ(v.Seq(), 2u);
}

TEST(CommitEngine, TouchAndChmodOfADirectoryChangeOnlyItsModeAndTime) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/d/f", "f"}});
  TestSession s(v, tmp, "s");
  s.Chmod("d", 0700);
  s.Touch("d", 12345);
  v.Put({{"/d/new", "other"}});
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"d", "/"}, {"d/f", "f"}, {"d/new", "other"}}));
  EXPECT_EQ(v.Lookup("/d")->mode, 0700u);
  EXPECT_EQ(v.Lookup("/d")->mtime_ns, int64_t{12345} * 1000000000);
}

TEST(CommitEngine, MvOfADirectoryMovesItAsItIsAtTheHead) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/d/f", "f"}, {"/d/sub/x", "x"}});
  TestSession s(v, tmp, "s");
  s.Rename("d", "e");
  v.Put({{"/d/new", "other"}, {"/d/sub/x", "x2"}});  // added and rewritten by another writer
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"e", "/"}, {"e/f", "f"}, {"e/new", "other"}, {"e/sub", "/"}, {"e/sub/x", "x2"}}));
}

TEST(CommitEngine, MvOfADirectoryAnotherWriterRemovedPutsTheSessionsCopy) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/d/f", "f"}, {"/d/g", "g"}});
  TestSession s(v, tmp, "s");
  s.Rename("d", "e");
  s.Write("e/h", "h");
  v.Remove("/d");
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"e", "/"}, {"e/f", "f"}, {"e/g", "g"}, {"e/h", "h"}}));
}

TEST(CommitEngine, MvOfASubdirectoryKeepsWhatOthersAddedToIt) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/d/sub/x", "x"}});
  TestSession s(v, tmp, "s");
  s.Rename("d/sub", "d/sub2");
  v.Put({{"/d/sub/y", "y"}});
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"d", "/"}, {"d/sub2", "/"}, {"d/sub2/x", "x"}, {"d/sub2/y", "y"}}));
}

TEST(CommitEngine, RmROfADirectoryRemovesOnlyWhatTheSessionSaw) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/d/f", "f"}, {"/d/g/h", "h"}, {"/keep", "k"}});
  TestSession s(v, tmp, "s");
  s.RmR("d");
  v.Put({{"/d/new", "other"}});
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"d", "/"}, {"d/new", "other"}, {"keep", "k"}}));
  // Without another writer the directory goes too.
  TestSession t(v, tmp, "t");
  t.RmR("d");
  COMMIT(t);
  EXPECT_EQ(v.Files(), (Files{{"keep", "k"}}));
}

TEST(CommitEngine, MvIntoAnExistingDirectoryMergesWithWhatOthersAdded) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/d/f", "f"}});
  v.Mutate([](TreeEditor& t) { return t.PutDir(P("/e"), 0755, 1); });
  TestSession s(v, tmp, "s");
  s.Rename("d", "e");  // e is empty in the view
  v.Put({{"/e/other", "o"}});
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"e", "/"}, {"e/f", "f"}, {"e/other", "o"}}));
}

TEST(CommitEngine, TheSameFileWrittenTwiceIsTheLaterCommitsWhole) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/f", "base"}});
  TestSession a(v, tmp, "a"), b(v, tmp, "b");
  a.Write("f", "from a");
  b.Write("f", "from b, longer");
  COMMIT(b);
  COMMIT(a);
  EXPECT_EQ(v.Files(), (Files{{"f", "from a"}}));
  // A path this session removed goes, whoever rewrote it since.
  TestSession c(v, tmp, "c");
  c.Unlink("f");
  v.Put({{"/f", "rewritten"}});
  COMMIT(c);
  EXPECT_EQ(v.Files(), Files{});
}

TEST(CommitEngine, AFileWhereAnotherWriterPutADirectoryLeavesTheDirectory) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/x", "file"}});
  TestSession s(v, tmp, "s");
  s.Unlink("x");
  v.Mutate([](TreeEditor& t) {
    if (absl::Status st = t.Remove(P("/x")); !st.ok()) return st;
    return t.Put(P("/x/inside"), Entry{});
  });
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"x", "/"}, {"x/inside", ""}}));
}

// A session's new base is the snapshot its view mirrors: with no other
// writer, the head; and a later commit diffs against it, not the start.
TEST(CommitEngine, TheBaseFollowsTheSessionsCommits) {
  TestVolume v;
  TempDir tmp;
  v.Put({{"/a", "a"}});
  TestSession s(v, tmp, "s");
  s.Write("b", "b");
  COMMIT(s);
  EXPECT_EQ(s.base(), v.Head());
  v.Put({{"/c", "c"}});
  s.Unlink("b");
  absl::StatusOr<CommitReport> r = s.Commit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(v.Files(), (Files{{"a", "a"}, {"c", "c"}}));
}

// Random programs against a model of what they did: after every commit the
// head holds exactly the model (one writer), with the never-read files'
// content coming from their snapshot chunks.
TEST(CommitEngine, RandomProgramsCommitExactlyWhatTheyDid) {
  for (int trial = 0; trial < 12; ++trial) {
    SCOPED_TRACE(trial);
    TestVolume v;
    TempDir tmp;
    std::mt19937 rng(trial);
    Files model;
    std::vector<std::string> dirs = {""};
    auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
    auto join = [](const std::string& d, const std::string& n) { return d.empty() ? n : d + "/" + n; };
    // A base to start from.
    Files base;
    for (int i = 0; i < 6; ++i) base[absl::StrCat("/b", i % 3, "/f", i)] = absl::StrCat("base ", i);
    v.Put(base);
    TestSession s(v, tmp, "s");
    model = v.Files();
    for (const auto& [p, c] : model) {
      if (c == "/") dirs.push_back(p);
    }
    for (int step = 0; step < 40; ++step) {
      int op = rng() % 7;
      std::string d = pick(dirs);
      if (!fs::is_directory(s.Local(d.empty() ? "." : d))) continue;
      std::string name = absl::StrCat("n", rng() % 6);
      std::string path = join(d, name);
      bool exists = model.count(path) > 0;
      if (op <= 1 && (!exists || model[path] != "/")) {
        std::string content = absl::StrCat("w", trial, "-", step);
        s.Write(path, content);
        model[path] = content;
      } else if (op == 2 && !exists) {
        s.Mkdir(path);
        model[path] = "/";
        dirs.push_back(path);
      } else if (op == 3 && exists && model[path] != "/") {
        s.Unlink(path);
        model.erase(path);
      } else if (op == 4 && exists && model[path] == "/" ) {
        s.RmR(path);
        for (auto it = model.begin(); it != model.end();) {
          it = (it->first == path || it->first.rfind(path + "/", 0) == 0) ? model.erase(it) : std::next(it);
        }
      } else if (op == 5 && exists) {
        std::string to_dir = pick(dirs);
        std::string to = join(to_dir, absl::StrCat("m", rng() % 4));
        if (to == path || to.rfind(path + "/", 0) == 0 || model.count(to) ||
            !fs::is_directory(s.Local(to_dir.empty() ? "." : to_dir))) {
          continue;
        }
        s.Rename(path, to);
        Files moved;
        for (auto it = model.begin(); it != model.end();) {
          if (it->first == path || it->first.rfind(path + "/", 0) == 0) {
            moved[to + it->first.substr(path.size())] = it->second;
            it = model.erase(it);
          } else {
            ++it;
          }
        }
        model.insert(moved.begin(), moved.end());
        for (auto& dd : dirs) {
          if (dd == path || dd.rfind(path + "/", 0) == 0) dd = to + dd.substr(path.size());
        }
      } else if (op == 6) {
        COMMIT(s);
        ASSERT_EQ(v.Files(), model) << "after step " << step;
      }
    }
    COMMIT(s);
    ASSERT_EQ(v.Files(), model);
    ASSERT_EQ(s.base(), v.Head());
  }
}

TEST(CommitEngine, SpecialFilesAreNamedAndEverythingElseIsPublished) {
  TestVolume v;
  TempDir tmp;
  TestSession s(v, tmp, "s");
  ASSERT_EQ(mkfifo(s.Local("pipe").c_str(), 0644), 0);
  s.MarkChanged("pipe");
  s.Write("after", "still published");
  absl::StatusOr<CommitReport> r = s.Commit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->special, std::vector<std::string>{"pipe"});
  EXPECT_EQ(v.Files(), (Files{{"after", "still published"}}));
}

TEST(CommitEngine, A600DeepTreeCommitsWholeAndADeeperOneFailsInOneLine) {
  TestVolume v;
  TempDir tmp;
  TestSession s(v, tmp, "s");
  // 600 levels of 10-character names: 6,600 characters, beyond PATH_MAX.
  int fd = open(s.view().c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 600; ++i) {
    ASSERT_EQ(mkdirat(fd, "dddddddddd", 0755), 0);
    int next = openat(fd, "dddddddddd", O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  int f = openat(fd, "bottom.txt", O_WRONLY | O_CREAT, 0644);
  ASSERT_EQ(write(f, "deep", 4), 4);
  close(f);
  s.MarkChanged("dddddddddd");
  COMMIT(s);
  std::string path;
  for (int i = 0; i < 600; ++i) path += "/dddddddddd";
  std::optional<Entry> bottom = v.Lookup(path + "/bottom.txt");
  ASSERT_TRUE(bottom.has_value()) << "the bottom of the tree was not committed";
  EXPECT_EQ(bottom->size, 4u);

  for (int i = 600; i <= int(kMaxDepth); ++i) {  // one level more than a volume holds
    ASSERT_EQ(mkdirat(fd, "e", 0755), 0);
    int next = openat(fd, "e", O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  close(fd);
  s.MarkChanged("dddddddddd");
  absl::StatusOr<CommitReport> r = s.Commit();
  ASSERT_FALSE(r.ok()) << "a tree deeper than " << kMaxDepth << " was committed";
  EXPECT_NE(r.status().message().find(absl::StrCat("at most ", kMaxDepth)), std::string::npos) << r.status();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status();
}

TEST(CommitEngine, NamesAndTargetsThatAreNotUtf8RoundTrip) {
  TestVolume v;
  TempDir tmp;
  TestSession s(v, tmp, "s");
  s.Write("caf\xe9.txt", "latin-1 name");
  s.Symlink("\xff", "l");
  COMMIT(s);
  EXPECT_EQ(v.Files(), (Files{{"caf\xe9.txt", "latin-1 name"}, {"l", "-> \xff"}}));
  // The root tree needs version 2; the store says so in the object's header.
  absl::StatusOr<std::string> raw = v.store.Get(TreeKey(v.Head()));
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ((*raw)[4], 2);
  // A new session sees them, and commits them unchanged.
  TestSession t(v, tmp, "t");
  struct stat st;
  EXPECT_EQ(lstat(t.Local("caf\xe9.txt").c_str(), &st), 0);
  EXPECT_EQ(fs::read_symlink(t.Local("l")).string(), "\xff");
}

TEST(CommitEngine, UserXattrsAndOwnersArePublishedAndApplied) {
  TestVolume v;
  TempDir tmp;
  TestSession s(v, tmp, "s");
  s.Write("f", "content");
  if (setxattr(s.Local("f").c_str(), "user.origin", "\x01\x02 binary", 9, 0) != 0) {
    GTEST_SKIP() << "the file system under " << tmp.path() << " keeps no user xattrs";
  }
  bool root = geteuid() == 0;
  if (root) {
    ASSERT_EQ(chown(s.Local("f").c_str(), 1234, 5678), 0);
  }
  COMMIT(s);
  std::optional<Entry> e = v.Lookup("/f");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->xattrs.size(), 1u);
  EXPECT_EQ(e->xattrs[0].name, "user.origin");
  EXPECT_EQ(e->xattrs[0].value, std::string("\x01\x02 binary", 9));
  if (root) {
    EXPECT_EQ(e->owner, (Owner{1234, 5678}));
  }

  // vol get applies them.
  std::vector<RemoteItem> items;
  ASSERT_TRUE(PlanDownload(v.store, *e, tmp / "got", items).ok());
  ASSERT_TRUE(DownloadItems(v.store, items, DownloadOptions{}, nullptr).ok());
  char value[32];
  ASSERT_EQ(getxattr((tmp / "got").c_str(), "user.origin", value, sizeof value), 9);
  EXPECT_EQ(std::string(value, 9), std::string("\x01\x02 binary", 9));
  struct stat st;
  ASSERT_EQ(stat((tmp / "got").c_str(), &st), 0);
  if (root) {
    EXPECT_EQ(st.st_uid, 1234u);
  }
  // And a new session's view has them, so they survive its own commits.
  TestSession t(v, tmp, "t");
  ASSERT_EQ(getxattr(t.Local("f").c_str(), "user.origin", value, sizeof value), 9);
  t.Chmod("f", 0600);
  COMMIT(t);
  EXPECT_EQ(v.Lookup("/f")->xattrs, e->xattrs);
  EXPECT_EQ(v.Lookup("/f")->mode, 0600u);
}

// A file never read keeps its chunks (never the view's zeros), also when its
// directory moves.
TEST(CommitEngine, NeverReadFilesKeepTheirChunksThroughRenames) {
  TestVolume v;
  TempDir tmp;
  std::string big(5 << 20, 'q');
  v.Put({{"/d/big", big}});
  TestSession s(v, tmp, "s");
  s.Rename("d", "e");
  uint64_t puts = v.store.puts;
  COMMIT(s);
  EXPECT_EQ(v.Files()["e/big"], big);
  EXPECT_LT(v.store.puts - puts, 6u) << "only trees were written, no chunk";
}

}  // namespace
}  // namespace vol
