#include "fetcher/session/session_commits.h"

#include <fcntl.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/session_server.h"
#include "fetcher/session/view_index.h"
#include "fetcher/session/view_reload.h"
#include "fetcher/util/fs.h"
#include "fetcher/volume/commit_log.h"

namespace vol {
namespace {

bool AtOrBelow(const std::string& path, const std::string& dir) {
  return path == dir || dir.empty() ||
         (path.size() > dir.size() && absl::StartsWith(path, dir) && path[dir.size()] == '/');
}

std::vector<std::string> ViewsOf(const std::vector<SessionMount>& mounts) {
  std::vector<std::string> views;
  for (const SessionMount& m : mounts) views.push_back(m.view);
  return views;
}

}  // namespace

SessionCommits::SessionCommits(ObjectStore& store, FetchEngine& engine, ViewPopulator& populator,
                               ViewIndex& index, std::vector<SessionMount> mounts, std::string session_dir)
    : store_(store),
      engine_(engine),
      populator_(populator),
      index_(index),
      mounts_(std::move(mounts)),
      session_dir_(std::move(session_dir)),
      resolver_(ViewsOf(mounts_)),
      journal_(session_dir_, store.Url()),
      changed_(mounts_.size()),
      renames_(mounts_.size()),
      renames_in_base_(mounts_.size(), 0),
      // For `vol commit --session`, should this fetcher die with the writers.
      writers_(ProcessAlive, session_dir_.empty() ? "" : absl::StrCat(session_dir_, "/", kSessionWritersFile)) {
  journal_.WriteRecover(RecoverMounts()).IgnoreError();
  thread_ = std::thread([this] { Worker(); });
}

SessionCommits::~SessionCommits() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void SessionCommits::Worker() {
  for (;;) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SessionCommits* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->stopping_ || s->work_ != nullptr; },
          this));
      if (work_ == nullptr) return;  // stopping, nothing left
      work = std::move(work_);
      work_ = nullptr;
    }
    work();
  }
}

std::vector<RecoverMount> SessionCommits::RecoverMounts() const {
  std::vector<RecoverMount> out;
  for (size_t m = 0; m < mounts_.size(); ++m) out.push_back({mounts_[m], renames_in_base_[m]});
  return out;
}

std::vector<JournalRename> SessionCommits::PendingRenames() const {
  std::vector<JournalRename> all;
  for (const auto& r : renames_) all.insert(all.end(), r.begin(), r.end());
  std::sort(all.begin(), all.end(), [](const JournalRename& a, const JournalRename& b) { return a.seq < b.seq; });
  return all;
}

