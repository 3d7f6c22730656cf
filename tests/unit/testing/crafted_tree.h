// CraftedModesTree: a snapshot written with the project's own encoder
// (TreeEditor), holding the modes a hostile writer of a shared store could
// choose — setuid/setgid programs, world-writable and sticky files and
// directories — which no `vol put` of an ordinary user's files would make.
#ifndef VOL_TESTS_UNIT_TESTING_CRAFTED_TREE_H_
#define VOL_TESTS_UNIT_TESTING_CRAFTED_TREE_H_

#include <cstdint>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "fetcher/format/chunk.h"
#include "fetcher/volume/tree_editor.h"

namespace vol::testing {

// Path in the snapshot → stored mode. Files hold "#!/bin/sh\n".
inline const std::map<std::string, std::pair<EntryType, uint32_t>>& CraftedModes() {
  static const auto* modes = new std::map<std::string, std::pair<EntryType, uint32_t>>{
      {"suid", {EntryType::kFile, 04755}},     {"sgid", {EntryType::kFile, 02755}},
      {"both", {EntryType::kFile, 06755}},     {"all", {EntryType::kFile, 07777}},
      {"shared", {EntryType::kFile, 0666}},    {"sticky", {EntryType::kFile, 01644}},
      {"plain", {EntryType::kFile, 0640}},     {"open", {EntryType::kDir, 07777}},
      {"tmp", {EntryType::kDir, 01777}},       {"group", {EntryType::kDir, 02770}},
      {"open/inner", {EntryType::kFile, 04711}},
  };
  return *modes;
}

inline ObjectId WriteCraftedModesTree(ObjectStore& store) {
  const std::string content = "#!/bin/sh\n";
  absl::StatusOr<StoredChunk> chunk = StoreChunk(store, content);
  EXPECT_TRUE(chunk.ok()) << chunk.status();
  TreeEditor editor(store, EmptyTreeId());
  for (const auto& [path, type_mode] : CraftedModes()) {
    absl::StatusOr<VolumePath> p = ParseVolumePath(path);
    EXPECT_TRUE(p.ok()) << p.status();
    if (type_mode.first == EntryType::kDir) {
      EXPECT_TRUE(editor.PutDir(*p, type_mode.second, 1000000000).ok());
      continue;
    }
    Entry e;
    e.type = EntryType::kFile;
    e.mode = type_mode.second;
    e.mtime_ns = 1000000000;
    e.size = content.size();
    e.chunks = {chunk->ref};
    EXPECT_TRUE(editor.Put(*p, e).ok());
  }
  absl::StatusOr<ObjectId> root = editor.Flush();
  EXPECT_TRUE(root.ok()) << root.status();
  return root.ok() ? *root : EmptyTreeId();
}

}  // namespace vol::testing

#endif  // VOL_TESTS_UNIT_TESTING_CRAFTED_TREE_H_
