// CopyPaths: cp -r's rules, errors with the errno Python maps to exceptions.
#include "fetcher/volume/copy_paths.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "fetcher/util/errno_status.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

VolumePath P(const std::string& s) { return *ParseVolumePath(s); }

Entry File(uint64_t size) {
  Entry e;
  e.size = size;
  if (size > 0) e.chunks = {{ObjectId::Of(std::to_string(size)), size}};
  return e;
}

class CopyPathsTest : public ::testing::Test {
 protected:
  // As in a commit: the sources are in the stored snapshot the editor starts from.
  void SetUp() override {
    TreeEditor setup(*store_, EmptyTreeId());
    for (const char* p : {"/a/one", "/a/sub/two", "/b/a/only-in-b", "/x"}) ASSERT_TRUE(setup.Put(P(p), File(3)).ok());
    absl::StatusOr<ObjectId> root = setup.Flush();
    ASSERT_TRUE(root.ok()) << root.status();
    tree_ = std::make_unique<TreeEditor>(*store_, *root);
  }
  absl::Status Copy(std::vector<std::string> srcs, const std::string& dst, bool recursive) {
    std::vector<VolumePath> sources;
    for (const std::string& s : srcs) sources.push_back(P(s));
    CopyOptions o;
    o.recursive = recursive;
    o.dst_is_dir = !dst.empty() && dst.back() == '/';
    ChangeStats stats;
    return CopyPaths(*tree_, sources, P(dst), o, stats);
  }
  bool Has(const std::string& p) { return tree_->Lookup(P(p))->has_value(); }

  TempDir dir_;
  std::unique_ptr<ObjectStore> store_ = FileStoreIn(dir_);
  std::unique_ptr<TreeEditor> tree_;
};

TEST_F(CopyPathsTest, MergesDirectoriesLikeCpR) {
  ASSERT_TRUE(Copy({"/a"}, "/b", true).ok());
  EXPECT_TRUE(Has("/b/a/one"));
  EXPECT_TRUE(Has("/b/a/sub/two"));
  EXPECT_TRUE(Has("/b/a/only-in-b")) << "what only the destination had stays";
  ASSERT_TRUE(Copy({"/a"}, "/new", true).ok());
  EXPECT_TRUE(Has("/new/sub/two"));
  ASSERT_TRUE(Copy({"/x", "/a/one"}, "/b", false).ok());
  EXPECT_TRUE(Has("/b/x") && Has("/b/one"));
  ASSERT_TRUE(Copy({"/x"}, "/made/", false).ok());
  EXPECT_TRUE(Has("/made/x"));
}

TEST_F(CopyPathsTest, ErrorsCarryTheirErrno) {
  EXPECT_EQ(ErrnoOf(Copy({"/a"}, "/c", false)), EISDIR);
  EXPECT_EQ(ErrnoOf(Copy({"/x", "/a/one"}, "/x", false)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(Copy({"/nope"}, "/c", false)), ENOENT);
  EXPECT_EQ(ErrnoOf(Copy({"/a"}, "/a/in", true)), EINVAL);
  ASSERT_TRUE(tree_->Put(P("/sub"), File(1)).ok());
  EXPECT_EQ(ErrnoOf(Copy({"/sub"}, "/a", false)), EISDIR) << "a file onto the directory /a/sub";
  EXPECT_EQ(ErrnoOf(Copy({"/a/sub"}, "/x", true)), ENOTDIR) << "a directory onto a file";
}

}  // namespace
}  // namespace vol
