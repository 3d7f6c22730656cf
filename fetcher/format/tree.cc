#include "fetcher/format/tree.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/content_object.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"

namespace vol {
namespace {

using nlohmann::json;

absl::Status Malformed(absl::string_view name, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("tree ", name, " is malformed (", what, ")"));
}

bool ValidName(absl::string_view n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == absl::string_view::npos &&
         n.find('\0') == absl::string_view::npos;
}

}  // namespace

const char* EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kFile: return "file";
    case EntryType::kDir: return "dir";
    case EntryType::kSymlink: return "symlink";
  }
  return "unknown";
}

const Entry* Tree::Find(absl::string_view name) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const Entry& e, absl::string_view n) { return e.name < n; });
  return it != entries.end() && it->name == name ? &*it : nullptr;
}

uint64_t Tree::TotalFiles() const {
  uint64_t n = 0;
  for (const Entry& e : entries) n += e.is_dir() ? e.files : 1;
  return n;
}

uint64_t Tree::TotalBytes() const {
  uint64_t n = 0;
  for (const Entry& e : entries) n += e.is_symlink() ? 0 : e.size;
  return n;
}

uint8_t TreeFormatVersion(const Tree& tree) {
  for (const Entry& e : tree.entries) {
    if (!IsValidUtf8(e.name) || !IsValidUtf8(e.target) || !e.xattrs.empty() || e.owner.has_value()) {
      return kTreeFormatVersion2;
    }
  }
  return kObjectFormatVersion;
}

std::string EncodeTree(const Tree& tree) {
  json entries = json::array();
  for (const Entry& e : tree.entries) {
    // Version 1's fields, in version 1's order, so its bytes (and ids) are unchanged.
    json j = {{"name", BytesToJson(e.name)}, {"type", EntryTypeName(e.type)}, {"mode", e.mode},
              {"mtime", e.mtime_ns}, {"size", e.size}};
    switch (e.type) {
      case EntryType::kFile: {
        json chunks = json::array();
        for (const ChunkRef& c : e.chunks) chunks.push_back({c.id.Hex(), c.size});
        j["chunks"] = std::move(chunks);
        break;
      }
      case EntryType::kDir:
        j["tree"] = e.tree.Hex();
        j["files"] = e.files;
        break;
      case EntryType::kSymlink:
        j["target"] = BytesToJson(e.target);
        break;
    }
    // Version 2's.
    if (!e.xattrs.empty()) {
      json xattrs = json::array();
      for (const Xattr& x : e.xattrs) xattrs.push_back({BytesToJson(x.name), BytesToJson(x.value)});
      j["xattrs"] = std::move(xattrs);
    }
    if (e.owner) {
      j["uid"] = e.owner->uid;
      j["gid"] = e.owner->gid;
    }
    entries.push_back(std::move(j));
  }
  return DumpJson(json{{"entries", std::move(entries)}});
}

absl::StatusOr<Tree> DecodeTree(absl::string_view raw, absl::string_view name) {
  json doc = json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("entries") ||
      !doc["entries"].is_array()) {
    return Malformed(name, "not a tree document");
  }
  Tree tree;
  try {
    for (const json& j : doc["entries"]) {
      Entry e;
      std::optional<std::string> entry_name = BytesFromJson(j.at("name"));
      if (!entry_name || !ValidName(*entry_name)) {
        return Malformed(name, absl::StrCat("bad entry name '", ShowBytes(entry_name.value_or("?")), "'"));
      }
      e.name = *std::move(entry_name);
      std::string type = j.at("type").get<std::string>();
      e.mode = j.at("mode").get<uint32_t>() & 07777;
      e.mtime_ns = j.at("mtime").get<int64_t>();
      e.size = j.at("size").get<uint64_t>();
      if (type == "file") {
        e.type = EntryType::kFile;
        uint64_t total = 0;
        for (const json& c : j.at("chunks")) {
          std::optional<ObjectId> id = ObjectId::FromHex(c.at(0).get<std::string>());
          if (!id) return Malformed(name, "bad chunk id");
          e.chunks.push_back({*id, c.at(1).get<uint64_t>()});
          total += e.chunks.back().size;
        }
        if (total != e.size) {
          return Malformed(name, absl::StrCat("chunks of '", ShowBytes(e.name), "' do not add up"));
        }
      } else if (type == "dir") {
        e.type = EntryType::kDir;
        std::optional<ObjectId> id = ObjectId::FromHex(j.at("tree").get<std::string>());
        if (!id) return Malformed(name, "bad subtree id");
        e.tree = *id;
        e.files = j.at("files").get<uint64_t>();
      } else if (type == "symlink") {
        e.type = EntryType::kSymlink;
        std::optional<std::string> target = BytesFromJson(j.at("target"));
        if (!target) return Malformed(name, absl::StrCat("bad target of '", ShowBytes(e.name), "'"));
        e.target = *std::move(target);
      } else {
        return Malformed(name, absl::StrCat("unknown entry type '", type, "'"));
      }
      if (auto x = j.find("xattrs"); x != j.end()) {
        for (const json& pair : x->get_ref<const json::array_t&>()) {
          std::optional<std::string> xn = BytesFromJson(pair.at(0)), xv = BytesFromJson(pair.at(1));
          if (!xn || !xv || xn->empty() || (!e.xattrs.empty() && !(e.xattrs.back().name < *xn))) {
            return Malformed(name, absl::StrCat("bad xattrs of '", ShowBytes(e.name), "'"));
          }
          e.xattrs.push_back({*std::move(xn), *std::move(xv)});
        }
      }
      if (j.contains("uid") || j.contains("gid")) {
        e.owner = Owner{j.at("uid").get<uint32_t>(), j.at("gid").get<uint32_t>()};
      }
      if (!tree.entries.empty() && !(tree.entries.back().name < e.name)) {
        return Malformed(name, "entries not sorted");
      }
      tree.entries.push_back(std::move(e));
    }
  } catch (const json::exception& ex) {
    return Malformed(name, ex.what());
  }
  return tree;
}

absl::StatusOr<ObjectId> WriteTree(ObjectStore& store, const Tree& tree) {
  EncodedObject obj = EncodeObject(ObjectKind::kTree, EncodeTree(tree), true, TreeFormatVersion(tree));
  absl::StatusOr<ContentOutcome> stored = StoreContentObject(store, TreeKey(obj.id), obj);
  if (!stored.ok()) return stored.status();
  return obj.id;
}

absl::StatusOr<Tree> ReadTree(ObjectStore& store, const ObjectId& id) {
  // The empty directory is implied, never fetched: new volumes and `mkdir` name it.
  if (id == EmptyTreeId()) return Tree{};
  std::string key = TreeKey(id);
  absl::StatusOr<std::string> bytes = store.Get(key);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(absl::StrCat("tree ", key, " is missing from store ", store.Url()));
    }
    return bytes.status();
  }
  absl::StatusOr<std::string> raw = DecodeObjectWithId(ObjectKind::kTree, *bytes, id, key);
  if (!raw.ok()) return raw.status();
  return DecodeTree(*raw, key);
}

ObjectId EmptyTreeId() {
  static const ObjectId kEmpty = ObjectId::Of(EncodeTree(Tree{}));
  return kEmpty;
}

}  // namespace vol
