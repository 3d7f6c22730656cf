// libcurl behind a handle pool. See http_client.h for the invariants.
#include "fetcher/store/http_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <unistd.h>

#include "absl/strings/ascii.h"

namespace vol {
namespace {

// Handles kept idle beyond this are closed: more would only hold sockets.
constexpr size_t kMaxIdleHandles = 64;

std::once_flag g_curl_init;

struct Transfer {
  const curl_socket_t* fd;
  HttpResponse* response;
  std::string_view upload;
  size_t uploaded = 0;
};

// When a response's status line arrives, ACK it at once. A server that
// writes a response's headers and its small body separately with Nagle on
// (Ceph RGW's beast frontend without tcp_nodelay=1) otherwise holds the body
// until our delayed ACK: 40 ms on every small GET or LIST. Setting
// TCP_QUICKACK sends a pending ACK immediately.
void AckNow(curl_socket_t fd) {
  if (fd == CURL_SOCKET_BAD) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response starts (after "100 Continue" or a redirect): forget the last.
    t->response->headers.clear();
    AckNow(*t->fd);
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = absl::AsciiStrToLower(std::string(line.substr(0, colon)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  if (name == "content-length") {
    // Reserve once so a large body is not copied while it grows.
    uint64_t len = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (len > 0 && len < (uint64_t{1} << 34)) t->response->body.reserve(len);
  }
  t->response->headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response->body.append(data, size * n);
  return size * n;
}

size_t OnUpload(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = std::min(size * n, t->upload.size() - t->uploaded);
  std::memcpy(buffer, t->upload.data() + t->uploaded, len);
  t->uploaded += len;
  return len;
}

int OnSocketOpened(void* user, curl_socket_t fd, curlsocktype) {
  *static_cast<curl_socket_t*>(user) = fd;
  return CURL_SOCKOPT_OK;
}

int OnSocketClose(void* user, curl_socket_t fd) {
  auto* known = static_cast<curl_socket_t*>(user);
  if (*known == fd) *known = CURL_SOCKET_BAD;
  return close(fd);
}

void LockShare(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<std::mutex*>(user)[std::min<int>(data, 7)].lock();
}
void UnlockShare(CURL*, curl_lock_data data, void* user) {
  static_cast<std::mutex*>(user)[std::min<int>(data, 7)].unlock();
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  share_ = curl_share_init();
  curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, LockShare);
  curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, UnlockShare);
  curl_share_setopt(share_, CURLSHOPT_USERDATA, share_locks_);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

HttpClient::~HttpClient() {
  absl::MutexLock lock(&mu_);
  for (Handle* h : idle_) Destroy(h);
  idle_.clear();
  curl_share_cleanup(share_);
}

void HttpClient::Destroy(Handle* handle) {
  // The close callback (set on the handle) still points at handle->fd.
  curl_easy_cleanup(handle->curl);
  delete handle;
}

HttpClient::Handle* HttpClient::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      Handle* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return nullptr;
  return new Handle{curl, CURL_SOCKET_BAD};
}

void HttpClient::Return(Handle* handle) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
  } else {
    Destroy(handle);
  }
}

HttpResult HttpClient::Perform(const HttpRequest& request, absl::Duration timeout) {
  HttpResult result;
  if (request.reuse_body != nullptr) {
    result.response.body.swap(*request.reuse_body);
    result.response.body.clear();  // keeps the capacity
  }
  Handle* handle = Borrow();
  if (handle == nullptr) {
    result.curl_code = CURLE_OUT_OF_MEMORY;
    result.curl_error = "curl_easy_init failed";
    return result;
  }
  CURL* h = handle->curl;
  // Reset clears options but keeps the connection cache, so keep-alive works.
  curl_easy_reset(h);
  Transfer t{&handle->fd, &result.response, request.body};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip before a PUT body.
  headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_SHARE, share_);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   std::max(1L, static_cast<long>(absl::ToInt64Milliseconds(timeout))));
  // A transfer that moves under 1 byte/s for the stall time is dead.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(
                                    (absl::ToInt64Milliseconds(options_.stall_timeout) + 999) / 1000)));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, OnSocketOpened);
  curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, &handle->fd);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, OnSocketClose);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, &handle->fd);
  // Large receive buffer: fewer callbacks and syscalls per multi-MiB body.
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, OnUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(h);
  result.curl_code = rc;
  if (rc != CURLE_OK) {
    result.curl_error = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    while (!result.curl_error.empty() && result.curl_error.back() == '\n') {
      result.curl_error.pop_back();
    }
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.response.status);
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (rc == CURLE_OK) {
    Return(handle);
  } else {
    // The connection may be in any state: start the next call afresh.
    Destroy(handle);
  }
  return result;
}

}  // namespace vol
