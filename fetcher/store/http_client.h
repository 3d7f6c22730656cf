// One HTTP exchange at a time per call, many calls at once: a thread-safe
// libcurl client for the S3 store.
//
// Invariants:
//   - Easy handles live in a pool; a call borrows one for its duration, so no
//     handle is ever used by two threads. A handle returned to the pool keeps
//     its live connection, which the next call reuses (keep-alive).
//   - DNS answers and TLS sessions are shared between handles (CURLSH, with a
//     lock per data kind).
//   - TLS peer and host verification stay on; $AWS_CA_BUNDLE names extra CAs.
//   - Each response's status line is ACKed at once (TCP_QUICKACK), so a server
//     that sends headers and a small body in two writes with Nagle on does
//     not wait 40 ms for our delayed ACK.
//   - Nothing is logged; error text comes from curl and holds no headers.
#ifndef VOL_FETCHER_STORE_HTTP_CLIENT_H_
#define VOL_FETCHER_STORE_HTTP_CLIENT_H_

#include <curl/curl.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"


namespace vol {

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, DELETE, POST
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // PUT / POST payload
  // A buffer whose memory the response body may take over (its content is
  // dropped): a caller that makes many GETs reuses one allocation.
  std::string* reuse_body = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;

  // The last value of a header (name lower-case), if present.
  std::optional<std::string> Header(std::string_view name) const;
};

struct HttpResult {
  int curl_code = 0;       // CURLE_OK when `response` holds a complete response
  std::string curl_error;  // curl's message when curl_code != 0
  HttpResponse response;
};

struct HttpClientOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration stall_timeout = absl::Seconds(10);
  std::string ca_bundle;  // empty: the system's
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One attempt, bounded by `timeout`. Thread-safe.
  HttpResult Perform(const HttpRequest& request, absl::Duration timeout);

 private:
  // An easy handle and the socket of its live connection (-1: none), known
  // from curl's socket callbacks since curl does not report it mid-transfer.
  struct Handle {
    CURL* curl = nullptr;
    curl_socket_t fd = CURL_SOCKET_BAD;
  };
  Handle* Borrow();
  void Return(Handle* handle);
  static void Destroy(Handle* handle);

  const HttpClientOptions options_;
  CURLSH* share_ = nullptr;
  std::mutex share_locks_[8];
  absl::Mutex mu_;
  std::vector<Handle*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vol

#endif  // VOL_FETCHER_STORE_HTTP_CLIENT_H_
