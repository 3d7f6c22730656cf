#include "fetcher/session/mount_spec.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

TEST(MountSpec, DefaultsAndNormalises) {
  auto m = ParseMountSpec("weights");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->volume, "weights");
  EXPECT_EQ(m->mount, "/mnt/weights");
  m = ParseMountSpec("w:/models//llama/");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->mount, "/models/llama");
}

TEST(MountSpec, RefusesBadPaths) {
  EXPECT_NE(ParseMountSpec("w:models").status().message().find("relative"), std::string::npos);
  EXPECT_FALSE(ParseMountSpec("w:/").ok());
  EXPECT_FALSE(ParseMountSpec("w:/a/../b").ok());
  EXPECT_FALSE(ParseMountSpec("bad name").ok());
  EXPECT_FALSE(ParseMountSpec(":/x").ok());
}

TEST(MountSpec, RefusesTwiceAndNested) {
  auto check = [](std::vector<std::string> specs) {
    std::vector<MountSpec> m;
    for (auto& s : specs) m.push_back(*ParseMountSpec(s));
    return CheckMounts(m);
  };
  EXPECT_TRUE(check({"a", "b"}).ok());
  EXPECT_TRUE(check({"a:/x/a", "b:/x/ab"}).ok()) << "a prefix that is not a parent";
  EXPECT_NE(check({"a", "a:/y"}).message().find("twice"), std::string::npos);
  EXPECT_NE(check({"a:/x", "b:/x/y"}).message().find("inside"), std::string::npos);
  EXPECT_NE(check({"a:/x/y", "b:/x"}).message().find("inside"), std::string::npos);
  EXPECT_FALSE(check({"a:/x", "b:/x"}).ok());
}

}  // namespace
}  // namespace vol
