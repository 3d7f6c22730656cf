#include "fetcher/session/fetch_engine.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/keys.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/util/fs.h"

namespace vol {
namespace {

// Chunks of one bitmap block each when every chunk but the last has
// kChunkSize bytes (what `vol put` writes); otherwise the file is one block.
bool UniformChunks(const Entry& e) {
  for (size_t i = 0; i + 1 < e.chunks.size(); ++i) {
    if (e.chunks[i].size != kChunkSize) return false;
  }
  return !e.chunks.empty() && e.chunks.back().size <= kChunkSize;
}

struct timespec ToTimespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

// Per worker: the buffers a chunk passes through, reused so that fetching
// does not fault in fresh pages for every chunk.
thread_local ChunkBuffers t_buffers;

}  // namespace

FetchEngine::FetchEngine(ObjectStore& store, ContentCache& cache, PresenceTable& presence, int workers,
                         ReadAheadParams read_ahead)
    : store_(store), cache_(cache), presence_(presence), ra_params_(read_ahead) {
  event_fd_ = eventfd(0, EFD_CLOEXEC);
  for (int i = 0; i < std::max(workers, 1); ++i) threads_.emplace_back([this] { Work(); });
}

FetchEngine::~FetchEngine() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  if (event_fd_ >= 0) close(event_fd_);
}

absl::StatusOr<uint32_t> FetchEngine::AddContent(const Entry& entry, uint32_t mode, ContentCache::File content,
                                                 const EntryOrigin& origin) {
  absl::MutexLock lock(&files_mu_);
  std::pair<uint64_t, uint64_t> inode{content.dev, content.ino};
  if (auto it = by_inode_.find(inode); it != by_inode_.end()) {
    File& known = *files_.at(it->second);
    absl::MutexLock io(&known.io_mu);
    if (known.content.key == content.key) return it->second;
    // Otherwise the inode was freed and reused for other content: start over.
  }
  bool uniform = UniformChunks(entry);
  SlotInfo info;
  info.kind = VOL_SLOT_FILE;
  info.shared = true;
  info.size = entry.size;
  info.block_size = uniform ? kChunkSize : std::max<uint64_t>(entry.size, 1);
  info.mode = mode & 07777;
  info.origin_tree = origin.tree;
  info.origin_index = origin.index;
  size_t n = entry.chunks.size();
  bool complete = content.complete;
  if (!complete) {
    complete = std::all_of(content.present.begin(), content.present.end(), [](uint8_t b) { return b != 0; }) &&
               content.present.size() == n;
  }
  info.complete = complete;
  absl::StatusOr<uint32_t> slot = presence_.Insert(content.dev, content.ino, info);
  if (!slot.ok()) return slot.status();
  auto f = std::make_unique<File>(ra_params_);
  f->entry = entry;
  f->entry.name.clear();
  f->slot = *slot;
  f->uniform = uniform;
  uint64_t off = 0;
  for (const ChunkRef& c : entry.chunks) {
    f->offsets.push_back(off);
    off += c.size;
  }
  if (off != entry.size) {
    return absl::DataLossError(absl::StrCat("the tree gives a file ", entry.size,
                                            " bytes but its chunks hold ", off));
  }
  f->state.assign(n, ChunkState::kAbsent);
  if (complete) {
    f->state.assign(n, ChunkState::kPresent);
    f->present = n;
  } else {
    for (size_t c = 0; c < n; ++c) {
      if (content.present[c]) {
        f->state[c] = ChunkState::kPresent;
        ++f->present;
        if (uniform) presence_.SetPresent(*slot, c);
      }
    }
  }
  {
    absl::MutexLock io(&f->io_mu);
    f->content = std::move(content);
    if (complete && !f->content.complete) {
      // Every chunk was fetched by other sessions: publish it.
      cache_.Complete(std::move(f->content), f->entry.mtime_ns);
      f->content.complete = true;
    }
    // A view may link many thousands of files nobody reads: a file's
    // descriptor is opened when its first chunk arrives.
    f->content.fd.reset();
  }
  by_inode_[inode] = *slot;
  files_[*slot] = std::move(f);
  return *slot;
}

FetchEngine::File* FetchEngine::FileOf(uint32_t slot) const {
  absl::MutexLock lock(&files_mu_);
  auto it = files_.find(slot);
  return it == files_.end() ? nullptr : it->second.get();
}

