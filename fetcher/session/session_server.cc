#include "fetcher/session/session_server.h"

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fetcher/util/fs.h"

namespace vol {

vol_response ResponseFor(const absl::Status& status) {
  vol_response r;
  memset(&r, 0, sizeof r);
  if (status.ok()) return r;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: r.err = EINVAL; break;
    case absl::StatusCode::kResourceExhausted: r.err = ENOSPC; break;
    case absl::StatusCode::kUnimplemented: r.err = ENOTSUP; break;
    case absl::StatusCode::kPermissionDenied: r.err = EACCES; break;
    case absl::StatusCode::kFailedPrecondition: r.err = EROFS; break;
    default: r.err = EIO;
  }
  std::string msg = absl::StrCat("vol: ", status.message());
  snprintf(r.message, sizeof r.message, "%s", msg.c_str());
  return r;
}

namespace {

enum class OpKind : uint8_t { kAccept, kRecv, kSend, kEvent, kStop };

struct Conn {
  uint64_t id = 0;
  int fd = -1;
  vol_request req;
  vol_response resp;
  // recvmsg: the request, and room for one fd passed with it.
  struct iovec iov;
  struct msghdr msg;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  int passed = -1;  // the fd that came with the last request
  ~Conn() {
    if (passed >= 0) close(passed);
  }
};

// The fd a request carried (SCM_RIGHTS), or -1; closes any extra ones.
int TakePassedFd(struct msghdr& msg) {
  int fd = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (size_t i = 0; i < n; ++i) {
      if (fd < 0) {
        fd = fds[i];
      } else {
        close(fds[i]);
      }
    }
  }
  return fd;
}

// The loop's state; user_data of every sqe is a tagged pointer: for
// connections the Conn*, for the fixed operations a small integer.
class Loop {
 public:
  Loop(int listen_fd, int stop_fd, FetchEngine& engine, const OtherRequestHandler& other,
       int tick_seconds, const std::function<void()>& tick)
      : listen_fd_(listen_fd), stop_fd_(stop_fd), engine_(engine), other_(other),
        tick_seconds_(tick_seconds), tick_(tick) {}
  ~Loop() {
    for (auto& [id, c] : conns_) close(c->fd);
    if (ring_ok_) io_uring_queue_exit(&ring_);
  }