int SessionCommits::MountOf(const std::string& path, std::string* rel) const {
  for (size_t i = 0; i < mounts_.size(); ++i) {
    const std::string& m = mounts_[i].mount;
    if (path == m || (path.size() > m.size() && absl::StartsWith(path, m) && path[m.size()] == '/')) {
      if (rel) *rel = path.size() > m.size() ? path.substr(m.size() + 1) : "";
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool SessionCommits::HasChanges() const {
  for (const auto& c : changed_) {
    if (!c.empty()) return true;
  }
  for (const auto& r : renames_) {
    if (!r.empty()) return true;
  }
  return false;
}

void SessionCommits::Changed(size_t mount, const std::string& rel) {
  changed_[mount].insert_or_assign(rel, ++generation_);
  journal_.MarkChanged();
}

void SessionCommits::Handle(const vol_request& req, std::function<void(const vol_response&)> reply) {
  auto guarded = [this, reply](const vol_response& r) {
    if (loop_alive_) reply(r);
  };
  switch (req.op) {
    case VOL_OP_EXIT:
      writers_.Exited(static_cast<int>(req.index));
      guarded(ResponseFor(absl::OkStatus()));
      return;
    case VOL_OP_CHANGED: {
      int pid = static_cast<int>(req.index);  // 0 from a shim that predates writer tracking
      std::string path(req.path);
      std::string rel;
      int m = MountOf(path, &rel);
      std::optional<ResolvedPath> from = m >= 0 ? resolver_.Resolve(static_cast<size_t>(m), rel) : std::nullopt;
      if (!from) {
        guarded(ResponseFor(absl::OkStatus()));  // not under a mount once resolved: not ours
        return;
      }
      if (req.offset == VOL_CHANGED_DISCARD) {
        // Content files are shared and written only by the fetcher, by inode:
        // there is nothing to drop.
        guarded(ResponseFor(absl::OkStatus()));
        return;
      }
      if (req.offset == VOL_CHANGED_RENAME) {
        std::string to(req.path + path.size() + 1);
        std::string to_rel;
        int m2 = MountOf(to, &to_rel);
        std::optional<ResolvedPath> dest = m2 >= 0 ? resolver_.Resolve(static_cast<size_t>(m2), to_rel) : std::nullopt;
        if (dest) {
          if (dest->mount == from->mount && dest->path != from->path) {
            writers_.Renamed(from->mount, from->path, dest->path);
            JournalRename r{++rename_seq_, from->mount, {from->path, dest->path}};
            renames_[from->mount].push_back(r);
            journal_.AppendRename(r);
          }
          Changed(dest->mount, dest->path);
        }
      } else {
        // Through a symlink, content and metadata changes reach its target.
        std::optional<ResolvedPath> target = resolver_.Target(*from);
        if (target) Changed(target->mount, target->path);
        const ResolvedPath& file = target ? *target : *from;
        if (pid > 0 && req.offset == VOL_CHANGED_OPEN_WRITE) writers_.Opened(file.mount, file.path, pid);
        if (pid > 0 && req.offset == VOL_CHANGED_CLOSE_WRITE) writers_.Closed(file.mount, file.path, pid);
      }
      Changed(from->mount, from->path);
      guarded(ResponseFor(absl::OkStatus()));
      return;
    }
    case VOL_OP_COMMIT:
    case VOL_OP_RELOAD: {
      Job job;
      std::string path(req.path);
      if (path.empty()) {
        for (size_t i = 0; i < mounts_.size(); ++i) {
          if (!mounts_[i].read_only) job.mounts.push_back(i);
        }
      } else {
        int m = MountOf(path, nullptr);
        if (m < 0) {
          guarded(ResponseFor(absl::InvalidArgumentError(absl::StrCat(path, " is not a mount of this session"))));
          return;
        }
        job.mounts.push_back(static_cast<size_t>(m));
      }
      job.reload = req.op == VOL_OP_RELOAD;
      job.done = [guarded](absl::StatusOr<CommitReport> r) {
        vol_response resp = ResponseFor(r.status());
        if (r.ok()) {
          resp.value[0] = r->files;
          resp.value[1] = r->bytes_uploaded;
        }
        guarded(resp);
      };
      Enqueue(std::move(job));
      return;
    }
    default:
      guarded(ResponseFor(absl::UnimplementedError(absl::StrCat("unknown request ", req.op))));
  }
}

void SessionCommits::Tick() {
  if (running_ || !jobs_.empty() || !HasChanges()) return;
  journal_.Repair(PendingRenames());
  Job job;
  for (size_t i = 0; i < mounts_.size(); ++i) {
    if (!mounts_[i].read_only) job.mounts.push_back(i);
  }
  job.skip_open = true;
  job.done = [this](absl::StatusOr<CommitReport> r) {
    std::string error = r.ok() ? "" : std::string(r.status().message());
    if (!error.empty() && error != last_background_error_) {
      fprintf(stderr, "vol: background commit failed (will retry): %s\n", error.c_str());
    }
    last_background_error_ = error;
  };
  Enqueue(std::move(job));
}

void SessionCommits::Enqueue(Job job) {
  jobs_.push_back(std::move(job));
  StartNext();
}

std::vector<SessionCommits::Snapshot> SessionCommits::TakeSnapshots(const std::vector<size_t>& mounts) const {
  std::vector<Snapshot> snaps;
  for (size_t m : mounts) {
    if (mounts_[m].read_only || (changed_[m].empty() && renames_[m].empty())) continue;
    Snapshot s{m, mounts_[m], {}, renames_[m]};
    for (const auto& [p, g] : changed_[m]) s.changed.emplace_back(p, g);
    snaps.push_back(std::move(s));
  }
  return snaps;
}

void SessionCommits::StartNext() {
  while (!running_ && !jobs_.empty()) {
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    std::vector<Snapshot> snaps = TakeSnapshots(job.mounts);
    if (snaps.empty() && !job.reload) {
      job.done(CommitReport{});
      continue;
    }
    running_ = true;
    std::vector<std::pair<size_t, ObjectId>> bases;
    for (size_t m : job.mounts) bases.emplace_back(m, mounts_[m].base_root);
    auto shared_job = std::make_shared<Job>(std::move(job));
    absl::MutexLock lock(&mu_);
    work_ = [this, snaps = std::move(snaps), shared_job, bases]() mutable {
      auto outcomes = std::make_shared<std::vector<Outcome>>();
      auto result = std::make_shared<absl::StatusOr<CommitReport>>(
          Run(snaps, shared_job->skip_open, outcomes.get()));
      // Reload: what each mount's view must become. The trees it needs are read
      // here, off the loop (through the tree cache), so editing the view finds them.
      struct Plan {
        size_t mount;
        ObjectId base;
        ObjectId head;
        uint64_t head_seq;
      };
      auto plans = std::make_shared<std::vector<Plan>>();
      if (shared_job->reload && result->ok()) {
        for (auto& [m, base] : bases) {
          for (const Outcome& o : *outcomes) {
            if (o.mount == m) base = o.report.base;  // the view mirrors the new base now
          }
          absl::StatusOr<CommitInfo> head = ReadHead(store_, mounts_[m].volume.id);
          absl::StatusOr<std::vector<ReloadEdit>> edits =
              head.ok() ? PlanReload(store_, base, head->root) : absl::StatusOr<std::vector<ReloadEdit>>(head.status());
          if (!edits.ok()) {
            *result = edits.status();
            break;
          }
          plans->push_back({m, base, head->root, head->seq});
        }
      }
      engine_.Post([this, snaps = std::move(snaps), outcomes, result, shared_job, plans] {
        Published(snaps, *outcomes);
        for (const auto& plan : *plans) {
          if (!result->ok()) break;
          const auto& changed = changed_[plan.mount];
          auto keep = [&changed](const std::string& p) {
            for (const auto& [c, g] : changed) {
              if (AtOrBelow(p, c) || AtOrBelow(c, p)) return true;
            }
            return false;
          };
          UniqueFd root(open(mounts_[plan.mount].view.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
          absl::Status s = root.ok() ? populator_.Reload(plan.mount, root.get(), plan.base, plan.head, keep)
                                     : ErrnoError(absl::StrCat("cannot open view ", mounts_[plan.mount].view), errno);
          if (!s.ok()) {
            *result = s;
            break;
          }
          mounts_[plan.mount].base_root = plan.head;
          mounts_[plan.mount].base_seq = plan.head_seq;
        }
        if (!plans->empty()) journal_.WriteRecover(RecoverMounts()).IgnoreError();
        running_ = false;
        Settled();
        shared_job->done(*result);
        StartNext();
      });
    };
  }
}

absl::StatusOr<CommitReport> SessionCommits::Run(const std::vector<Snapshot>& snaps, bool skip_open,
                                                 std::vector<Outcome>* outcomes) {
  // vol gc's protocol: a lock from before the first upload until the commit
  // lands, pinning the commits whose entries the views still hold.
  std::vector<WriteLock::Pin> pins;
  for (const Snapshot& s : snaps) pins.push_back({s.at.volume.id, s.at.base_seq});
  for (const auto& [id, seq] : committed_seqs_) pins.push_back({id, seq});
  if (lock_ == nullptr) {
    absl::StatusOr<std::unique_ptr<WriteLock>> lock = WriteLock::Acquire(store_, "vol run", pins);
    if (!lock.ok()) return lock.status();
    lock_ = *std::move(lock);
  } else if (absl::Status s = lock_->SetPins(pins); !s.ok()) {
    return s;
  }
  const uint64_t epoch = writers_.Epoch();
  CommitReport total;
  for (const Snapshot& s : snaps) {
    CommitRequest request;
    for (const auto& [p, g] : s.changed) request.changed.push_back(p);
    for (const JournalRename& r : s.renames) request.renames.push_back(r.rename);
    request.skip_open = skip_open;
    request.writers = &writers_;
    request.writers_mount = s.mount;
    request.lock = lock_.get();
    absl::StatusOr<CommitReport> r;
    try {
      r = CommitChanges(store_, s.at, index_, request);
    } catch (const std::exception& e) {  // no exception leaves the commit thread: the session is kept
      r = absl::InternalError(absl::StrCat("internal error: ", e.what()));
    }
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat("commit of ", ShowBytes(s.at.mount), " (volume '",
                                                          s.at.volume.name, "') failed: ", r.status().message()));
    }
    total.committed = total.committed || r->committed;
    total.files += r->files;
    total.bytes_uploaded += r->bytes_uploaded;
    total.trees_written += r->trees_written;
    total.seq = r->seq;
    for (const std::string& p : r->skipped) total.skipped.push_back(p);
    if (r->committed) committed_seqs_[s.at.volume.id] = r->seq;
    outcomes->push_back({s.mount, *std::move(r)});
  }
  writers_.ForgetOpensUpTo(epoch);  // every commit from here on starts later
  return total;
}

void SessionCommits::Published(const std::vector<Snapshot>& snaps, const std::vector<Outcome>& outcomes) {
  for (const Outcome& o : outcomes) {
    const Snapshot* s = nullptr;
    for (const Snapshot& c : snaps) {
      if (c.mount == o.mount) s = &c;
    }
    if (s == nullptr) continue;
    size_t m = o.mount;
    mounts_[m].base_root = o.report.base;
    if (!s->renames.empty()) {
      uint64_t last = s->renames.back().seq;
      auto& pending = renames_[m];
      pending.erase(std::remove_if(pending.begin(), pending.end(), [last](const JournalRename& r) { return r.seq <= last; }),
                    pending.end());
      renames_in_base_[m] = last;
    }
    // Clear what was published, unless it changed again meanwhile.
    absl::flat_hash_map<std::string, uint64_t> gen_at_start(s->changed.begin(), s->changed.end());
    for (const std::string& p : o.report.done) {
      auto it = changed_[m].find(p);
      if (it != changed_[m].end() && it->second == gen_at_start[p]) changed_[m].erase(it);
    }
    for (const std::string& p : o.report.special) {
      if (reported_special_.insert(absl::StrCat(m, "\t", p)).second) {
        fprintf(stderr, "vol: not published (not a file, directory or symlink): %s/%s\n",
                ShowBytes(mounts_[m].mount).c_str(), ShowBytes(p).c_str());
      }
    }
  }
  if (!outcomes.empty()) journal_.WriteRecover(RecoverMounts()).IgnoreError();
}

void SessionCommits::Settled() {
  if (!HasChanges()) journal_.Settle(PendingRenames());
}

absl::StatusOr<CommitReport> SessionCommits::Final() {
  loop_alive_ = false;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  engine_.OnCompletions();  // applies the last background commit's result
  std::vector<size_t> all;
  for (size_t m = 0; m < mounts_.size(); ++m) all.push_back(m);
  std::vector<Snapshot> snaps = TakeSnapshots(all);
  if (snaps.empty()) return CommitReport{};
  std::vector<Outcome> outcomes;
  // Every process of the session has exited (its lifeline), but one that let
  // go of it may still be writing: a file open for writing is never published
  // half-written, it stays for `vol commit --session`.
  absl::StatusOr<CommitReport> r = Run(snaps, /*skip_open=*/true, &outcomes);
  Published(snaps, outcomes);
  if (r.ok() && r->skipped.empty()) {
    // Published: a session whose `vol run` died meanwhile has nothing to keep.
    for (auto& c : changed_) c.clear();
    Settled();
    return r;
  }
  if (r.ok()) {
    std::string cut, open;
    for (const std::string& p : r->skipped) {
      bool killed = std::any_of(snaps.begin(), snaps.end(),
                                [&](const Snapshot& s) { return writers_.InFlux(s.mount, p, /*only_cut_short=*/true); });
      std::string& list = killed ? cut : open;
      absl::StrAppend(&list, list.empty() ? "" : ", ", ShowBytes(p));
    }
    std::string why;
    if (!cut.empty()) absl::StrAppend(&why, "files whose writers were killed before closing them (", cut, ")");
    if (!open.empty()) {
      absl::StrAppend(&why, why.empty() ? "" : ", and ", "files still open for writing by a process that left the session (",
                      open, ")");
    }
    r = absl::FailedPreconditionError(absl::StrCat(why, " were not published; everything else was"));
  }
  // Keep everything needed to publish later: the views, recover.json, the journal.
  journal_.Repair(PendingRenames());
  if (session_dir_.empty()) return r.status();
  absl::Status saved = WriteFileAtomic(absl::StrCat(session_dir_, "/", kSessionKeepFile), "final commit failed\n");
  if (!saved.ok()) {
    return absl::Status(r.status().code(), absl::StrCat(r.status().message(), "; and the session could not be kept: ",
                                                        saved.message()));
  }
  return absl::Status(r.status().code(),
                      absl::StrCat(r.status().message(), ". Nothing is lost: the changes are kept in ", session_dir_,
                                   "; publish them with: vol commit --session ", session_dir_));
}

}  // namespace vol
