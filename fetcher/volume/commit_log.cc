#include "fetcher/volume/commit_log.h"

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/format/tree.h"

namespace vol {
namespace {

using nlohmann::json;

std::string EncodeCommit(const CommitInfo& c) {
  json j = {{"seq", c.seq},          {"parent", c.parent},
            {"root", c.root.Hex()},  {"time", c.time_ns},
            {"host", c.host},        {"message", c.message},
            {"files", c.files},      {"bytes", c.bytes},
            {"files_changed", c.files_changed}, {"bytes_changed", c.bytes_changed}};
  return EncodeObject(ObjectKind::kCommit, DumpJson(j), /*try_compress=*/false).bytes;
}

absl::StatusOr<CommitInfo> DecodeCommit(absl::string_view bytes, const std::string& key) {
  absl::StatusOr<std::string> raw = DecodeObject(ObjectKind::kCommit, bytes, key);
  if (!raw.ok()) return raw.status();
  json j = json::parse(*raw, nullptr, false);
  CommitInfo c;
  try {
    c.seq = j.at("seq").get<uint64_t>();
    c.parent = j.at("parent").get<uint64_t>();
    std::optional<ObjectId> root = ObjectId::FromHex(j.at("root").get<std::string>());
    if (!root) throw std::runtime_error("bad root id");
    c.root = *root;
    c.time_ns = j.at("time").get<int64_t>();
    c.host = j.value("host", "");
    c.message = j.value("message", "");
    c.files = j.value("files", uint64_t{0});
    c.bytes = j.value("bytes", uint64_t{0});
    c.files_changed = j.value("files_changed", uint64_t{0});
    c.bytes_changed = j.value("bytes_changed", uint64_t{0});
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("commit ", key, " is malformed (", e.what(), ")"));
  }
  return c;
}

}  // namespace

absl::StatusOr<CommitInfo> ReadCommit(ObjectStore& store, const std::string& volume_id,
                                      uint64_t seq) {
  std::string key = CommitKey(volume_id, seq);
  absl::StatusOr<std::string> bytes = store.Get(key);
  if (!bytes.ok()) return bytes.status();
  return DecodeCommit(*bytes, key);
}

namespace {

// The highest sequence number in the log, by LIST (0 for an empty log).
absl::StatusOr<uint64_t> LastListedSeq(ObjectStore& store, const std::string& volume_id) {
  std::string prefix = CommitPrefix(volume_id);
  absl::StatusOr<std::vector<std::string>> keys = store.List(prefix);
  if (!keys.ok()) return keys.status();
  uint64_t seq = 0;
  if (!keys->empty() && !absl::SimpleAtoi(keys->back().substr(prefix.size()), &seq)) {
    return absl::DataLossError(absl::StrCat("unexpected key ", keys->back(), " in the commit log"));
  }
  return seq;
}

}  // namespace

absl::StatusOr<CommitInfo> ReadHead(ObjectStore& store, const std::string& volume_id) {
  uint64_t seq = 0;
  absl::StatusOr<std::string> hint = store.Get(HeadHintKey(volume_id));
  if (!hint.ok() && !absl::IsNotFound(hint.status())) return hint.status();
  if (!hint.ok() || !absl::SimpleAtoi(*hint, &seq)) {
    absl::StatusOr<uint64_t> listed = LastListedSeq(store, volume_id);
    if (!listed.ok()) return listed.status();
    seq = *listed;
  }
  CommitInfo head;
  head.root = EmptyTreeId();
  if (seq > 0) {
    absl::StatusOr<CommitInfo> c = ReadCommit(store, volume_id, seq);
    if (absl::IsNotFound(c.status())) {
      // A hint ahead of the log (only a damaged store has one): trust the LIST.
      absl::StatusOr<uint64_t> listed = LastListedSeq(store, volume_id);
      if (!listed.ok()) return listed.status();
      if (*listed == 0) return head;
      c = ReadCommit(store, volume_id, *listed);
    }
    if (!c.ok()) return c.status();
    head = *std::move(c);
  }
  // The hint may lag behind: walk forward to the real end of the log.
  for (;;) {
    absl::StatusOr<CommitInfo> next = ReadCommit(store, volume_id, head.seq + 1);
    if (absl::IsNotFound(next.status())) return head;
    if (!next.ok()) return next.status();
    head = *std::move(next);
  }
}

absl::StatusOr<std::vector<CommitInfo>> ReadHistory(ObjectStore& store,
                                                    const std::string& volume_id) {
  absl::StatusOr<std::vector<std::string>> keys = store.List(CommitPrefix(volume_id));
  if (!keys.ok()) return keys.status();
  std::vector<CommitInfo> out;
  for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
    absl::StatusOr<std::string> bytes = store.Get(*it);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<CommitInfo> c = DecodeCommit(*bytes, *it);
    if (!c.ok()) return c.status();
    out.push_back(*std::move(c));
  }
  return out;
}

absl::Status AppendCommit(ObjectStore& store, const std::string& volume_id,
                          const CommitInfo& commit) {
  absl::Status s = store.PutIfAbsent(CommitKey(volume_id, commit.seq), EncodeCommit(commit));
  if (!s.ok()) return s;
  // Best effort: a lost hint only costs the next reader a LIST.
  store.Put(HeadHintKey(volume_id), std::to_string(commit.seq)).IgnoreError();
  return absl::OkStatus();
}

}  // namespace vol
