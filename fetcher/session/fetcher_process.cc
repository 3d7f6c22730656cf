#include "fetcher/session/fetcher_process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fetcher/format/chunk.h"
#include "fetcher/session/presence_table.h"
#include "fetcher/session/session_commits.h"
#include "fetcher/session/session_files.h"
#include "fetcher/session/session_server.h"
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
    {"view_bytes", &FetchStats::view_bytes},   {"requests", &FetchStats::requests},
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

int RunFetcher(const FetcherConfig& config, int ready_fd, int stop_fd) {
  // Ctrl-C reaches the whole foreground process group; the program decides
  // what it means, and the fetcher must outlive it to serve its last reads.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenStore(config.store_url);
  if (!store.ok()) {
    Tell(ready_fd, std::string(store.status().message()));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<PresenceTable>> presence = PresenceTable::Create(
      absl::StrCat(config.session, "/", VOL_SESSION_PRESENCE), config.max_files, config.max_words);
  if (!presence.ok()) {
    Tell(ready_fd, std::string(presence.status().message()));
    return 1;
  }
  std::unique_ptr<ChunkCache> cache;
  if (!config.cache_dir.empty()) cache = std::make_unique<ChunkCache>(config.cache_dir, config.cache_limit);
  auto engine = std::make_unique<FetchEngine>(**store, cache.get(), **presence,
                                              ThreadPool::DefaultWorkers(),
                                              ReadAheadParamsFromEnv(kChunkSize));
  for (const ViewFile& f : config.files) {
    if (absl::Status s = engine->AddFile(f); !s.ok()) {
      Tell(ready_fd, std::string(s.message()));
      return 1;
    }
  }
  absl::StatusOr<UniqueFd> listener = Listen(absl::StrCat(config.session, "/", VOL_SESSION_SOCK));
  if (!listener.ok()) {
    Tell(ready_fd, std::string(listener.status().message()));
    return 1;
  }
  WriteFileAtomic(absl::StrCat(config.session, "/", VOL_SESSION_FETCHER_PID), absl::StrCat(getpid(), "\n")).IgnoreError();
  Tell(ready_fd, "ok");
  close(ready_fd);

  auto commits = std::make_unique<SessionCommits>(**store, *engine, config.mounts, config.session);
  OtherRequestHandler other = [&commits](const vol_request& req,
                                         std::function<void(const vol_response&)> reply) {
    commits->Handle(req, std::move(reply));
  };
  std::function<void()> tick = [&commits] { commits->Tick(); };
  absl::Status served = ServeSession(listener->get(), stop_fd, *engine, other, config.commit_every, tick);
  int rc = 0;
  if (config.commit_at_exit) {
    absl::StatusOr<CommitReport> final = commits->Final();
    if (final.ok()) {
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
  FetchStats stats = engine->stats();
  engine.reset();  // joins the workers
  if (cache) cache->Settle();
  WriteFileAtomic(absl::StrCat(config.session, "/", kSessionStatsFile), FormatStats(stats)).IgnoreError();
  if (!served.ok()) {
    fprintf(stderr, "vol: fetcher: %s\n", std::string(served.message()).c_str());
    return 1;
  }
  return rc;
}

}  // namespace vol
