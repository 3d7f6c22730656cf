#include "fetcher/session/session_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fetcher/util/fs.h"

namespace vol {

absl::StatusOr<vol_response> SessionCall(uint32_t op, const std::string& path) {
  const char* session = getenv(VOL_SESSION_ENV);
  if (session == nullptr || *session != '/') {
    return absl::FailedPreconditionError(
        "not inside a vol session ($VOL_SESSION is not set): run this under `vol run` or `vol shell`");
  }
  std::string sock = absl::StrCat(session, "/", VOL_SESSION_SOCK);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (sock.size() >= sizeof addr.sun_path) return absl::InvalidArgumentError("session path too long");
  memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.ok() || connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    return ErrnoError(absl::StrCat("cannot reach the fetcher of session ", session), errno);
  }
  vol_request req;
  memset(&req, 0, sizeof req);
  req.op = op;
  if (path.size() >= sizeof req.path) return absl::InvalidArgumentError("path too long");
  memcpy(req.path, path.c_str(), path.size() + 1);
  size_t len = offsetof(vol_request, path) + path.size() + 1;
  if (send(fd.get(), &req, len, MSG_NOSIGNAL) < 0) return ErrnoError("cannot talk to the fetcher", errno);
  vol_response resp;
  memset(&resp, 0, sizeof resp);
  ssize_t n;
  do n = recv(fd.get(), &resp, sizeof resp, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return absl::UnavailableError(absl::StrCat("the fetcher of session ", session, " is gone"));
  resp.message[sizeof resp.message - 1] = '\0';
  if (resp.err != 0) {
    std::string msg = resp.message;
    if (msg.rfind("vol: ", 0) == 0) msg = msg.substr(5);
    if (msg.empty()) msg = strerror(resp.err);
    return absl::Status(resp.err == ENOTSUP ? absl::StatusCode::kUnimplemented : absl::StatusCode::kUnavailable, msg);
  }
  return resp;
}

}  // namespace vol
