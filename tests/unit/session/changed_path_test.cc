// ResolveChangedPath: a changed path is where the kernel put the change.
#include "fetcher/session/changed_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::TempDir;

TEST(ChangedPath, DotsSymlinkedDirectoriesAndOtherMounts) {
  TempDir tmp;
  std::string v = tmp / "view", w = tmp / "other";
  ASSERT_EQ(mkdir(v.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(w.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((v + "/a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((v + "/ckpt").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((v + "/ckpt/step-100").c_str(), 0755), 0);
  ASSERT_EQ(symlink("ckpt/step-100", (v + "/latest").c_str()), 0);
  ASSERT_EQ(symlink(w.c_str(), (v + "/to-other").c_str()), 0);
  ASSERT_EQ(symlink("/usr", (v + "/out").c_str()), 0);
  ChangedPathResolver r({v, w});
  auto at = [&](const std::string& rel) {
    std::optional<ResolvedPath> p = r.Resolve(0, rel);
    return p ? std::to_string(p->mount) + ":" + p->path : "none";
  };
  EXPECT_EQ(at("a/../c"), "0:c");
  EXPECT_EQ(at("a/./b"), "0:a/b");
  EXPECT_EQ(at("latest/extra.txt"), "0:ckpt/step-100/extra.txt");
  EXPECT_EQ(at("latest/../x"), "0:ckpt/x") << "'..' after a symlink is the parent of its target";
  EXPECT_EQ(at("latest"), "0:latest") << "the link itself changed";
  EXPECT_EQ(at("to-other/f"), "1:f");
  EXPECT_EQ(at("out/f"), "none");
  EXPECT_EQ(at("gone/dir/f"), "0:gone/dir/f") << "lexical when the directory no longer exists";
  EXPECT_EQ(at("f"), "0:f");
  EXPECT_EQ(at(""), "0:");
  EXPECT_EQ(at("../escape"), "none");

  // What a symlink to a file points to: the file a write through it changes.
  ASSERT_EQ(symlink("ckpt/step-100/w", (v + "/wlink").c_str()), 0);
  ASSERT_EQ(close(creat((v + "/ckpt/step-100/w").c_str(), 0644)), 0);
  std::optional<ResolvedPath> link = r.Resolve(0, "wlink");
  ASSERT_TRUE(link.has_value());
  std::optional<ResolvedPath> target = r.Target(*link);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->path, "ckpt/step-100/w");
  EXPECT_FALSE(r.Target(ResolvedPath{0, "ckpt"}).has_value()) << "not a symlink";
  EXPECT_FALSE(r.Target(ResolvedPath{0, "out"}).has_value()) << "points outside the views";
}

}  // namespace
}  // namespace vol
