// VolumePath parsing: lexical resolution of "." and "..", and refusal of any
// path that climbs above the volume root.
#include "fetcher/volume/volume_path.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

std::string Parsed(absl::string_view p) {
  absl::StatusOr<VolumePath> v = ParseVolumePath(p);
  return v.ok() ? v->ToString() : "error: " + std::string(v.status().message());
}

TEST(VolumePath, Normalizes) {
  EXPECT_EQ(Parsed(""), "/");
  EXPECT_EQ(Parsed("/"), "/");
  EXPECT_EQ(Parsed("//"), "/");
  EXPECT_EQ(Parsed("a"), "/a");
  EXPECT_EQ(Parsed("/a/b/"), "/a/b");
  EXPECT_EQ(Parsed("a//b"), "/a/b");
  EXPECT_EQ(Parsed("/a/./b/../c/"), "/a/c");
  EXPECT_EQ(Parsed("a/.."), "/");
  EXPECT_EQ(Parsed("./a/../b/./"), "/b");
  EXPECT_EQ(Parsed("/name with spaces/ü ✓"), "/name with spaces/ü ✓");
  EXPECT_EQ(Parsed("..."), "/...");  // a name, not a step up
  EXPECT_EQ(Parsed("/a/..b"), "/a/..b");
}

TEST(VolumePath, DotDotAboveTheRootIsRefused) {
  for (const char* p : {"..", "/..", "../x", "/a/../..", "a/b/../../../c", "/./../", "x/../../x"}) {
    absl::StatusOr<VolumePath> v = ParseVolumePath(p);
    ASSERT_FALSE(v.ok()) << p << " parsed as " << v->ToString();
    EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << v.status();
    EXPECT_NE(v.status().message().find("escapes the volume root"), std::string::npos) << v.status();
  }
}

TEST(VolumePath, BadNames) {
  EXPECT_FALSE(ParseVolumePath(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ParseVolumePath("/" + std::string(256, 'x')).ok());
  EXPECT_TRUE(ParseVolumePath("/" + std::string(255, 'x')).ok());
}

TEST(VolumePath, NamesAreBytes) {
  EXPECT_TRUE(ParseVolumePath("/café/日本/🙂").ok());
  absl::StatusOr<VolumePath> v = ParseVolumePath("/caf\xe9/\xff");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->parts, (std::vector<std::string>{"caf\xe9", "\xff"}));
}

TEST(Utf8, WellFormedOnly) {
  for (const char* ok : {"", "ascii", "é", "日本語", "🙂", "\x7f", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(IsValidUtf8(ok)) << ok;
  }
  for (const char* bad : {"\xe9", "\xff", "\x80", "caf\xc3", "\xc0\xaf" /* overlong '/' */,
                          "\xe0\x80\xaf", "\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80",
                          "\xf8\x88\x80\x80\x80", "\xe6\x97"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << absl::string_view(bad).size() << " bytes";
  }
}

TEST(VolumePath, ParentChildName) {
  VolumePath p = *ParseVolumePath("/a/b");
  EXPECT_EQ(p.Name(), "b");
  EXPECT_EQ(p.Parent().ToString(), "/a");
  EXPECT_EQ(p.Parent().Parent().ToString(), "/");
  EXPECT_TRUE(p.Parent().Parent().is_root());
  EXPECT_EQ(p.Child("c").ToString(), "/a/b/c");
  EXPECT_EQ(p, *ParseVolumePath("a/b/"));
}

}  // namespace
}  // namespace vol
