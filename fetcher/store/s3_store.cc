// S3Store: ObjectStore over S3's REST API.
//
// Invariants:
//   - Every request runs through Execute(): signed afresh per attempt (new
//     x-amz-date), retried per s3_retry.h within one deadline, and a 2xx body
//     is accepted only when its length matches Content-Length (a short body
//     is retried, never returned).
//   - Every PUT carries the XXH3-128 of its body as user metadata
//     (x-amz-meta-vol-xxh3); a whole-object GET whose answer carries it is
//     accepted only when the body hashes to it, so bytes altered on the way
//     are retried here instead of reaching the layers above.
//   - Ranged GETs also check Content-Range against the range asked for, so a
//     body that is the right length for the wrong bytes is not accepted.
//   - PutIfAbsent is a PUT with If-None-Match: * (412 = someone else won).
//     When an earlier attempt's outcome is unknown (its response was lost),
//     a 412 may be our own write: the object is read back and compared.
//   - Configuration is immutable after construction; the only shared mutable
//     state is the HTTP client's handle pool, which locks itself.
//   - Messages name the store, the object, the bucket and the endpoint; never
//     a secret or a signature.
#include "fetcher/store/s3_store.h"

#include <curl/curl.h>
#include <xxhash.h>

#include <atomic>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "fetcher/store/http_client.h"
#include "fetcher/store/s3_address.h"
#include "fetcher/store/s3_retry.h"
#include "fetcher/store/s3_xml.h"
#include "fetcher/store/sigv4.h"

namespace vol {
namespace {

uint64_t RandomU64() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
}

constexpr char kChecksumHeader[] = "x-amz-meta-vol-xxh3";

std::string Xxh3Hex(std::string_view data) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(data.data(), data.size()));
  return HexEncode(std::string_view(reinterpret_cast<const char*>(c.digest), sizeof(c.digest)));
}

// An HTTP date ("Wed, 12 Oct 2009 17:50:00 GMT") in nanoseconds; 0 if malformed.
int64_t HttpDateNs(const std::string& text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", text, absl::UTCTimeZone(), &t, &err)) return 0;
  return absl::ToUnixNanos(t);
}

// A whole-object body must hash to the checksum stored with it, if any.
absl::Status ChecksumOk(const HttpResponse& r) {
  auto want = r.Header(kChecksumHeader);
  if (!want || r.status != 200) return absl::OkStatus();
  if (Xxh3Hex(r.body) != *want) {
    return absl::DataLossError("body does not match its stored checksum (altered in transit?)");
  }
  return absl::OkStatus();
}

struct Call {
  std::string method;
  std::string object_key;  // full key (prefix included); "" = the bucket
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
  std::string what;  // "GET chunks/ab12…", for messages
  std::string* reuse_body = nullptr;  // memory the first attempt's response may take over
};

// A 2xx response the caller still has to accept: OK, or why not (retried).
using BodyCheck = std::function<absl::Status(const HttpResponse&)>;

class S3Store final : public ObjectStore {
 public:
  S3Store(S3Location location, S3Endpoint endpoint, S3Addressing addressing, AwsConfig config,
          S3RetryPolicy policy, HttpClientOptions http)
      : location_(std::move(location)),
        endpoint_(std::move(endpoint)),
        addressing_(addressing),
        config_(std::move(config)),
        policy_(policy),
        http_(std::move(http)) {}

  // Keys per LIST page; 0 = the server's default (1000). Small in tests, to
  // exercise continuation tokens.
  void set_list_page_size(int n) { list_page_size_ = n; }

  std::string Url() const override {
    return "s3://" + location_.bucket + (location_.prefix.empty() ? "" : "/" + location_.prefix);
  }

  absl::StatusOr<std::string> Get(std::string_view key) override {
    Call call{"GET", FullKey(key), {}, {}, {}, "GET " + std::string(key)};
    auto resp = Execute(call, ChecksumOk, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status != 200) return HttpError(call, *resp);
    return std::move(resp->body);
  }