std::optional<Entry> FetchEngine::EntryOf(uint64_t dev, uint64_t ino) const {
  absl::MutexLock lock(&files_mu_);
  auto it = by_inode_.find({dev, ino});
  if (it == by_inode_.end()) return std::nullopt;
  return files_.at(it->second)->entry;
}

std::optional<Entry> FetchEngine::EntryOfSlot(uint32_t slot) const {
  File* f = FileOf(slot);
  if (f == nullptr) return std::nullopt;
  return f->entry;
}

void FetchEngine::Fetch(uint32_t slot, uint64_t offset, uint64_t length, bool all, Done done) {
  ++requests_;
  File* fp = FileOf(slot);
  if (fp == nullptr) {
    done(absl::InvalidArgumentError(absl::StrCat("no content file has number ", slot)));
    return;
  }
  File& f = *fp;
  uint64_t n = f.state.size();
  if (f.present == n || n == 0) {
    done(absl::OkStatus());
    return;
  }
  bool uniform = f.uniform;
  uint64_t first = 0, last = n - 1;
  if (!all && uniform) {
    if (length == 0 || offset >= f.entry.size) {
      done(absl::OkStatus());
      return;
    }
    uint64_t end = std::min(f.entry.size, offset + length);
    first = offset / kChunkSize;
    last = (end - 1) / kChunkSize;
  }
  auto req = std::make_shared<Request>();
  req->done = std::move(done);
  for (uint64_t c = first; c <= last; ++c) {
    if (f.state[c] == ChunkState::kPresent) continue;
    ++req->waiting;
    f.waiters[c].push_back(req);
    Schedule(f, c, /*demand=*/true);
  }
  if (!all && uniform) {
    ReadAhead::Range ra = f.read_ahead.OnRequest(first, last, n);
    for (uint64_t c = ra.first; c < ra.first + ra.count; ++c) {
      if (ra_inflight_ >= ra_params_.max_inflight) break;
      Schedule(f, c, /*demand=*/false);
    }
  }
  if (req->waiting == 0) Finish(req);
}

void FetchEngine::Schedule(File& f, uint64_t chunk, bool demand) {
  ChunkState& s = f.state[chunk];
  if (s == ChunkState::kPresent || s == ChunkState::kDemand) return;
  if (s == ChunkState::kReadAhead) {
    if (!demand) return;
    // Promote: move it to the demand queue unless a worker already has it.
    s = ChunkState::kDemand;
    --ra_inflight_;
    absl::MutexLock lock(&mu_);
    for (auto it = ahead_.begin(); it != ahead_.end(); ++it) {
      if (it->file == &f && it->chunk == chunk) {
        ahead_.erase(it);
        demand_.push_back({&f, chunk});
        break;
      }
    }
    return;
  }
  s = demand ? ChunkState::kDemand : ChunkState::kReadAhead;
  if (!demand) ++ra_inflight_;
  absl::MutexLock lock(&mu_);
  (demand ? demand_ : ahead_).push_back({&f, chunk});
}

void FetchEngine::Work() {
  for (;;) {
    Task t;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](FetchEngine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
            return e->stopping_ || !e->demand_.empty() || !e->ahead_.empty();
          },
          this));
      if (stopping_) return;
      std::deque<Task>& q = demand_.empty() ? ahead_ : demand_;
      t = q.front();
      q.pop_front();
    }
    absl::Status s;
    try {
      s = FetchOne(*t.file, t.chunk);
    } catch (const std::exception& e) {  // never let one chunk take the fetcher down
      s = absl::InternalError(absl::StrCat("fetching a chunk: ", e.what()));
    }
    if (!s.ok()) errors_.fetch_add(1, std::memory_order_relaxed);
    {
      absl::MutexLock lock(&mu_);
      completions_.push_back({t.file, t.chunk, std::move(s)});
    }
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }
}

