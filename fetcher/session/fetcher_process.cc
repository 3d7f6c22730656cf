#include "fetcher/session/fetcher_process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <fcntl.h>
#include <sys/stat.h>

#include "fetcher/format/chunk.h"
#include "fetcher/format/object_codec.h"
#include "fetcher/session/content_cache.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/private_copy.h"
#include "fetcher/session/session_commits.h"
#include "fetcher/session/session_dir.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/session_server.h"
#include "fetcher/session/view_index.h"
#include "fetcher/session/view_populator.h"
#include "fetcher/session/written_files.h"
#include "fetcher/store/local_cache_store.h"
#include "fetcher/util/fs.h"
#include "fetcher/util/thread_pool.h"
#include "vol/session.h"

namespace vol {
namespace {

absl::StatusOr<UniqueFd> Listen(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.ok()) return ErrnoError("cannot create the session socket", errno);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("session socket path is too long: ", path));
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    return ErrnoError(absl::StrCat("cannot bind ", path), errno);
  }
  if (listen(fd.get(), 512) != 0) return ErrnoError(absl::StrCat("cannot listen on ", path), errno);
  return fd;
}

void Tell(int fd, const std::string& line) {
  std::string l = line + "\n";
  WriteFull(fd, l.data(), l.size()).IgnoreError();
}

struct Named {
  const char* name;
  uint64_t FetchStats::*field;
};
constexpr Named kStatFields[] = {
    {"store_bytes", &FetchStats::store_bytes}, {"store_chunks", &FetchStats::store_chunks},
    {"cache_chunks", &FetchStats::cache_chunks}, {"cache_bytes", &FetchStats::cache_bytes},
    {"view_bytes", &FetchStats::view_bytes},   {"cache_created", &FetchStats::cache_created},
    {"requests", &FetchStats::requests},
    {"errors", &FetchStats::errors},
};

}  // namespace

std::string FormatStats(const FetchStats& s) {
  std::string out;
  for (const Named& n : kStatFields) absl::StrAppend(&out, n.name, " ", s.*(n.field), "\n");
  return out;
}

absl::StatusOr<FetchStats> ParseStats(const std::string& text) {
  FetchStats s;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    for (const Named& n : kStatFields) {
      if (kv.first == n.name && !absl::SimpleAtoi(kv.second, &(s.*(n.field)))) {
        return absl::DataLossError(absl::StrCat("bad stats line: ", line));
      }
    }
  }
  return s;
}