  absl::StatusOr<std::string_view> GetInto(std::string_view key, std::string* buffer) override {
    Call call{"GET", FullKey(key), {}, {}, {}, "GET " + std::string(key)};
    call.reuse_body = buffer;
    auto resp = Execute(call, ChecksumOk, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status != 200) return HttpError(call, *resp);
    buffer->swap(resp->body);
    return std::string_view(*buffer);
  }

  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override {
    if (length == 0) return std::string();
    uint64_t last = offset + length - 1;
    if (last < offset) last = UINT64_MAX - 1;  // overflow: "to the end"
    Call call{"GET", FullKey(key), {}, {{"Range", absl::StrFormat("bytes=%d-%d", offset, last)}},
              {}, absl::StrFormat("GET %s [%d, +%d)", std::string(key), offset, length)};
    BodyCheck check = [&](const HttpResponse& r) -> absl::Status {
      if (r.status == 200) return absl::OkStatus();  // whole object: sliced below
      // 206: Content-Range "bytes FIRST-LAST/TOTAL" must be the range asked
      // for, clipped at the end of the object, and match the body.
      auto cr = r.Header("content-range");
      unsigned long long first = 0, end = 0, total = 0;
      if (!cr || std::sscanf(cr->c_str(), "bytes %llu-%llu/%llu", &first, &end, &total) != 3) {
        return absl::DataLossError("206 response without a valid Content-Range");
      }
      uint64_t want_end = std::min<uint64_t>(last, total - 1);
      if (first != offset || end != want_end || r.body.size() != end - first + 1) {
        return absl::DataLossError(absl::StrFormat(
            "asked for bytes %d-%d, got Content-Range %s with %d bytes", offset, last, *cr,
            r.body.size()));
      }
      return absl::OkStatus();
    };
    auto resp = Execute(call, check, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status == 416) return std::string();  // offset at or past the end
    if (resp->status == 206) return std::move(resp->body);
    if (resp->status == 200) {
      // The server ignored Range (allowed by HTTP): cut the range out.
      if (offset >= resp->body.size()) return std::string();
      return resp->body.substr(offset, length);
    }
    return HttpError(call, *resp);
  }

  absl::Status Put(std::string_view key, std::string_view data) override {
    Call call{"PUT", FullKey(key), {}, {{kChecksumHeader, Xxh3Hex(data)}}, data,
              "PUT " + std::string(key)};
    auto resp = Execute(call, nullptr, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status / 100 != 2) return HttpError(call, *resp);
    return absl::OkStatus();
  }

  absl::Status PutIfAbsent(std::string_view key, std::string_view data) override {
    Call call{"PUT", FullKey(key), {}, {{"If-None-Match", "*"}, {kChecksumHeader, Xxh3Hex(data)}},
              data,
              "PUT (if absent) " + std::string(key)};
    int attempts = 0;
    auto resp = Execute(call, nullptr, &attempts);
    if (!resp.ok()) return resp.status();
    if (resp->status / 100 == 2) return absl::OkStatus();
    if (resp->status == 412) {
      if (attempts > 1) {
        // An earlier attempt may have created the object and lost only its
        // response; then the object holds exactly our bytes.
        auto existing = Get(key);
        if (existing.ok() && *existing == data) return absl::OkStatus();
      }
      return absl::AlreadyExistsError(Url() + ": " + std::string(key) + " already exists");
    }
    return HttpError(call, *resp);
  }

  absl::StatusOr<ObjectInfo> Head(std::string_view key) override {
    Call call{"HEAD", FullKey(key), {}, {}, {}, "HEAD " + std::string(key)};
    auto resp = Execute(call, nullptr, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status == 404 && !bucket_seen_.load(std::memory_order_relaxed)) {
      // A HEAD error has no body to tell a missing key from a missing bucket;
      // until the bucket has answered once, ask it.
      absl::Status bucket = CheckBucket();
      if (!bucket.ok()) return bucket;
    }
    if (resp->status != 200) return HttpError(call, *resp);
    auto len = resp->Header("content-length");
    if (!len) return absl::DataLossError(Url() + ": HEAD " + std::string(key) + ": no Content-Length");
    ObjectInfo info;
    info.size = std::strtoull(len->c_str(), nullptr, 10);
    info.mtime_ns = HttpDateNs(resp->Header("last-modified").value_or(""));
    info.checksum = resp->Header(kChecksumHeader).value_or("");
    return info;
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix,
                                                std::string_view start_after) override {
    absl::StatusOr<std::vector<ListedObject>> objects = ListAll(prefix, start_after);
    if (!objects.ok()) return objects.status();
    std::vector<std::string> keys;
    keys.reserve(objects->size());
    for (ListedObject& o : *objects) keys.push_back(std::move(o.key));
    return keys;
  }

  absl::StatusOr<std::vector<ListedObject>> ListObjects(std::string_view prefix) override {
    return ListAll(prefix, {});
  }

