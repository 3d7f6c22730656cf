// The file:// store: the ObjectStore contract, and put-if-absent races
// between threads and between processes (exactly one winner).
#include "fetcher/store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

int CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int n = 0;
  while (struct dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

TEST(FileStore, PutGetHeadDelete) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ASSERT_TRUE(store->Put("a/b/c", "hello").ok());
  EXPECT_EQ(*store->Get("a/b/c"), "hello");
  EXPECT_EQ(store->Head("a/b/c")->size, 5u);
  ASSERT_TRUE(store->Put("a/b/c", "replaced").ok());
  EXPECT_EQ(*store->Get("a/b/c"), "replaced");
  ASSERT_TRUE(store->Put("empty", "").ok());
  EXPECT_EQ(*store->Get("empty"), "");
  EXPECT_TRUE(store->Delete("a/b/c").ok());
  EXPECT_TRUE(absl::IsNotFound(store->Get("a/b/c").status()));
  EXPECT_TRUE(absl::IsNotFound(store->Head("a/b/c").status()));
  EXPECT_TRUE(store->Delete("a/b/c").ok()) << "deleting an absent key succeeds";
  // No temporary files are left behind.
  EXPECT_EQ(CountEntries(dir / "store/tmp"), 0);
}

// Pages of the file at path that are in the page cache.
size_t CachedPages(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  void* map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((static_cast<size_t>(st.st_size) + page - 1) / page);
  size_t n = 0;
  if (map != MAP_FAILED && mincore(map, static_cast<size_t>(st.st_size), in.data()) == 0) {
    for (unsigned char c : in) n += c & 1;
  }
  if (map != MAP_FAILED) munmap(map, static_cast<size_t>(st.st_size));
  return n;
}

void DropFromPageCache(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

// GetInto reads through one reused buffer, objects in the page cache or not
// (those not are read with direct I/O and stay out of it), any size.
TEST(FileStore, GetIntoReusesTheBufferCachedOrNot) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  std::string buffer;
  for (size_t size : {size_t{5} << 20, size_t{0}, size_t{1}, size_t{4096}, size_t{3} * 4096 + 17,
                      (size_t{4} << 20) + 32, size_t{100}}) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 7 + size);
    std::string key = "chunks/k" + std::to_string(size);
    ASSERT_TRUE(store->Put(key, data).ok());
    std::string path = dir / ("store/" + key);
    for (bool cached : {true, false}) {
      if (!cached) DropFromPageCache(path);
      absl::StatusOr<std::string_view> got = store->GetInto(key, &buffer);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(*got == data) << size << " bytes, cached " << cached;
      if (size > 0) {
        EXPECT_GE(got->data(), buffer.data());
        EXPECT_LE(got->data() + got->size(), buffer.data() + buffer.size()) << "the bytes lie in the buffer";
      }
      int direct = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
      if (!cached && size >= 4096 && direct >= 0) {
        EXPECT_EQ(CachedPages(path), 0u) << "an uncached object is read without filling the page cache";
      }
      if (direct >= 0) close(direct);
    }
  }
  EXPECT_TRUE(absl::IsNotFound(store->GetInto("chunks/none", &buffer).status()));
}

TEST(FileStore, MissingKeyIsNotFoundNamingKeyAndStore) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  absl::StatusOr<std::string> got = store->Get("no/such/key");
  ASSERT_TRUE(absl::IsNotFound(got.status())) << got.status();
  EXPECT_NE(got.status().message().find("no/such/key"), std::string::npos);
  EXPECT_NE(got.status().message().find(store->Url()), std::string::npos);
}

TEST(FileStore, GetRangeClipsAtTheEnd) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ASSERT_TRUE(store->Put("k", "0123456789").ok());
  EXPECT_EQ(*store->GetRange("k", 2, 3), "234");
  EXPECT_EQ(*store->GetRange("k", 8, 100), "89");
  EXPECT_EQ(*store->GetRange("k", 10, 5), "");
  EXPECT_EQ(*store->GetRange("k", 50, 5), "");
}

