// AWS Signature Version 4 for S3 requests, computed with OpenSSL.
//
// Pure functions: the same request, credentials and time always give the same
// Authorization header, so every step is checked against AWS's published
// examples (tests/unit/store/sigv4_test.cc). The secret key is used only to
// derive the signing key; it is never copied into a header, a log line or an
// error.
#ifndef VOL_FETCHER_STORE_SIGV4_H_
#define VOL_FETCHER_STORE_SIGV4_H_

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vol {

// SHA-256 of an empty payload, hex.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw bytes
std::string HexEncode(std::string_view bytes);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters
// (A-Z a-z 0-9 - . _ ~) stay, everything else becomes %XX (upper-case hex);
// '/' stays when keep_slash (object key paths).
std::string UriEncode(std::string_view s, bool keep_slash);

struct SigV4Request {
  std::string method;         // "GET"
  std::string canonical_uri;  // already encoded: "/bucket/some%20key"
  // Decoded query parameters; encoded and sorted by the signer.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign (name case and order do not matter). Must include "host".
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // hex, or "UNSIGNED-PAYLOAD"
};

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// "20130524T000000Z" for a UNIX time.
std::string AmzDate(std::time_t t);

// The query string as sent and as signed: "a=1&b=x%2Fy", sorted by name then value.
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);
// "host;range;x-amz-date"
std::string SignedHeaders(const SigV4Request& req);
std::string CanonicalRequest(const SigV4Request& req);
std::string StringToSign(const SigV4Request& req, std::string_view amz_date,
                         std::string_view region, std::string_view service);
// Hex signature.
std::string Signature(const SigV4Request& req, const SigV4Credentials& creds,
                      std::string_view amz_date, std::string_view region,
                      std::string_view service);
// The Authorization header's value. The request's headers must already hold
// x-amz-date (= amz_date) and, for S3, x-amz-content-sha256.
std::string AuthorizationHeader(const SigV4Request& req, const SigV4Credentials& creds,
                                std::string_view amz_date, std::string_view region,
                                std::string_view service);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_SIGV4_H_