  // A copy onto itself with new (the same) metadata: S3 gives the object a
  // new Last-Modified without the bytes leaving the server.
  absl::Status Touch(std::string_view key) override {
    absl::StatusOr<ObjectInfo> info = Head(key);
    if (!info.ok()) return info.status();
    std::vector<std::pair<std::string, std::string>> headers = {
        {"x-amz-copy-source", "/" + location_.bucket + "/" + UriEncode(FullKey(key), true)},
        {"x-amz-metadata-directive", "REPLACE"}};
    if (!info->checksum.empty()) headers.emplace_back(kChecksumHeader, info->checksum);
    Call call{"PUT", FullKey(key), {}, std::move(headers), {}, "COPY (touch) " + std::string(key)};
    // A copy can fail after its 200 has started: the error is then in the body.
    BodyCheck check = [](const HttpResponse& r) -> absl::Status {
      if (r.body.find("<Error>") != std::string::npos) {
        return absl::UnavailableError("copy failed: " + XmlFirst(r.body, "Code"));
      }
      return absl::OkStatus();
    };
    auto resp = Execute(call, check, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status / 100 != 2) return HttpError(call, *resp);
    return absl::OkStatus();
  }

  absl::Status Delete(std::string_view key) override {
    Call call{"DELETE", FullKey(key), {}, {}, {}, "DELETE " + std::string(key)};
    auto resp = Execute(call, nullptr, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status / 100 == 2) return absl::OkStatus();
    if (resp->status == 404 && XmlFirst(resp->body, "Code") != "NoSuchBucket") {
      return absl::OkStatus();
    }
    return HttpError(call, *resp);
  }

 private:
  absl::StatusOr<std::vector<ListedObject>> ListAll(std::string_view prefix,
                                                    std::string_view start_after) {
    std::string base = location_.prefix.empty() ? "" : location_.prefix + "/";
    std::vector<ListedObject> keys;
    std::string token;
    do {
      Call call{"GET", "", {{"list-type", "2"}, {"prefix", base + std::string(prefix)}}, {}, {},
                "LIST " + (prefix.empty() ? std::string("(all keys)") : std::string(prefix))};
      if (list_page_size_ > 0) call.query.emplace_back("max-keys", std::to_string(list_page_size_));
      if (!token.empty()) {
        call.query.emplace_back("continuation-token", token);
      } else if (!start_after.empty()) {
        call.query.emplace_back("start-after", base + std::string(start_after));
      }
      absl::StatusOr<S3ListPage> page;
      BodyCheck check = [&](const HttpResponse& r) -> absl::Status {
        page = ParseListObjectsV2(r.body);
        return page.status();
      };
      auto resp = Execute(call, check, nullptr);
      if (!resp.ok()) return resp.status();
      if (resp->status != 200) return HttpError(call, *resp);
      for (ListedObject& o : page->objects) {
        if (o.key.compare(0, base.size(), base) != 0) continue;
        o.key = o.key.substr(base.size());
        keys.push_back(std::move(o));
      }
      token = page->truncated ? page->next_continuation_token : "";
    } while (!token.empty());
    return keys;
  }

