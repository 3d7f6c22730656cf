#include "fetcher/session/session_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/write_tracker.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

using nlohmann::json;

std::string InDir(const std::string& dir, const char* name) { return absl::StrCat(dir, "/", name); }

}  // namespace

std::string EncodeRename(const JournalRename& r) {
  const std::string nul(1, '\0');
  return absl::StrCat("M", nul, r.seq, nul, r.mount, nul, r.rename.from, nul, r.rename.to, nul);
}

SessionJournal::SessionJournal(std::string session_dir, std::string store_url)
    : dir_(std::move(session_dir)), store_url_(std::move(store_url)) {
  if (dir_.empty()) return;
  fd_ = open(InDir(dir_, kSessionJournalFile).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  broken_ = fd_ < 0;
}

SessionJournal::~SessionJournal() {
  if (fd_ >= 0) close(fd_);
}

absl::Status SessionJournal::WriteRecover(const std::vector<RecoverMount>& mounts) {
  if (dir_.empty()) return absl::OkStatus();
  return WriteRecoverFile(dir_, RecoverInfo{store_url_, mounts});
}

absl::Status WriteRecoverFile(const std::string& session_dir, const RecoverInfo& info) {
  json rec = {{"store", BytesToJson(info.store_url)}, {"mounts", json::array()}};
  for (const RecoverMount& rm : info.mounts) {
    const SessionMount& m = rm.mount;
    rec["mounts"].push_back({{"mount", BytesToJson(m.mount)},
                             {"view", BytesToJson(m.view)},
                             {"env", BytesToJson(m.volume.env)},
                             {"name", BytesToJson(m.volume.name)},
                             {"id", BytesToJson(m.volume.id)},
                             {"read_only", m.read_only},
                             {"base", m.base_root.Hex()},
                             {"renames_in_base", rm.renames_in_base}});
  }
  return WriteFileAtomic(InDir(session_dir, kSessionRecoverFile), DumpJson(rec), 0600);
}

void SessionJournal::AppendRename(const JournalRename& r) {
  if (dir_.empty() || broken_) return;
  std::string record = EncodeRename(r);
  absl::Status s = WriteFull(fd_, record.data(), record.size());
  if (s.ok()) return;
  broken_ = true;
  if (!warned_) {
    warned_ = true;
    fprintf(stderr,
            "vol: cannot write the session journal (%s); it is rewritten at the next commit. Until then, a "
            "session killed whole may not know where its renamed, never-read files came from\n",
            std::string(s.message()).c_str());
  }
}

absl::Status SessionJournal::Rewrite(const std::vector<JournalRename>& pending) {
  std::string text;
  for (const JournalRename& r : pending) text += EncodeRename(r);
  std::string path = InDir(dir_, kSessionJournalFile);
  if (absl::Status s = WriteFileAtomic(path, text, 0600); !s.ok()) return s;
  Reopen();
  return fd_ >= 0 ? absl::OkStatus() : ErrnoError(absl::StrCat("cannot open ", path), errno);
}

void SessionJournal::Reopen() {
  if (fd_ >= 0) close(fd_);
  fd_ = open(InDir(dir_, kSessionJournalFile).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
}

void SessionJournal::Repair(const std::vector<JournalRename>& pending) {
  if (dir_.empty() || !broken_) return;
  if (Rewrite(pending).ok()) broken_ = false;
}

void SessionJournal::Settle(const std::vector<JournalRename>& pending) {
  if (dir_.empty() || !marked_) return;
  if (!Rewrite(pending).ok()) {
    broken_ = true;
    return;
  }
  broken_ = false;
  if (unlink(InDir(dir_, kSessionChangedFile).c_str()) == 0 || errno == ENOENT) marked_ = false;
}

void SessionJournal::MarkChanged() {
  if (dir_.empty() || marked_) return;
  // So that `vol run` knows, even if this process dies, that there was something to commit.
  if (WriteFileAtomic(InDir(dir_, kSessionChangedFile), "").ok()) marked_ = true;
}

absl::StatusOr<RecoverInfo> ReadRecover(const std::string& session_dir) {
  std::string path = InDir(session_dir, kSessionRecoverFile);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  json rec = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (rec.is_discarded() || !rec.is_object()) return absl::DataLossError(absl::StrCat(path, " is not valid JSON"));
  RecoverInfo info;
  auto bytes = [&](const json& j, const char* field) -> std::string {
    std::optional<std::string> b = BytesFromJson(j.at(field));
    if (!b) throw std::invalid_argument(absl::StrCat("bad field ", field));
    return *b;
  };
  try {
    info.store_url = bytes(rec, "store");
    for (const json& jm : rec.at("mounts")) {
      RecoverMount rm;
      SessionMount& m = rm.mount;
      m.mount = bytes(jm, "mount");
      m.view = bytes(jm, "view");
      m.volume.env = bytes(jm, "env");
      m.volume.name = bytes(jm, "name");
      m.volume.id = bytes(jm, "id");
      m.read_only = jm.at("read_only").get<bool>();
      std::optional<ObjectId> base = ObjectId::FromHex(jm.at("base").get<std::string>());
      if (!base) return absl::DataLossError(absl::StrCat(path, ": bad base id"));
      m.base_root = *base;
      rm.renames_in_base = jm.value("renames_in_base", uint64_t{0});
      info.mounts.push_back(std::move(rm));
    }
  } catch (const std::exception& e) {  // json::exception, or a bad byte string
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
  return info;
}

std::vector<std::vector<JournalRename>> ReadJournalRenames(const std::string& session_dir,
                                                          const std::vector<RecoverMount>& mounts) {
  std::vector<std::vector<JournalRename>> out(mounts.size());
  absl::StatusOr<std::string> text = ReadFile(InDir(session_dir, kSessionJournalFile));
  if (!text.ok()) return out;
  std::vector<std::string> f = absl::StrSplit(absl::string_view(*text), '\0');
  auto mount_no = [&](const std::string& t, size_t* m) { return absl::SimpleAtoi(t, m) && *m < mounts.size(); };
  uint64_t old_seq = 0;
  // Every complete record is followed by a NUL: the last field is the empty
  // string after it, or a torn record, which is dropped.
  for (size_t i = 0; i + 1 < f.size();) {
    size_t m = 0, m2 = 0;
    uint64_t seq = 0;
    if (f[i] == "M" && i + 5 < f.size() && absl::SimpleAtoi(f[i + 1], &seq) && mount_no(f[i + 2], &m)) {
      if (seq > mounts[m].renames_in_base) out[m].push_back({seq, m, {f[i + 3], f[i + 4]}});
      i += 5;
    } else if (f[i] == "R" && i + 5 < f.size() && mount_no(f[i + 1], &m) && mount_no(f[i + 3], &m2)) {
      ++old_seq;  // written before sequence numbers; within one mount only
      if (m == m2 && old_seq > mounts[m].renames_in_base) out[m].push_back({old_seq, m, {f[i + 2], f[i + 4]}});
      i += 5;
    } else if (f[i] == "P" && i + 3 < f.size()) {
      i += 3;  // a changed path: recovery no longer needs them
    } else {
      break;
    }
  }
  return out;
}

std::vector<std::vector<std::string>> ReadCutShort(const std::string& session_dir, size_t mounts) {
  std::vector<std::vector<std::string>> out =
      WriteTracker::WrittenWhenKilled(absl::StrCat(session_dir, "/", kSessionWritersFile), mounts);
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session_dir, "/", kSessionCutShortFile));
  if (!text.ok()) return out;
  std::vector<std::string> fields = absl::StrSplit(*text, '\0');
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    size_t m = 0;
    if (absl::SimpleAtoi(fields[i], &m) && m < mounts && !fields[i + 1].empty()) out[m].push_back(fields[i + 1]);
  }
  for (auto& paths : out) {
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  }
  return out;
}

}  // namespace vol