namespace {

// A stored tree is accepted from the local cache or the store only when it
// decodes and hashes to its name.
bool ValidTree(std::string_view key, std::string_view bytes) {
  absl::string_view k(key.data(), key.size());
  std::optional<ObjectId> id = ObjectId::FromHex(k.substr(k.rfind('/') + 1));
  return id && DecodeObjectWithId(ObjectKind::kTree, absl::string_view(bytes.data(), bytes.size()), *id, k).ok();
}

// The session's lifeline, read end: EOF once every process holding the
// write end (the program and everything it started) has exited.
absl::StatusOr<UniqueFd> OpenLifeline(const std::string& session) {
  std::string path = absl::StrCat(session, "/" VOL_SESSION_LIFELINE);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(absl::StrCat("cannot open the session lifeline ", path), errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not the session's lifeline"));
  }
  // Blocking from now on: a read waits for EOF instead of failing with EAGAIN.
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

int Serve(const FetcherConfig& config, int ready_fd) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> opened = OpenStore(config.store_url);
  if (!opened.ok()) {
    Tell(ready_fd, std::string(opened.status().message()));
    return 1;
  }
  LocalCacheStore store(**opened, absl::StrCat(config.cache_dir, "/trees-store"), {"trees/"}, ValidTree);
  absl::StatusOr<std::unique_ptr<PresenceTable>> presence = PresenceTable::Create(
      absl::StrCat(config.session, "/", VOL_SESSION_PRESENCE), config.max_slots, config.max_words);
  if (!presence.ok()) {
    Tell(ready_fd, std::string(presence.status().message()));
    return 1;
  }
  ContentCache cache(config.cache_dir, config.cache_limit);
  auto engine = std::make_unique<FetchEngine>(store, cache, **presence, ThreadPool::DefaultWorkers(),
                                              ReadAheadParamsFromEnv(kChunkSize));
  auto populator = std::make_unique<ViewPopulator>(store, *engine, **presence, 4);
  std::string listings = absl::StrCat(config.session, "/" VOL_SESSION_LISTINGS);
  if (mkdir(listings.c_str(), 0700) == 0 || errno == EEXIST) populator->SetListingDir(listings);
  std::vector<SessionMount> mounts;
  for (size_t i = 0; i < config.mounts.size(); ++i) {
    const FetcherMount& m = config.mounts[i];
    if (absl::Status s = populator->AddRoot(i, m.session.view, m.session.mount, m.session.base_root,
                                            m.root_mtime_ns, m.session.preserve_special_modes);
        !s.ok()) {
      Tell(ready_fd, absl::StrCat("volume '", m.session.volume.name, "': ", s.message()));
      return 1;
    }
    mounts.push_back(m.session);
  }
  absl::StatusOr<UniqueFd> lifeline = OpenLifeline(config.session);
  if (!lifeline.ok()) {
    Tell(ready_fd, std::string(lifeline.status().message()));
    return 1;
  }
  absl::StatusOr<UniqueFd> listener = Listen(absl::StrCat(config.session, "/", VOL_SESSION_SOCK));
  if (!listener.ok()) {
    Tell(ready_fd, std::string(listener.status().message()));
    return 1;
  }
  WriteFileAtomic(absl::StrCat(config.session, "/" VOL_SESSION_FETCHER_PID), absl::StrCat(getpid(), "\n"))
      .IgnoreError();
  Tell(ready_fd, "ok");
  close(ready_fd);

  std::unique_ptr<ViewIndex> index = NewSessionViewIndex(*engine, *populator);
  auto privates = std::make_unique<PrivateCopies>(*engine, **presence);
  auto commits = std::make_unique<SessionCommits>(store, *engine, *populator, *index, mounts, config.session);
  WrittenFiles written(mounts);
  OtherRequestHandler other = [&](const vol_request& req, UniqueFd passed,
                                  std::function<void(const vol_response&)> reply) {
    auto answer = [reply](absl::Status s) { reply(ResponseFor(s)); };
    switch (req.op) {
      case VOL_OP_POPULATE:
        if (!passed.ok()) return answer(absl::InvalidArgumentError("populate: no directory came with the request"));
        return populator->Populate(std::move(passed), answer);
      case VOL_OP_LIST:
        if (!passed.ok()) return answer(absl::InvalidArgumentError("list: no directory came with the request"));
        return populator->List(std::move(passed), [reply](absl::StatusOr<bool> listed) {
          vol_response r = ResponseFor(listed.status());
          if (listed.ok()) r.value[0] = *listed ? 1 : 0;
          reply(r);
        });
      case VOL_OP_PRIVATE:
        return privates->Make(std::move(passed), req.path, req.offset == 1, answer);
      default:
        written.Note(req);
        return commits->Handle(req, std::move(reply));
    }
  };
  std::function<void()> tick = [&commits] { commits->Tick(); };
  absl::Status served =
      ServeSession(listener->get(), lifeline->get(), *engine, other, config.commit_every, tick);
  int rc = 0;
  if (config.commit_at_exit) {
    absl::StatusOr<CommitReport> final = commits->Final();
    if (final.ok()) {
      // Everything is published and nothing kept: what the programs wrote
      // stays in the cache for the next session.
      written.AdoptAll(cache, *engine);
      WriteFileAtomic(absl::StrCat(config.session, "/", kSessionCommitFile),
                      absl::StrCat(final->files, " ", final->bytes_uploaded, " ", final->seq, "\n"))
          .IgnoreError();
    } else {
      WriteFileAtomic(absl::StrCat(config.session, "/", kSessionCommitErrorFile), std::string(final.status().message()))
          .IgnoreError();
      rc = kFinalCommitFailed;
    }
  }
  commits.reset();
  privates.reset();
  populator.reset();
  FetchStats stats = engine->stats();
  engine.reset();  // joins the workers
  WriteFileAtomic(absl::StrCat(config.session, "/stats"), FormatStats(stats)).IgnoreError();
  if (rc == 0 && served.ok() && config.owner_pid > 0 && !ProcessAlive(config.owner_pid)) {
    // `vol run` was killed: nobody else will clean up a session that has
    // nothing left to keep.
    RemoveSessionDir(config.session).IgnoreError();
    if (stats.view_bytes > 0 || stats.cache_created > 0) EvictContent(config.cache_dir, config.cache_limit, /*wait=*/true).IgnoreError();
  }
  if (!served.ok()) {
    fprintf(stderr, "vol: fetcher: %s\n", std::string(served.message()).c_str());
    return 1;
  }
  return rc;
}

}  // namespace

int RunFetcher(const FetcherConfig& config, int ready_fd) {
  // Ctrl-C reaches the whole foreground process group; the program decides
  // what it means, and the fetcher must outlive it to serve its last reads.
  // A `vol run` that dies (hangs up) must not take the session down either.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // Views get the modes the snapshot says, not the user's umask's.
  umask(0);
  try {
    return Serve(config, ready_fd);
  } catch (const std::exception& e) {
    fprintf(stderr, "vol: fetcher: internal error: %s\n", e.what());
  } catch (...) {
    fprintf(stderr, "vol: fetcher: internal error\n");
  }
  return 1;
}

}  // namespace vol