  absl::Status CheckBucket() {
    Call call{"GET", "", {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", location_.prefix}},
              {}, {}, "LIST (bucket check)"};
    auto resp = Execute(call, nullptr, nullptr);
    if (!resp.ok()) return resp.status();
    if (resp->status != 200) return HttpError(call, *resp);
    return absl::OkStatus();
  }

  std::string FullKey(std::string_view key) const {
    return location_.prefix.empty() ? std::string(key) : location_.prefix + "/" + std::string(key);
  }
  std::string Endpoint() const { return endpoint_.scheme + "://" + endpoint_.host; }

  // Builds, signs and sends one attempt.
  HttpResult Attempt(const Call& call, const std::string& payload_hash, absl::Duration timeout) {
    S3Target target = TargetFor(endpoint_, addressing_, location_.bucket, call.object_key);
    SigV4Request sig;
    sig.method = call.method;
    sig.canonical_uri = target.canonical_uri;
    sig.query = call.query;
    sig.payload_sha256 = payload_hash;
    sig.headers = call.headers;
    sig.headers.emplace_back("Host", target.host);
    HttpRequest req;
    req.method = call.method;
    req.url = target.url;
    std::string query = CanonicalQueryString(call.query);
    if (!query.empty()) req.url += "?" + query;
    req.body = call.body;
    req.reuse_body = call.reuse_body;
    if (!config_.anonymous()) {
      std::string date = AmzDate(absl::ToTimeT(absl::Now()));
      sig.headers.emplace_back("x-amz-date", date);
      sig.headers.emplace_back("x-amz-content-sha256", payload_hash);
      if (!config_.session_token.empty()) {
        sig.headers.emplace_back("x-amz-security-token", config_.session_token);
      }
      std::string auth = AuthorizationHeader(
          sig, {config_.access_key_id, config_.secret_access_key}, date, config_.region, "s3");
      req.headers = sig.headers;
      req.headers.emplace_back("Authorization", std::move(auth));
    } else {
      req.headers = sig.headers;
    }
    return http_.Perform(req, timeout);
  }

  // Runs `call` until it gets a final answer: a 2xx that passes the length
  // checks and `check`, or a non-retryable HTTP response (returned for the
  // caller to interpret). Transport failures and retryable responses are
  // retried with backoff; when attempts or time run out, the error is
  // Unavailable or DeadlineExceeded and names the last failure.
  absl::StatusOr<HttpResponse> Execute(const Call& call, const BodyCheck& check, int* attempts_out) {
    const std::string payload_hash =
        call.body.empty() ? std::string(kEmptyPayloadSha256) : Sha256Hex(call.body);
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + policy_.deadline;
    std::string last_error;
    bool timed_out = false;
    bool bad_body = false;  // the last attempt's answer failed its checks
    int bad_bodies = 0;
    int attempt = 0;
    while (true) {
      ++attempt;
      if (attempts_out != nullptr) *attempts_out = attempt;
      HttpResult r = Attempt(call, payload_hash, deadline - absl::Now());
      const HttpResponse& resp = r.response;
      std::string s3_code = r.curl_code == CURLE_OK && resp.status / 100 != 2
                                ? XmlFirst(resp.body, "Code")
                                : "";
      S3AttemptVerdict verdict = ClassifyAttempt(r.curl_code, resp.status, s3_code);
      if (r.curl_code != CURLE_OK) {
        last_error = r.curl_error + " (" + Endpoint() + ")";
        timed_out = r.curl_code == CURLE_OPERATION_TIMEDOUT;
        bad_body = false;
        if (verdict == S3AttemptVerdict::kFail) {
          std::string hint = r.curl_code == CURLE_PEER_FAILED_VERIFICATION
                                 ? ": if the server's certificate is signed by a private CA, "
                                   "set AWS_CA_BUNDLE to that CA's PEM file"
                                 : "";
          return absl::FailedPreconditionError(Url() + ": " + call.what + ": " + last_error + hint);
        }
      } else if (verdict == S3AttemptVerdict::kDone) {
        absl::Status ok = BodyLengthOk(call, resp);
        if (ok.ok() && check) ok = check(resp);
        if (ok.ok()) {
          bucket_seen_.store(true, std::memory_order_relaxed);
          return std::move(r.response);
        }
        verdict = S3AttemptVerdict::kRetry;
        last_error = std::string(ok.message());
        timed_out = false;
        bad_body = true;
        ++bad_bodies;
      } else if (verdict == S3AttemptVerdict::kFail) {
        return std::move(r.response);
      } else {
        last_error = absl::StrFormat("HTTP %d%s", resp.status, s3_code.empty() ? "" : " " + s3_code);
        timed_out = false;
        bad_body = false;
      }
      // Retry, if attempts and time allow.
      absl::Duration delay = BackoffDelay(policy_, attempt + 1, RandomU64());
      if (attempt >= policy_.max_attempts || absl::Now() + delay >= deadline) {
        absl::Duration spent = absl::Now() - start;
        std::string msg = absl::StrFormat("%s: %s: failed after %d attempt%s in %s: %s", Url(),
                                          call.what, attempt, attempt == 1 ? "" : "s",
                                          Seconds(spent), last_error);
        // Wrong bytes to the end are DataLoss only when they came back every
        // time; one bad answer among transport failures is still an outage.
        if (bad_body && bad_bodies == attempt) return absl::DataLossError(msg);
        bool out_of_time = timed_out || attempt < policy_.max_attempts;
        return out_of_time ? absl::DeadlineExceededError(msg) : absl::UnavailableError(msg);
      }
      absl::SleepFor(delay);
    }
  }

  // A 2xx body must be as long as its Content-Length says.
  static absl::Status BodyLengthOk(const Call& call, const HttpResponse& resp) {
    if (call.method == "HEAD") return absl::OkStatus();
    auto len = resp.Header("content-length");
    if (!len) return absl::OkStatus();  // chunked: curl checks the framing
    uint64_t want = std::strtoull(len->c_str(), nullptr, 10);
    if (want != resp.body.size()) {
      return absl::DataLossError(absl::StrFormat("body truncated: %d of %d bytes",
                                                 resp.body.size(), want));
    }
    return absl::OkStatus();
  }

  // A final non-2xx response as a status with a message that says what to do.
  absl::Status HttpError(const Call& call, const HttpResponse& resp) const {
    const std::string code = XmlFirst(resp.body, "Code");
    const std::string where = Url() + ": " + call.what + ": ";
    const std::string bucket = location_.bucket;
    const std::string at = " at " + Endpoint();
    const std::string code_note = code.empty() ? "" : " (" + code + ")";
    if (resp.status == 401 || resp.status == 403) {
      if (config_.anonymous()) {
        return absl::UnauthenticatedError(
            where + "access denied for bucket " + bucket + at +
            ": no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE)");
      }
      if (code == "RequestTimeTooSkewed") {
        return absl::UnauthenticatedError(where + "the server" + at +
                                          " rejects this machine's clock: fix the system time");
      }
      if (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired") {
        return absl::UnauthenticatedError(where + "access denied for bucket " + bucket + at +
                                          code_note + ": renew AWS_SESSION_TOKEN");
      }
      std::string fix = ": check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (credentials from " +
                        config_.credentials_source + ")";
      if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch") {
        return absl::UnauthenticatedError(where + "access denied for bucket " + bucket + at +
                                          code_note + fix);
      }
      return absl::PermissionDeniedError(where + "access denied for bucket " + bucket + at +
                                         code_note + fix +
                                         ", and that this user may use the bucket");
    }
    if (resp.status == 404) {
      if (code == "NoSuchBucket") {
        return absl::FailedPreconditionError(where + "bucket " + bucket + " does not exist" + at +
                                             ": create it (aws s3 mb s3://" + bucket +
                                             ") or fix the store URL");
      }
      return absl::NotFoundError(Url() + ": no object " +
                                 call.object_key.substr(location_.prefix.empty()
                                                            ? 0
                                                            : location_.prefix.size() + 1));
    }
    std::string region = XmlFirst(resp.body, "Region");
    if (region.empty()) region = resp.Header("x-amz-bucket-region").value_or("");
    if (!region.empty() && region != config_.region) {
      return absl::FailedPreconditionError(where + "bucket " + bucket + " is in region " + region +
                                           ", not " + config_.region + ": set AWS_REGION=" +
                                           region);
    }
    std::string message = XmlFirst(resp.body, "Message");
    std::string detail = absl::StrFormat("HTTP %d%s%s", resp.status, code_note,
                                         message.empty() ? "" : ": " + message);
    if (resp.status == 400) return absl::InvalidArgumentError(where + detail);
    return absl::UnknownError(where + detail + at);
  }

