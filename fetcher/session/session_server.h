// SessionServer: the fetcher's event loop. One io_uring drives everything the
// loop waits on: accepting shim connections on the session socket, receiving
// their requests (with an fd passed along, SCM_RIGHTS, for POPULATE and
// PRIVATE), sending their responses, the FetchEngine's eventfd (chunks
// finished by workers, work posted to the loop) and the session's lifeline
// (EOF once every process of the session has exited).
//
// Invariants:
//   - Each connection has at most one operation in the ring at a time: a
//     recv, or a send; between the two it waits for the engine. A shim sends
//     one request and waits for its response, so that is all it needs.
//     A connection is freed only when its own operation completes (EOF, error),
//     so no completion ever names a freed connection.
//   - Every request gets exactly one response, unless its peer is gone.
//   - Only the loop thread touches connections and the engine's state.
//   - Where io_uring is refused (a container's seccomp profile, an old
//     kernel; or VOL_NO_IO_URING=1), the same loop runs on poll(2): each
//     operation waits until its fd is ready and is then done with the plain
//     system call. Behaviour is the same; only the mechanism differs.
#ifndef VOL_FETCHER_SESSION_SESSION_SERVER_H_
#define VOL_FETCHER_SESSION_SESSION_SERVER_H_

#include <functional>

#include "absl/status/status.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/util/fs.h"
#include "vol/session.h"

namespace vol {

// Answers the requests that are not FETCH or FETCH_ALL (POPULATE, PRIVATE,
// CHANGED, COMMIT, RELOAD): calls `reply` once, on the loop thread, possibly
// later. `passed` is the fd that came with the request, if any.
using OtherRequestHandler = std::function<void(const vol_request& req, UniqueFd passed,
                                               std::function<void(const vol_response&)> reply)>;

// Serves until `stop_fd` reports EOF (or is readable). `listen_fd` is a
// listening SOCK_SEQPACKET socket. With tick_seconds > 0, `tick` runs on the
// loop thread that often (an io_uring timeout).
absl::Status ServeSession(int listen_fd, int stop_fd, FetchEngine& engine,
                          const OtherRequestHandler& other, int tick_seconds = 0,
                          const std::function<void()>& tick = nullptr);

// The response for a status: 0, or an errno (EIO for store and data errors,
// ENOSPC, EINVAL) with the status message.
vol_response ResponseFor(const absl::Status& status);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_SERVER_H_
