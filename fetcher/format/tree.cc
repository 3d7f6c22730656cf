#include "fetcher/format/tree.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/content_object.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"

namespace vol {
namespace {

using nlohmann::json;
namespace dom = simdjson::dom;

absl::Status Malformed(absl::string_view name, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("tree ", name, " is malformed (", what, ")"));
}

bool ValidName(absl::string_view n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == absl::string_view::npos &&
         n.find('\0') == absl::string_view::npos;
}

// Reading uses simdjson's DOM: on a large directory it is many times faster
// than nlohmann's. The parse checks the whole document (JSON, UTF-8); then
// each member an entry's type needs is checked for what EncodeTree writes
// there. Numbers must be integers in the member's range: a negative size, a
// fractional mode or a uid past 2^32 is malformed, not converted.

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// BytesFromJson's two forms (json_bytes.h): a string, or {"base64": "..."}.
std::optional<std::string> BytesFrom(dom::element v) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  dom::object o;
  if (v.get_object().get(o) != simdjson::SUCCESS || o.size() != 1 ||
      o.at_key("base64").get_string().get(s) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string out;
  if (!absl::Base64Unescape(View(s), &out)) return std::nullopt;
  return out;
}

bool GetU64(const std::optional<dom::element>& v, uint64_t& out) {
  return v && v->get_uint64().get(out) == simdjson::SUCCESS;
}

bool GetU32(const std::optional<dom::element>& v, uint32_t& out) {
  uint64_t wide;
  if (!GetU64(v, wide) || wide > UINT32_MAX) return false;
  out = static_cast<uint32_t>(wide);
  return true;
}

// A chunk ([id, size]) or an xattr ([name, value]).
bool GetPair(dom::element v, dom::element& first, dom::element& second) {
  dom::array a;
  return v.get_array().get(a) == simdjson::SUCCESS && a.size() == 2 &&
         a.at(0).get(first) == simdjson::SUCCESS && a.at(1).get(second) == simdjson::SUCCESS;
}

// An entry's members, gathered in one pass so that their order does not
// matter (the last of a repeated member wins).
struct Members {
  std::optional<dom::element> name, type, mode, mtime, size, chunks, tree, files, target, xattrs, uid, gid;
};

constexpr std::pair<std::string_view, std::optional<dom::element> Members::*> kMembers[] = {
    {"name", &Members::name},     {"type", &Members::type},     {"mode", &Members::mode},
    {"mtime", &Members::mtime},   {"size", &Members::size},     {"chunks", &Members::chunks},
    {"tree", &Members::tree},     {"files", &Members::files},   {"target", &Members::target},
    {"xattrs", &Members::xattrs}, {"uid", &Members::uid},       {"gid", &Members::gid},
};

absl::Status DecodeEntry(dom::element j, absl::string_view tree_name, Entry& e) {
  dom::object object;
  if (j.get_object().get(object) != simdjson::SUCCESS) {
    return Malformed(tree_name, "an entry is not an object");
  }
  Members m;
  for (dom::key_value_pair member : object) {
    for (const auto& [key, slot] : kMembers) {
      if (member.key == key) {
        m.*slot = member.value;
        break;
      }
    }
  }
  std::optional<std::string> entry_name;
  if (m.name) entry_name = BytesFrom(*m.name);
  if (!entry_name || !ValidName(*entry_name)) {
    return Malformed(tree_name, absl::StrCat("bad entry name '", ShowBytes(entry_name.value_or("?")), "'"));
  }
  e.name = *std::move(entry_name);
  auto bad = [&](absl::string_view member, absl::string_view expected) {
    return Malformed(tree_name, absl::StrCat("\"", member, "\" of '", ShowBytes(e.name),
                                             "' is absent or not ", expected));
  };
  static constexpr absl::string_view kU32 = "an integer in [0, 2^32)", kU64 = "an integer in [0, 2^64)";

  std::string_view type;
  if (!m.type || m.type->get_string().get(type) != simdjson::SUCCESS) return bad("type", "a string");
  uint32_t mode;
  if (!GetU32(m.mode, mode)) return bad("mode", kU32);
  e.mode = mode & 07777;
  if (!m.mtime || m.mtime->get_int64().get(e.mtime_ns) != simdjson::SUCCESS) {
    return bad("mtime", "a 64-bit integer");
  }
  if (!GetU64(m.size, e.size)) return bad("size", kU64);
  if (type == "file") {
    e.type = EntryType::kFile;
    dom::array chunks;
    if (!m.chunks || m.chunks->get_array().get(chunks) != simdjson::SUCCESS) {
      return bad("chunks", "a list of [id, size]");
    }
    e.chunks.reserve(chunks.size());
    uint64_t total = 0;
    for (dom::element c : chunks) {
      dom::element id_json, size_json;
      std::string_view hex;
      uint64_t size;
      if (!GetPair(c, id_json, size_json) || id_json.get_string().get(hex) != simdjson::SUCCESS ||
          !GetU64(size_json, size)) {
        return bad("chunks", "a list of [id, size]");
      }
      std::optional<ObjectId> id = ObjectId::FromHex(View(hex));
      if (!id) return Malformed(tree_name, "bad chunk id");
      e.chunks.push_back({*id, size});
      total += size;
    }
    if (total != e.size) {
      return Malformed(tree_name, absl::StrCat("chunks of '", ShowBytes(e.name), "' do not add up"));
    }
  } else if (type == "dir") {
    e.type = EntryType::kDir;
    std::string_view hex;
    std::optional<ObjectId> id;
    if (m.tree && m.tree->get_string().get(hex) == simdjson::SUCCESS) id = ObjectId::FromHex(View(hex));
    if (!id) return Malformed(tree_name, "bad subtree id");
    e.tree = *id;
    if (!GetU64(m.files, e.files)) return bad("files", kU64);
  } else if (type == "symlink") {
    e.type = EntryType::kSymlink;
    std::optional<std::string> target;
    if (m.target) target = BytesFrom(*m.target);
    if (!target) return Malformed(tree_name, absl::StrCat("bad target of '", ShowBytes(e.name), "'"));
    e.target = *std::move(target);
  } else {
    return Malformed(tree_name, absl::StrCat("unknown entry type '", View(type), "'"));
  }
  if (m.xattrs) {
    auto bad_xattrs = [&] {
      return Malformed(tree_name, absl::StrCat("bad xattrs of '", ShowBytes(e.name), "'"));
    };
    dom::array xattrs;
    if (m.xattrs->get_array().get(xattrs) != simdjson::SUCCESS) return bad_xattrs();
    for (dom::element pair : xattrs) {
      dom::element xn_json, xv_json;
      if (!GetPair(pair, xn_json, xv_json)) return bad_xattrs();
      std::optional<std::string> xn = BytesFrom(xn_json), xv = BytesFrom(xv_json);
      if (!xn || !xv || xn->empty() || (!e.xattrs.empty() && !(e.xattrs.back().name < *xn))) {
        return bad_xattrs();
      }
      e.xattrs.push_back({*std::move(xn), *std::move(xv)});
    }
  }
  // Both or neither.
  if (m.uid || m.gid) {
    Owner owner;
    if (!GetU32(m.uid, owner.uid)) return bad("uid", kU32);
    if (!GetU32(m.gid, owner.gid)) return bad("gid", kU32);
    e.owner = owner;
  }
  return absl::OkStatus();
}

absl::StatusOr<Tree> DecodeDocument(dom::parser& parser, absl::string_view raw, absl::string_view name) {
  dom::element doc;
  if (simdjson::error_code err = parser.parse(raw.data(), raw.size()).get(doc)) {
    return Malformed(name, absl::StrCat("not a tree document: ", simdjson::error_message(err)));
  }
  dom::array entries;
  if (doc["entries"].get_array().get(entries) != simdjson::SUCCESS) {
    return Malformed(name, "not a tree document");
  }
  Tree tree;
  tree.entries.reserve(entries.size());
  for (dom::element j : entries) {
    Entry e;
    if (absl::Status s = DecodeEntry(j, name, e); !s.ok()) return s;
    if (!tree.entries.empty() && !(tree.entries.back().name < e.name)) {
      return Malformed(name, "entries not sorted");
    }
    tree.entries.push_back(std::move(e));
  }
  return tree;
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
  // A parser keeps buffers sized for the largest document it has read (about
  // four resident bytes per byte of JSON). Each thread keeps one, so small
  // directories do not allocate and fault them in again, but gives up those
  // of a huge directory rather than hold them for the life of the thread.
  static constexpr size_t kKeptCapacity = 1 << 20;
  thread_local dom::parser parser;
  absl::StatusOr<Tree> tree = DecodeDocument(parser, raw, name);
  if (parser.capacity() > kKeptCapacity) parser = dom::parser();
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