  const S3Location location_;
  const S3Endpoint endpoint_;
  const S3Addressing addressing_;
  const AwsConfig config_;
  const S3RetryPolicy policy_;
  HttpClient http_;
  int list_page_size_ = 0;
  // Set once any request succeeded: the bucket exists.
  std::atomic<bool> bucket_seen_{false};
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3Store(std::string_view url,
                                                        const EnvLookup& env) {
  auto location = ParseS3Url(url);
  if (!location.ok()) return location.status();
  auto config = LoadAwsConfig(env);
  if (!config.ok()) return config.status();
  auto endpoint = ParseEndpoint(config->endpoint_url, config->region);
  if (!endpoint.ok()) return endpoint.status();
  auto addressing =
      ChooseAddressing(*endpoint, location->bucket, env("VOL_S3_ADDRESSING").value_or(""));
  if (!addressing.ok()) return addressing.status();
  auto policy = RetryPolicyFromEnv(env);
  if (!policy.ok()) return policy.status();
  HttpClientOptions http;
  http.connect_timeout = policy->connect_timeout;
  http.stall_timeout = policy->stall_timeout;
  http.ca_bundle = env("AWS_CA_BUNDLE").value_or("");
  auto store = std::make_unique<S3Store>(*std::move(location), *std::move(endpoint), *addressing,
                                         *std::move(config), *policy, std::move(http));
  // VOL_S3_LIST_PAGE_SIZE: keys per LIST page (tests use it to force paging).
  if (auto page = env("VOL_S3_LIST_PAGE_SIZE"); page && !page->empty()) {
    store->set_list_page_size(std::atoi(page->c_str()));
  }
  return std::unique_ptr<ObjectStore>(std::move(store));
}

absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3Store(std::string_view url) {
  return NewS3Store(url, ProcessEnv());
}

}  // namespace vol
