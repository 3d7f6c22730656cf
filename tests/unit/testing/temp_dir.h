// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test, removed
// with everything in it when the test ends; and FileStoreIn, a file:// store
// rooted in one. Tests share nothing through the file system.
#ifndef VOL_TESTS_UNIT_TESTING_TEMP_DIR_H_
#define VOL_TESTS_UNIT_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "fetcher/store/file_store.h"
#include "fetcher/util/fs.h"

namespace vol::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base == '/' ? base : "/tmp") + "/voltest.XXXXXX";
    char* made = mkdtemp(tmpl.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
    path_ = tmpl;
  }
  ~TempDir() { RemoveTree(path_).IgnoreError(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::unique_ptr<ObjectStore> FileStoreIn(const TempDir& dir) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = NewFileStore(dir / "store");
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Bytes that zstd cannot shrink (a fixed-seed xorshift stream).
inline std::string RandomBytes(size_t n, uint64_t seed = 88172645463325252ull) {
  std::string out(n, '\0');
  uint64_t x = seed | 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

}  // namespace vol::testing

#endif  // VOL_TESTS_UNIT_TESTING_TEMP_DIR_H_
