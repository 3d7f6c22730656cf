// The shim's connection to the fetcher, and the C API (vol.h) built on it.
//
// Invariants: up to kConns SOCK_SEQPACKET connections per process, so that
// that many threads can wait on the fetcher at once; each is made lazily, kept
// at an fd >= kHighFd with FD_CLOEXEC, and carries one request/response at a
// time under its own mutex. A fork child drops the inherited connections and
// makes its own; a vfork child (or any process whose pid is not g.pid) uses a
// one-shot connection and never touches g_conns. If the fetcher is gone the call fails
// with EIO and says so once on stderr; nothing waits for a dead fetcher (its
// end of the socket is closed by the kernel, so recv sees EOF or ECONNRESET).
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <time.h>

#include "shim.h"
#include "vol/vol.h"

namespace vol::shim {

namespace {

struct Conn {
  pthread_mutex_t mu;
  int fd;  // -1: not connected
};
Conn g_conns[kConns] = {
    {PTHREAD_MUTEX_INITIALIZER, -1}, {PTHREAD_MUTEX_INITIALIZER, -1},
    {PTHREAD_MUTEX_INITIALIZER, -1}, {PTHREAD_MUTEX_INITIALIZER, -1},
    {PTHREAD_MUTEX_INITIALIZER, -1}, {PTHREAD_MUTEX_INITIALIZER, -1},
    {PTHREAD_MUTEX_INITIALIZER, -1}, {PTHREAD_MUTEX_INITIALIZER, -1},
};
static_assert(kConns == 8, "g_conns' initialiser lists kConns entries");

// A free connection, locked; or, when all are busy, one chosen by thread.
Conn* take_conn() {
  for (Conn& c : g_conns)
    if (pthread_mutex_trylock(&c.mu) == 0) return &c;
  Conn* c = &g_conns[(unsigned long)pthread_self() / 64 % kConns];
  pthread_mutex_lock(&c->mu);
  return c;
}
int g_complaints;

// A new connection (fd), or -errno.
long connect_fetcher() {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  long dir = -1;
  if (path_join(addr.sun_path, sizeof addr.sun_path, g.session, VOL_SESSION_SOCK) < 0) {
    // A session path longer than sun_path allows: go through the directory's fd.
    dir = sys(SYS_openat, AT_FDCWD, g.session, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return dir;
    char link[64] = "/proc/self/fd/";
    char num[12];
    int k = 0;
    for (long v = dir; k == 0 || v; v /= 10) num[k++] = (char)('0' + v % 10);
    for (int i = 0; i < k; i++) link[14 + i] = num[k - 1 - i];
    link[14 + k] = '\0';
    path_join(addr.sun_path, sizeof addr.sun_path, link, VOL_SESSION_SOCK);
  }
  long fd = sys(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (dir >= 0) sys(SYS_close, dir);
    return fd;
  }
  long rc;
  do rc = sys(SYS_connect, fd, &addr, sizeof addr);
  while (rc == -EINTR);
  if (dir >= 0) sys(SYS_close, dir);
  if (rc < 0) {
    sys(SYS_close, fd);
    return rc;
  }
  long high = sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, kHighFd);
  if (high >= 0) {
    sys(SYS_close, fd);
    fd = high;
  }
  return fd;
}

// False if the session's fetcher.pid names a process that no longer exists (or
// is a zombie). Without the file there is nothing to check: true.
bool fetcher_alive() {
  char text[32];
  long n = read_session_file(VOL_SESSION_FETCHER_PID, text, sizeof text);
  if (n <= 0) return true;
  long pid = 0;
  for (long i = 0; i < n && text[i] >= '0' && text[i] <= '9'; i++) pid = pid * 10 + (text[i] - '0');
  if (pid <= 0) return true;
  if (sys(SYS_kill, pid, 0) == -ESRCH) return false;
  // A zombie (dead, not yet reaped) holds no socket either: /proc/PID/stat says Z.
  char stat_path[64] = "/proc/";
  char num[24];
  int k = 0;
  for (long v = pid; k == 0 || v; v /= 10) num[k++] = (char)('0' + v % 10);
  for (int i = 0; i < k; i++) stat_path[6 + i] = num[k - 1 - i];
  memcpy(stat_path + 6 + k, "/stat", 6);
  char st[256];
  if (read_small_file(stat_path, st, sizeof st) <= 0) return true;
  const char* paren = strrchr(st, ')');
  return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

// One request (with `pass`, an fd to hand over, when >= 0) and its response
// on fd. Returns 0 or a transport errno.
int roundtrip(long fd, const vol_request* req, size_t len, vol_response* resp, int pass = -1) {
  long n;
  if (pass < 0) {
    do n = sys(SYS_sendto, fd, req, len, MSG_NOSIGNAL, 0, 0);
    while (n == -EINTR);
  } else {
    struct iovec iov = {const_cast<vol_request*>(req), len};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass, sizeof pass);
    do n = sys(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL);
    while (n == -EINTR);
  }
  if (n < 0) return (int)-n;
  for (;;) {
    struct pollfd pfd = {(int)fd, POLLIN, 0};
    struct timespec second = {1, 0};
    n = sys(SYS_ppoll, &pfd, 1, &second, 0, 0);
    if (n == 0) {  // a second without a reply: is the fetcher still there?
      if (!fetcher_alive()) return ESRCH;
      continue;
    }
    if (n < 0 && n != -EINTR) return (int)-n;
    do n = sys(SYS_recvfrom, fd, resp, sizeof *resp, MSG_DONTWAIT, 0, 0);
    while (n == -EINTR);
    if (n != -EAGAIN) break;
  }
  if (n < 0) return (int)-n;
  if (n == 0) return EPIPE;  // the fetcher closed its end
  if (n < (long)offsetof(vol_response, message)) return EPROTO;
  if ((size_t)n < sizeof *resp) resp->message[0] = '\0';
  resp->message[sizeof resp->message - 1] = '\0';
  return 0;
}

int gone(int err) {
  if (__atomic_fetch_add(&g_complaints, 1, __ATOMIC_RELAXED) < 3) {
    const char* why = err == ENOENT || err == ECONNREFUSED ? "nothing listens on its socket"
                      : err == EPIPE                       ? "it closed the connection"
                      : err == ESRCH                       ? "its process exited"
                                                           : strerrordesc_np(err);
    say("fetcher for session", g.session, "is gone:", why ? why : "unknown error");
  }
  return EIO;
}

}  // namespace

int ipc_call(vol_request* req, size_t path_len, vol_response* resp, int pass) {
  if (!g.active) return ENOTCONN;
  size_t len = offsetof(vol_request, path) + path_len + 1;
  resp->err = 0;
  resp->message[0] = '\0';
  int rc;
  if (!own_process()) {
    long fd = connect_fetcher();
    if (fd < 0) return gone((int)-fd);
    rc = roundtrip(fd, req, len, resp, pass);
    sys(SYS_close, fd);
  } else {
    Conn* c = take_conn();
    for (int attempt = 0;; attempt++) {
      if (c->fd < 0) {
        long fd = connect_fetcher();
        if (fd < 0) {
          rc = (int)-fd;
          break;
        }
        __atomic_store_n(&c->fd, (int)fd, __ATOMIC_RELAXED);
      }
      rc = roundtrip(c->fd, req, len, resp, pass);
      // EBADF/ENOTSOCK: the program closed our fd behind our back. Reconnect once.
      if ((rc == EBADF || rc == ENOTSOCK) && attempt == 0) {
        __atomic_store_n(&c->fd, -1, __ATOMIC_RELAXED);
        continue;
      }
      if (rc) {
        sys(SYS_close, c->fd);
        __atomic_store_n(&c->fd, -1, __ATOMIC_RELAXED);
      }
      break;
    }
    pthread_mutex_unlock(&c->mu);
  }
  if (rc) return gone(rc);
  if (resp->err && resp->message[0]) say(resp->message);
  return resp->err;
}

// Whether this process announced a writer (VOL_CHANGED_OPEN_WRITE): only such
// a process has an exit to report.
static bool g_announced_writer;

int notify_changed(const char* mount_path, uint32_t kind, const char* new_path) {
  vol_request req;
  size_t n = strlen(mount_path), m = new_path ? strlen(new_path) + 1 : 0;
  if (n + 1 + m > sizeof req.path) return ENAMETOOLONG;
  req.op = VOL_OP_CHANGED;
  req.index = (uint32_t)raw_getpid();  // who did it: a writer that is killed never closes
  req.offset = kind;
  req.length = 0;
  memcpy(req.path, mount_path, n + 1);
  if (new_path) memcpy(req.path + n + 1, new_path, m);
  vol_response resp;
  if (kind == VOL_CHANGED_OPEN_WRITE && own_process()) g_announced_writer = true;
  return ipc_call(&req, n + m, &resp);
}

void notify_exit() {
  if (!g.active || !own_process() || !g_announced_writer) return;
  vol_request req;
  req.op = VOL_OP_EXIT;
  req.index = (uint32_t)raw_getpid();
  req.offset = req.length = 0;
  req.path[0] = '\0';
  vol_response resp;
  int saved = errno;
  ipc_call(&req, 0, &resp);
  errno = saved;
}

bool is_shim_fd(int fd) {
  if (fd < kHighFd) return false;
  for (const Conn& c : g_conns)
    if (fd == __atomic_load_n(&c.fd, __ATOMIC_RELAXED)) return true;
  return false;
}

int shim_fds(int* out) {
  int n = 0;
  for (const Conn& c : g_conns) {
    int fd = __atomic_load_n(&c.fd, __ATOMIC_RELAXED);
    if (fd >= 0) out[n++] = fd;
  }
  return n;
}

void shim_fd_lost(int fd) {
  if (!is_shim_fd(fd) || !own_process()) return;
  for (Conn& c : g_conns)
    if (__atomic_load_n(&c.fd, __ATOMIC_RELAXED) == fd) __atomic_store_n(&c.fd, -1, __ATOMIC_RELAXED);
}

void ipc_atfork_prepare() {
  for (Conn& c : g_conns) pthread_mutex_lock(&c.mu);
}
void ipc_atfork_parent() {
  for (Conn& c : g_conns) pthread_mutex_unlock(&c.mu);
}
void ipc_atfork_child() {
  g_announced_writer = false;  // the parent's writers are its own
  // The inherited connections are the parent's: replies must not cross.
  for (Conn& c : g_conns) {
    if (c.fd >= 0) sys(SYS_close, c.fd);
    c.fd = -1;
    pthread_mutex_init(&c.mu, nullptr);
  }
}

namespace {
int api_call(uint32_t op, const char* mount) {
  if (!g.active) {
    errno = ENOTCONN;
    return -1;
  }
  vol_request req;
  size_t n = mount ? strlen(mount) : 0;
  if (n >= sizeof req.path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  req.op = op;
  req.index = 0;
  req.offset = req.length = 0;
  if (n) memcpy(req.path, mount, n);
  req.path[n] = '\0';
  vol_response resp;
  int err = ipc_call(&req, n, &resp);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}
}  // namespace

}  // namespace vol::shim

extern "C" VOL_API int vol_commit(const char* mount) {
  return vol::shim::api_call(VOL_OP_COMMIT, mount);
}
extern "C" VOL_API int vol_reload(const char* mount) {
  return vol::shim::api_call(VOL_OP_RELOAD, mount);
}