absl::Status FetchEngine::FetchOne(File& f, uint64_t chunk) {
  const ChunkRef& ref = f.entry.chunks[chunk];
  size_t n = f.entry.chunks.size();
  {
    // Another session may have fetched it into this very file meanwhile.
    absl::MutexLock io(&f.io_mu);
    if (f.content.complete) return absl::OkStatus();  // published: every chunk is in it
    if (n > 1) {
      cache_.Refresh(f.content, n);
      if (f.content.present[chunk]) {
        cache_chunks_.fetch_add(1, std::memory_order_relaxed);
        cache_bytes_.fetch_add(ref.size, std::memory_order_relaxed);
        if (f.uniform) presence_.SetPresent(f.slot, chunk);
        return absl::OkStatus();
      }
    }
  }
  uint64_t stored = 0;
  absl::StatusOr<absl::string_view> raw = FetchChunkView(store_, ref, t_buffers, &stored);
  if (!raw.ok()) return raw.status();
  store_bytes_.fetch_add(stored, std::memory_order_relaxed);
  store_chunks_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock io(&f.io_mu);
  if (f.content.complete) return absl::OkStatus();  // published meanwhile
  if (absl::StatusOr<bool> open = OpenContent(f); !open.ok() || !*open) return open.status();
  int fd = f.content.fd.get();
  absl::Status written = PwriteFull(fd, raw->data(), raw->size(), f.offsets[chunk]);
  if (written.ok()) {
    // Writing moved the mtime; the content file keeps the snapshot's.
    struct timespec times[2] = {{0, UTIME_OMIT}, ToTimespec(f.entry.mtime_ns)};
    futimens(fd, times);
  }
  // Not kept open between chunks: a write fd held while this session leaves
  // the file half read would make another session's exec of it fail with
  // ETXTBSY (the shim waits out one chunk's write, not more). Reopening
  // costs microseconds against a chunk's megabytes.
  f.content.fd.reset();
  if (!written.ok()) {
    return absl::Status(written.code(),
                        absl::StrCat("cannot write into the cache (", cache_.dir(), "): ", written.message()));
  }
  f.content.present[chunk] = 1;
  cache_.MarkPresent(f.content, chunk, n);
  cache_.Added(raw->size());
  view_bytes_.fetch_add(raw->size(), std::memory_order_relaxed);
  if (f.uniform) presence_.SetPresent(f.slot, chunk);
  return absl::OkStatus();
}

absl::StatusOr<bool> FetchEngine::OpenContent(File& f) {
  if (f.content.fd.ok()) return true;
  absl::StatusOr<bool> open = cache_.Reopen(f.content);
  if (!open.ok()) return open.status();
  if (!*open) {
    f.content.complete = true;  // another session published it: whole
    return false;
  }
  return true;
}

void FetchEngine::CompleteFile(File& f) {
  // A whole-file block (irregular chunks) becomes present only now.
  if (!f.uniform) presence_.SetPresent(f.slot, 0);
  presence_.SetComplete(f.slot);
  absl::MutexLock io(&f.io_mu);
  if (f.content.complete) return;
  cache_.Complete(std::move(f.content), f.entry.mtime_ns);
  f.content.complete = true;
}

void FetchEngine::OnCompletions() {
  std::vector<Completion> done;
  std::vector<std::function<void()>> posted;
  {
    absl::MutexLock lock(&mu_);
    done.swap(completions_);
    posted.swap(posted_);
  }
  for (auto& fn : posted) fn();
  for (Completion& c : done) {
    File& f = *c.file;
    ChunkState& s = f.state[c.chunk];
    if (s == ChunkState::kReadAhead) --ra_inflight_;
    if (c.status.ok()) {
      s = ChunkState::kPresent;
      if (++f.present == f.state.size()) CompleteFile(f);
    } else {
      s = ChunkState::kAbsent;
    }
    auto it = f.waiters.find(c.chunk);
    if (it == f.waiters.end()) continue;
    std::vector<std::shared_ptr<Request>> reqs = std::move(it->second);
    f.waiters.erase(it);
    for (std::shared_ptr<Request>& r : reqs) {
      if (!c.status.ok() && r->status.ok()) r->status = c.status;
      if (--r->waiting == 0) Finish(r);
    }
  }
}

void FetchEngine::Post(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

void FetchEngine::Finish(std::shared_ptr<Request>& r) {
  Done done = std::move(r->done);
  if (done) done(r->status);
}

FetchStats FetchEngine::stats() const {
  FetchStats s;
  s.store_bytes = store_bytes_.load();
  s.store_chunks = store_chunks_.load();
  s.cache_chunks = cache_chunks_.load();
  s.cache_bytes = cache_bytes_.load();
  s.view_bytes = view_bytes_.load();
  s.cache_created = cache_.created();
  s.requests = requests_;
  s.errors = errors_.load();
  return s;
}

}  // namespace vol
