#include "fetcher/session/session_recovery.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/session_journal.h"
#include "fetcher/session/view_index.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol {
namespace {

// The live process whose pid `file` in the session holds, or 0.
int LivePid(const std::string& session_dir, const char* file) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(session_dir, "/", file));
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) return 0;
  return ProcessAlive(pid) ? pid : 0;
}

}  // namespace

absl::StatusOr<CommitReport> RecoverSession(const std::string& session_dir, bool include_cut_short) {
  // Nothing in DIR is trusted before this: another user may have planted it.
  if (absl::Status s = CheckKeptSession(session_dir); !s.ok()) return s;
  if (int pid = LivePid(session_dir, kSessionOwnerFile); pid != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the session ", session_dir, " is still running (vol run pid ", pid, "); it commits its own changes"));
  }
  if (int pid = LivePid(session_dir, VOL_SESSION_FETCHER_PID); pid != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the fetcher of session ", session_dir, " (pid ", pid, ") is still running; try again when it has exited"));
  }
  absl::StatusOr<RecoverInfo> info = ReadRecover(session_dir);
  if (!info.ok()) {
    if (absl::IsNotFound(info.status())) {
      return absl::NotFoundError(absl::StrCat(session_dir, " holds no unpublished changes (no ",
                                              kSessionRecoverFile, ")"));
    }
    return info.status();
  }
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(info->store_url);
  if (!store.ok()) return store.status();
  std::vector<std::vector<JournalRename>> journal = ReadJournalRenames(session_dir, info->mounts);
  std::string presence = absl::StrCat(session_dir, "/", VOL_SESSION_PRESENCE);
  std::vector<std::vector<std::string>> cut_short = ReadCutShort(session_dir, info->mounts.size());
  CommitReport total;
  for (size_t i = 0; i < info->mounts.size(); ++i) {
    const SessionMount& m = info->mounts[i].mount;
    std::vector<ViewRename> renames;
    for (const JournalRename& r : journal[i]) renames.push_back(r.rename);
    if (m.read_only) continue;
    auto failed = [&](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("commit of ", ShowBytes(m.mount), " (volume '", m.volume.name,
                                                 "') failed: ", s.message(), "; the session is kept in ",
                                                 session_dir));
    };
    absl::StatusOr<std::unique_ptr<ViewIndex>> index = NewDeadViewIndex(**store, presence);
    if (!index.ok()) return failed(index.status());
    CommitRequest request;
    request.full = true;
    request.renames = renames;
    if (!include_cut_short) request.cut_short = cut_short[i];
    absl::StatusOr<CommitReport> r = CommitChanges(**store, m, **index, request);
    if (!r.ok()) return failed(r.status());
    // Published: a retry after a later mount fails starts from here.
    info->mounts[i].mount.base_root = r->base;
    if (!journal[i].empty()) info->mounts[i].renames_in_base = journal[i].back().seq;
    if (absl::Status s = WriteRecoverFile(session_dir, *info); !s.ok()) return failed(s);
    for (const std::string& p : r->special) {
      fprintf(stderr, "vol: not published (not a file, directory or symlink): %s/%s\n", ShowBytes(m.mount).c_str(),
              ShowBytes(p).c_str());
    }
    total.committed = total.committed || r->committed;
    total.files += r->files;
    total.bytes_uploaded += r->bytes_uploaded;
    total.trees_written += r->trees_written;
    total.seq = r->seq;
    for (const std::string& p : r->skipped) {
      if (std::find(cut_short[i].begin(), cut_short[i].end(), p) != cut_short[i].end()) {
        total.skipped.push_back(absl::StrCat(m.mount, "/", p));
      }
    }
  }
  if (!total.skipped.empty()) return total;  // kept, with what was left out
  if (absl::Status s = RemoveSessionDir(session_dir); !s.ok()) return s;
  return total;
}

}  // namespace vol
