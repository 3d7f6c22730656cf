#include "fetcher/format/material_mode.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

TEST(MaterialMode, DropsWhatHandsPowerToOthers) {
  struct Case {
    uint32_t stored;
    EntryType type;
    uint32_t want;
  } cases[] = {
      {0644, EntryType::kFile, 0644},   {0755, EntryType::kFile, 0755},
      {04755, EntryType::kFile, 0755},  {02755, EntryType::kFile, 0755},
      {06755, EntryType::kFile, 0755},  {0666, EntryType::kFile, 0664},
      {01644, EntryType::kFile, 0644},  {07777, EntryType::kFile, 0775},
      {07777, EntryType::kDir, 01775},  {01777, EntryType::kDir, 01775},
      {02775, EntryType::kDir, 0775},   {0700, EntryType::kDir, 0700},
      {0777, EntryType::kSymlink, 0775},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MaterialMode(c.stored, c.type, /*preserve=*/false), c.want) << std::oct << c.stored;
    EXPECT_EQ(MaterialMode(c.stored, c.type, /*preserve=*/true), c.stored) << std::oct << c.stored;
  }
  EXPECT_EQ(MaterialMode(0170644, EntryType::kFile, true), 0644u) << "only permission bits";
}

}  // namespace
}  // namespace vol