  absl::Status Run() {
    int rc = getenv("VOL_NO_IO_URING") ? -ENOSYS : io_uring_queue_init(256, &ring_, 0);
    if (rc < 0) return RunWithPoll();  // io_uring refused (seccomp in containers, old kernels)
    ring_ok_ = true;
    ArmAccept();
    ArmEvent();
    ArmStop();
    if (tick_seconds_ > 0 && tick_) ArmTick();
    while (!stop_) {
      io_uring_submit_and_wait(&ring_, 1);
      struct io_uring_cqe* cqe;
      unsigned head, seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        Handle(cqe->user_data, cqe->res);
      }
      io_uring_cq_advance(&ring_, seen);
    }
    return absl::OkStatus();
  }

 private:
  static constexpr uint64_t kTagAccept = 1, kTagEvent = 2, kTagStop = 3, kTagTick = 4;
  // Connection ops: (conn id << 2) | kind bit, kind 0 = recv, 1 = send.
  static uint64_t ConnTag(uint64_t id, bool send) { return (id << 2) | (send ? 1 : 0) | 0x100000000000000ULL; }

  // The fallback when io_uring is not allowed: the same operations, each
  // waiting in `pending_` until poll() says its fd is ready, then done with
  // the plain system call and handed to Handle as if it were a completion.
  enum class PollOp : uint8_t { kAccept, kRead, kRecv, kSend };
  struct Pending {
    uint64_t tag;
    int fd;
    PollOp op;
    void* buf;
    size_t len;
  };

  absl::Status RunWithPoll() {
    use_poll_ = true;
    ArmAccept();
    ArmEvent();
    ArmStop();
    absl::Time next_tick = absl::InfiniteFuture();
    if (tick_seconds_ > 0 && tick_) next_tick = absl::Now() + absl::Seconds(tick_seconds_);
    std::vector<struct pollfd> fds;
    while (!stop_) {
      fds.clear();
      for (const Pending& p : pending_) {
        fds.push_back({p.fd, static_cast<short>(p.op == PollOp::kSend ? POLLOUT : POLLIN), 0});
      }
      int timeout = -1;
      if (next_tick != absl::InfiniteFuture()) {
        timeout = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(next_tick - absl::Now())));
      }
      int n = poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno != EINTR) return ErrnoError("poll", errno);
      if (next_tick != absl::InfiniteFuture() && absl::Now() >= next_tick) {
        tick_();
        next_tick = absl::Now() + absl::Seconds(tick_seconds_);
      }
      if (n <= 0) continue;
      std::vector<Pending> ready;
      std::vector<Pending> waiting;
      for (size_t i = 0; i < pending_.size(); ++i) {
        (fds[i].revents != 0 ? ready : waiting).push_back(pending_[i]);
      }
      pending_ = std::move(waiting);
      for (const Pending& p : ready) {
        long res = -1;
        switch (p.op) {
          case PollOp::kAccept: res = accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC); break;
          case PollOp::kRead: res = read(p.fd, p.buf, p.len); break;
          case PollOp::kRecv:
            res = recvmsg(p.fd, static_cast<struct msghdr*>(p.buf), MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            break;
          case PollOp::kSend: res = send(p.fd, p.buf, p.len, MSG_DONTWAIT | MSG_NOSIGNAL); break;
        }
        if (res < 0 && (errno == EAGAIN || errno == EINTR)) {
          pending_.push_back(p);
          continue;
        }
        Handle(p.tag, res < 0 ? -errno : static_cast<int>(res));
      }
    }
    return absl::OkStatus();
  }

  struct io_uring_sqe* Sqe() {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void ArmAccept() {
    if (use_poll_) return pending_.push_back({kTagAccept, listen_fd_, PollOp::kAccept, nullptr, 0});
    struct io_uring_sqe* sqe = Sqe();
    io_uring_prep_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, kTagAccept);
  }
  void ArmEvent() {
    if (use_poll_) {
      return pending_.push_back({kTagEvent, engine_.event_fd(), PollOp::kRead, &event_buf_, sizeof event_buf_});
    }
    struct io_uring_sqe* sqe = Sqe();
    io_uring_prep_read(sqe, engine_.event_fd(), &event_buf_, sizeof event_buf_, 0);
    io_uring_sqe_set_data64(sqe, kTagEvent);
  }
  void ArmStop() {
    if (use_poll_) return pending_.push_back({kTagStop, stop_fd_, PollOp::kRead, stop_buf_, sizeof stop_buf_});
    struct io_uring_sqe* sqe = Sqe();
    io_uring_prep_read(sqe, stop_fd_, stop_buf_, sizeof stop_buf_, 0);
    io_uring_sqe_set_data64(sqe, kTagStop);
  }
  void ArmTick() {
    if (use_poll_) return;  // RunWithPoll keeps its own deadline
    tick_ts_.tv_sec = tick_seconds_;
    tick_ts_.tv_nsec = 0;
    struct io_uring_sqe* sqe = Sqe();
    io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
    io_uring_sqe_set_data64(sqe, kTagTick);
  }
  void ArmRecv(Conn& c) {
    memset(&c.req, 0, sizeof c.req);
    if (c.passed >= 0) {
      close(c.passed);
      c.passed = -1;
    }
    c.iov = {&c.req, sizeof c.req};
    memset(&c.msg, 0, sizeof c.msg);
    c.msg.msg_iov = &c.iov;
    c.msg.msg_iovlen = 1;
    c.msg.msg_control = c.control;
    c.msg.msg_controllen = sizeof c.control;
    if (use_poll_) return pending_.push_back({ConnTag(c.id, false), c.fd, PollOp::kRecv, &c.msg, 0});
    struct io_uring_sqe* sqe = Sqe();
    io_uring_prep_recvmsg(sqe, c.fd, &c.msg, MSG_CMSG_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ConnTag(c.id, false));
  }
  void ArmSend(Conn& c) {
    size_t len = offsetof(vol_response, message) + strnlen(c.resp.message, sizeof c.resp.message - 1) + 1;
    if (use_poll_) return pending_.push_back({ConnTag(c.id, true), c.fd, PollOp::kSend, &c.resp, len});
    struct io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, c.fd, &c.resp, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ConnTag(c.id, true));
  }

  void Drop(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    close(it->second->fd);
    conns_.erase(it);
  }

  void Handle(uint64_t tag, int res) {
    if (tag == kTagAccept) {
      if (res >= 0) {
        auto c = std::make_unique<Conn>();
        c->id = next_id_++;
        c->fd = res;
        Conn& ref = *c;
        conns_[c->id] = std::move(c);
        ArmRecv(ref);
      }
      ArmAccept();
      return;
    }
    if (tag == kTagEvent) {
      engine_.OnCompletions();  // res < 0 (EINTR): nothing lost, the count stays
      ArmEvent();
      return;
    }
    if (tag == kTagTick) {
      tick_();
      ArmTick();
      return;
    }
    if (tag == kTagStop) {
      // EOF: the last process holding the lifeline is gone. Bytes someone
      // wrote into it mean nothing.
      if (res > 0 || res == -EINTR || res == -EAGAIN) {
        ArmStop();
      } else {
        stop_ = true;
      }
      return;
    }
    bool send = tag & 1;
    uint64_t id = (tag & ~0x100000000000000ULL) >> 2;
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (send) {
      if (res < 0) {
        Drop(id);
      } else {
        ArmRecv(c);
      }
      return;
    }
    if (res > 0) c.passed = TakePassedFd(c.msg);
    if (res <= 0 || static_cast<size_t>(res) < offsetof(vol_request, path)) {
      Drop(id);  // EOF, error, or a malformed datagram
      return;
    }
    c.req.path[sizeof c.req.path - 1] = '\0';
    Dispatch(c);
  }

  void Reply(uint64_t id, const vol_response& resp) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    it->second->resp = resp;
    ArmSend(*it->second);
  }

  void Dispatch(Conn& c) {
    uint64_t id = c.id;
    switch (c.req.op) {
      case VOL_OP_PING:
        Reply(id, ResponseFor(absl::OkStatus()));
        return;
      case VOL_OP_FETCH:
      case VOL_OP_FETCH_ALL:
        engine_.Fetch(c.req.index, c.req.offset, c.req.length, c.req.op == VOL_OP_FETCH_ALL,
                      [this, id](absl::Status s) { Reply(id, ResponseFor(s)); });
        return;
      default:
        if (other_) {
          UniqueFd passed(c.passed);
          c.passed = -1;
          other_(c.req, std::move(passed), [this, id](const vol_response& r) { Reply(id, r); });
        } else {
          Reply(id, ResponseFor(absl::UnimplementedError(
                        absl::StrCat("the fetcher does not know request ", c.req.op))));
        }
    }
  }

  int listen_fd_, stop_fd_;
  FetchEngine& engine_;
  const OtherRequestHandler& other_;
  int tick_seconds_;
  const std::function<void()>& tick_;
  struct __kernel_timespec tick_ts_ {};
  struct io_uring ring_;
  bool ring_ok_ = false;
  bool use_poll_ = false;
  std::vector<Pending> pending_;
  bool stop_ = false;
  uint64_t event_buf_ = 0;
  char stop_buf_[64];
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> conns_;
};

}  // namespace

absl::Status ServeSession(int listen_fd, int stop_fd, FetchEngine& engine,
                          const OtherRequestHandler& other, int tick_seconds,
                          const std::function<void()>& tick) {
  Loop loop(listen_fd, stop_fd, engine, other, tick_seconds, tick);
  return loop.Run();
}

}  // namespace vol
