// The shim's pure path logic (shim/path.h): mount matching at component
// boundaries, lexical normalisation, escapes by "..", and the translation
// between mount paths and view paths in both directions.
#include "shim/path.h"

#include <gtest/gtest.h>

#include <string>

namespace vol::shim {
namespace {

MountTable* Table() {
  static MountTable t = [] {
    MountTable t{};
    auto add = [&](const char* mount, const char* view, bool rw) {
      Mount& m = t.m[t.count++];
      strcpy(m.mount, mount);
      strcpy(m.view, view);
      m.mount_len = strlen(mount);
      m.view_len = strlen(view);
      m.rw = rw;
    };
    add("/mnt/v", "/tmp/s/views/v", false);
    add("/data", "/tmp/s/views/data", true);
    add("/mnt/w", "/tmp/s/views/w", false);
    add("/deep/a/b", "/tmp/s/views/b", false);
    strcpy(t.synth, "/tmp/s/parents");
    t.synth_len = strlen(t.synth);
    build_ancestors(t);
    return t;
  }();
  return &t;
}

std::string Norm(const char* p) {
  char out[kPathMax];
  EXPECT_GE(path_normalize(p, out, sizeof out), 0) << p;
  return out;
}

struct Xl {
  Xlate kind;
  std::string out;
  int mount;
};
Xl Translate(const char* p) {
  char out[kPathMax] = "";
  int mount = -1;
  Xlate k = translate_abs(*Table(), p, out, sizeof out, &mount);
  return {k, out, mount};
}

TEST(PathUnder, MatchesOnlyAtComponentBoundaries) {
  EXPECT_TRUE(path_under("/mnt/v", "/mnt/v", 6));
  EXPECT_TRUE(path_under("/mnt/v/x", "/mnt/v", 6));
  EXPECT_FALSE(path_under("/mnt/vx", "/mnt/v", 6));
  EXPECT_FALSE(path_under("/mnt", "/mnt/v", 6));
  EXPECT_FALSE(path_under("/mn", "/mnt/v", 6));
}

TEST(PathNormalize, CollapsesDotsAndSlashes) {
  EXPECT_EQ(Norm("/"), "/");
  EXPECT_EQ(Norm("//a//b/"), "/a/b");
  EXPECT_EQ(Norm("/a/./b/."), "/a/b");
  EXPECT_EQ(Norm("/a/b/../c"), "/a/c");
  EXPECT_EQ(Norm("/a/b/../../.."), "/");
  EXPECT_EQ(Norm("/.."), "/");
  EXPECT_EQ(Norm("/mnt/v/dir/../.."), "/mnt");
  EXPECT_EQ(Norm("/a/..b/c.."), "/a/..b/c..");
}

TEST(PathNormalize, RefusesWhatDoesNotFit) {
  char out[8];
  EXPECT_LT(path_normalize("/abcdefgh", out, sizeof out), 0);
  EXPECT_EQ(path_normalize("/abc", out, sizeof out), 4);
}

TEST(PathEscapes, CountsDepthLexically) {
  EXPECT_FALSE(path_escapes("..", 1));
  EXPECT_TRUE(path_escapes("../..", 1));
  EXPECT_TRUE(path_escapes("..", 0));
  EXPECT_FALSE(path_escapes("a/../..", 1));
  EXPECT_TRUE(path_escapes("a/../../..", 1));
  EXPECT_FALSE(path_escapes("./x/./..", 0));
  EXPECT_TRUE(path_has_dotdot("a/../b"));
  EXPECT_TRUE(path_has_dotdot(".."));
  EXPECT_FALSE(path_has_dotdot("a..b/..c/d.."));
}

TEST(PathDepth, CountsComponentsBelowRoot) {
  EXPECT_EQ(path_depth_below("/mnt/v", 6), 0);
  EXPECT_EQ(path_depth_below("/mnt/v/a", 6), 1);
  EXPECT_EQ(path_depth_below("/mnt/v/a/b/", 6), 2);
}

TEST(TranslateAbs, PassesPathsOutsideMounts) {
  EXPECT_EQ(Translate("/etc/passwd").kind, Xlate::kPass);
  EXPECT_EQ(Translate("/mnt/vx/a").kind, Xlate::kPass);
  EXPECT_EQ(Translate("/mnt").kind, Xlate::kPass);
  EXPECT_EQ(Translate("/").kind, Xlate::kPass);
}

TEST(TranslateAbs, RewritesMountPathsToViews) {
  Xl r = Translate("/mnt/v");
  EXPECT_EQ(r.kind, Xlate::kMount);
  EXPECT_EQ(r.out, "/tmp/s/views/v");
  EXPECT_EQ(r.mount, 0);
  r = Translate("/data/x/y.bin");
  EXPECT_EQ(r.out, "/tmp/s/views/data/x/y.bin");
  EXPECT_EQ(r.mount, 1);
  // ".." that stays inside the mount is left to the kernel.
  r = Translate("/mnt/v/a/../b");
  EXPECT_EQ(r.out, "/tmp/s/views/v/a/../b");
}

TEST(TranslateAbs, DotDotOutOfAMountLandsOnTheHostOrAnotherMount) {
  Xl r = Translate("/mnt/v/..");
  EXPECT_EQ(r.kind, Xlate::kHost);
  EXPECT_EQ(r.out, "/mnt");
  r = Translate("/mnt/v/a/../../../etc");
  EXPECT_EQ(r.kind, Xlate::kHost);
  EXPECT_EQ(r.out, "/etc");
  r = Translate("/mnt/v/../../data/f");
  EXPECT_EQ(r.kind, Xlate::kMount);
  EXPECT_EQ(r.out, "/tmp/s/views/data/f");
  EXPECT_EQ(r.mount, 1);
}

TEST(Untranslate, RewritesViewPathsBack) {
  char out[kPathMax];
  EXPECT_GT(untranslate(*Table(), "/tmp/s/views/v/dir/f", out, sizeof out), 0);
  EXPECT_STREQ(out, "/mnt/v/dir/f");
  EXPECT_GT(untranslate(*Table(), "/tmp/s/views/data", out, sizeof out), 0);
  EXPECT_STREQ(out, "/data");
  EXPECT_EQ(untranslate(*Table(), "/tmp/s/views/vv/f", out, sizeof out), 0);
  EXPECT_EQ(untranslate(*Table(), "/tmp/s/views", out, sizeof out), 0);
  char small[6];
  EXPECT_LT(untranslate(*Table(), "/tmp/s/views/v/long", small, sizeof small), 0);
}

TEST(Ancestors, EveryProperPrefixOnce) {
  const MountTable& t = *Table();
  std::string all;
  for (int k = 0; k < t.anc_count; k++) all += std::string(ancestor_path(t, k), t.anc[k].len) + " ";
  EXPECT_EQ(all, "/ /mnt /deep /deep/a ");
  EXPECT_EQ(ancestor_of(t, "/"), 0);
  EXPECT_EQ(ancestor_of(t, "/mnt/"), 1);
  EXPECT_EQ(ancestor_of(t, "/deep/a"), 3);
  EXPECT_EQ(ancestor_of(t, "/deep/a/b"), -1);  // a mount, not an ancestor
  EXPECT_EQ(ancestor_of(t, "/dee"), -1);
}

TEST(Ancestors, ChildrenAreTheNextComponentsTowardsMounts) {
  const MountTable& t = *Table();
  auto children = [&](const char* dir) {
    std::string out;
    char name[kPathMax];
    for (int k = 0; ancestor_child(t, ancestor_of(t, dir), k, name, sizeof name); k++)
      out += std::string(name) + " ";
    return out;
  };
  EXPECT_EQ(children("/"), "mnt data deep ");
  EXPECT_EQ(children("/mnt"), "v w ");
  EXPECT_EQ(children("/deep"), "a ");
  EXPECT_EQ(children("/deep/a"), "b ");
}

TEST(Ancestors, SyntheticParentsTranslateBothWays) {
  const MountTable& t = *Table();
  char out[kPathMax];
  ASSERT_GT(synth_path(t, 3, out, sizeof out), 0);
  EXPECT_STREQ(out, "/tmp/s/parents/3");
  EXPECT_GT(untranslate(t, "/tmp/s/parents/3", out, sizeof out), 0);
  EXPECT_STREQ(out, "/deep/a");
  EXPECT_GT(untranslate(t, "/tmp/s/parents/2/x", out, sizeof out), 0);
  EXPECT_STREQ(out, "/deep/x");
  EXPECT_EQ(untranslate(t, "/tmp/s/parents/9", out, sizeof out), 0);   // no such ancestor
  EXPECT_EQ(untranslate(t, "/tmp/s/parents/1x", out, sizeof out), 0);
  EXPECT_EQ(untranslate(t, "/tmp/s/parents", out, sizeof out), 0);
}

TEST(MountAncestor, RootAndParentsOfMountsOnly) {
  EXPECT_TRUE(is_mount_ancestor(*Table(), "/"));
  EXPECT_TRUE(is_mount_ancestor(*Table(), "/mnt"));
  EXPECT_TRUE(is_mount_ancestor(*Table(), "/mnt/"));
  EXPECT_FALSE(is_mount_ancestor(*Table(), "/mnt/v"));
  EXPECT_FALSE(is_mount_ancestor(*Table(), "/mn"));
  EXPECT_FALSE(is_mount_ancestor(*Table(), "/tmp"));
}

TEST(TranslateAbs, ReportsWhatDoesNotFit) {
  std::string longp = "/mnt/v/" + std::string(kPathMax - 10, 'x');
  char out[kPathMax];
  int mount = -1;
  // The view path is longer than the mount path: it no longer fits.
  EXPECT_EQ(translate_abs(*Table(), longp.c_str(), out, sizeof out, &mount), Xlate::kError);
  char small[8];
  EXPECT_LT(path_concat(small, sizeof small, "/abc", 4, "/defgh"), 0);
  EXPECT_EQ(path_concat(small, sizeof small, "/abc", 4, "/de"), 7);
  EXPECT_STREQ(small, "/abc/de");
}

TEST(TranslateAbs, TrailingSlashesAndDoubleSlashesInsideTheMount) {
  Xl r = Translate("/mnt/v/");
  EXPECT_EQ(r.kind, Xlate::kMount);
  EXPECT_EQ(r.out, "/tmp/s/views/v/");
  r = Translate("/mnt/v//a");
  EXPECT_EQ(r.out, "/tmp/s/views/v//a");
  // Only the exact prefix is recognised, as documented in SEMANTICS.md.
  EXPECT_EQ(Translate("//mnt/v/a").kind, Xlate::kPass);
}

TEST(MagicPrefix, ProcAndDevFdSpellingsOfAnFd) {
  auto n = [](const char* p) { return magic_prefix(p); };
  EXPECT_EQ(n("/proc/self/fd/3"), strlen("/proc/self/fd/3"));
  EXPECT_EQ(n("/proc/self/fd/3/sub/x"), strlen("/proc/self/fd/3"));
  EXPECT_EQ(n("/proc/1234/fd/17"), strlen("/proc/1234/fd/17"));
  EXPECT_EQ(n("/proc/thread-self/fd/0"), strlen("/proc/thread-self/fd/0"));
  EXPECT_EQ(n("/proc/self/task/99/fd/4"), strlen("/proc/self/task/99/fd/4"));
  EXPECT_EQ(n("/proc/self/cwd/a/b"), strlen("/proc/self/cwd"));
  EXPECT_EQ(n("/proc/self/root/mnt/v"), strlen("/proc/self/root"));
  EXPECT_EQ(n("/proc/42/exe"), strlen("/proc/42/exe"));
  EXPECT_EQ(n("/dev/fd/5"), strlen("/dev/fd/5"));
  EXPECT_EQ(n("/dev/stdin"), strlen("/dev/stdin"));
  EXPECT_EQ(n("/dev/stderr"), strlen("/dev/stderr"));
  EXPECT_EQ(n("/dev/null"), 0u);
  EXPECT_EQ(n("/dev/stdinx"), 0u);
  EXPECT_EQ(n("/proc/self/fdinfo/3"), 0u);
  EXPECT_EQ(n("/proc/self/fd/"), 0u);
  EXPECT_EQ(n("/proc/self/cwdx"), 0u);
  EXPECT_EQ(n("/proc/cpuinfo"), 0u);
  EXPECT_EQ(n("/proc/self/maps"), 0u);
}

TEST(PathNotNormal, DotComponentsAndPathsNearMounts) {
  const MountTable& t = *Table();
  EXPECT_TRUE(path_has_dots("/mnt/./v"));
  EXPECT_TRUE(path_has_dots("/mnt/v/.."));
  EXPECT_TRUE(path_has_dots("/data/."));
  EXPECT_TRUE(path_has_dots("/tmp/../mnt"));
  EXPECT_FALSE(path_has_dots("/mnt/v/.hidden/..x/x."));
  EXPECT_FALSE(path_has_dots("//mnt/v"));
  EXPECT_TRUE(path_near_mounts(t, "//mnt/v"));
  EXPECT_TRUE(path_near_mounts(t, "/mnt"));
  EXPECT_TRUE(path_near_mounts(t, "/deep/x"));
  EXPECT_FALSE(path_near_mounts(t, "/tmp//x"));
  EXPECT_FALSE(path_near_mounts(t, "/mn/x"));
  EXPECT_FALSE(path_near_mounts(t, "/mntx"));
}

TEST(PathJoin, JoinsWithOneSlash) {
  char out[kPathMax];
  path_join(out, sizeof out, "/", "a");
  EXPECT_STREQ(out, "/a");
  path_join(out, sizeof out, "/mnt/v", "b/c");
  EXPECT_STREQ(out, "/mnt/v/b/c");
}

}  // namespace
}  // namespace vol::shim