TEST(FileStore, ListByPrefixInByteOrder) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  for (const char* k : {"chunks/ab/ab2", "chunks/ab/ab1", "chunks/ac/ac1", "chunks/b/x", "trees/ab/t",
                        "chunksX"}) {
    ASSERT_TRUE(store->Put(k, "x").ok());
  }
  EXPECT_EQ(*store->List("chunks/a"),
            (std::vector<std::string>{"chunks/ab/ab1", "chunks/ab/ab2", "chunks/ac/ac1"}));
  EXPECT_EQ(*store->List("chunks/ab/"), (std::vector<std::string>{"chunks/ab/ab1", "chunks/ab/ab2"}));
  EXPECT_EQ(*store->List("chunks/a", "chunks/ab/ab1"),
            (std::vector<std::string>{"chunks/ab/ab2", "chunks/ac/ac1"}));
  EXPECT_EQ(*store->List("chunks"),
            (std::vector<std::string>{"chunks/ab/ab1", "chunks/ab/ab2", "chunks/ac/ac1", "chunks/b/x",
                                      "chunksX"}));
  EXPECT_TRUE(store->List("nothing/")->empty());
  // The whole store, without the store's own temporary directory.
  EXPECT_EQ(store->List("")->size(), 6u);
}

TEST(FileStore, RelativeRootIsRefused) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = NewFileStore("relative/path");
  EXPECT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
}

TEST(FileStore, PutIfAbsentKeepsTheFirst) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ASSERT_TRUE(store->PutIfAbsent("log/1", "first").ok());
  absl::Status second = store->PutIfAbsent("log/1", "second");
  EXPECT_TRUE(absl::IsAlreadyExists(second)) << second;
  EXPECT_EQ(*store->Get("log/1"), "first");
  EXPECT_EQ(CountEntries(dir / "store/tmp"), 0);
}

TEST(FileStore, PutIfAbsentRaceBetweenThreadsHasOneWinner) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  constexpr int kThreads = 16, kKeys = 20;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = "race/" + std::to_string(k);
    std::atomic<int> winners{0}, losers{0}, winner_id{-1};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        absl::Status s = store->PutIfAbsent(key, "writer " + std::to_string(t));
        if (s.ok()) {
          winners.fetch_add(1);
          winner_id.store(t);
        } else if (absl::IsAlreadyExists(s)) {
          losers.fetch_add(1);
        } else {
          ADD_FAILURE() << s;
        }
      });
    }
    go.store(true);
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(winners.load(), 1) << key;
    ASSERT_EQ(losers.load(), kThreads - 1) << key;
    EXPECT_EQ(*store->Get(key), "writer " + std::to_string(winner_id.load()));
  }
}

TEST(FileStore, PutIfAbsentRaceBetweenProcessesHasOneWinner) {
  TempDir dir;
  std::string root = dir / "store";
  ASSERT_TRUE(NewFileStore(root).ok());
  // Each child reports the keys it won as the bits of its exit status.
  constexpr int kProcs = 8, kKeys = 7;
  // Children wait on a pipe so that they start together.
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(gate[1]);
      char c;
      (void)!read(gate[0], &c, 1);  // EOF when the parent closes its end
      auto store = NewFileStore(root);
      if (!store.ok()) _exit(200);
      int won = 0;
      for (int k = 0; k < kKeys; ++k) {
        absl::Status s = (*store)->PutIfAbsent("race/" + std::to_string(k), "proc " + std::to_string(p));
        if (s.ok()) {
          won |= 1 << k;
        } else if (!absl::IsAlreadyExists(s)) {
          _exit(201);
        }
      }
      _exit(won);
    }
    pids.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);
  std::vector<int> wins_per_key(kKeys, 0);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    int code = WEXITSTATUS(status);
    ASSERT_LT(code, 128) << "child failed with " << code;
    for (int k = 0; k < kKeys; ++k) wins_per_key[k] += (code >> k) & 1;
  }
  auto store = NewFileStore(root);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(wins_per_key[k], 1) << "key " << k;
  for (int k = 0; k < kKeys; ++k) {
    absl::StatusOr<std::string> got = (*store)->Get("race/" + std::to_string(k));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->rfind("proc ", 0), 0u) << *got;
  }
  EXPECT_EQ(CountEntries(root + "/tmp"), 0);
}

TEST(FileStore, ReadersNeverSeeAPartialPut) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  const std::string a(1 << 20, 'a'), b(1 << 20, 'b');
  ASSERT_TRUE(store->Put("k", a).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Put("k", i % 2 ? a : b).ok());
    stop.store(true);
  });
  int reads = 0;
  while (!stop.load()) {
    absl::StatusOr<std::string> got = store->Get("k");
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(*got == a || *got == b) << "a read saw a mix or a prefix (" << got->size() << " bytes)";
    ++reads;
  }
  writer.join();
  EXPECT_GT(reads, 0);
}

}  // namespace
}  // namespace vol
