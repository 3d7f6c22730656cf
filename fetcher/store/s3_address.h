// Where an S3 object lives on the wire: parsing "s3://bucket/prefix" and the
// endpoint URL, choosing path-style or virtual-hosted addressing, and building
// the request URL, Host header and canonical URI for a key.
//
// Invariants: the prefix never starts or ends with '/'; an object key is
// prefix + "/" + key (just key without a prefix); the URL path and the
// canonical URI that is signed are the same string, so what curl sends is what
// was signed.
#ifndef VOL_FETCHER_STORE_S3_ADDRESS_H_
#define VOL_FETCHER_STORE_S3_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vol {

struct S3Location {
  std::string bucket;
  std::string prefix;  // "" or "a/b"
};
absl::StatusOr<S3Location> ParseS3Url(std::string_view url);

struct S3Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // host[:port], the port only when not the scheme's default
  bool is_aws = false;
};
// An empty url means AWS in `region`: https://s3.REGION.amazonaws.com.
absl::StatusOr<S3Endpoint> ParseEndpoint(std::string_view url, std::string_view region);

enum class S3Addressing { kPath, kVirtualHosted };
// `override_value` is $VOL_S3_ADDRESSING ("path", "virtual" or empty). By
// default AWS gets virtual-hosted addressing (path style is deprecated there)
// unless the bucket has a dot (it would not match the TLS wildcard
// certificate); any other endpoint gets path style, which needs no DNS setup.
absl::StatusOr<S3Addressing> ChooseAddressing(const S3Endpoint& endpoint,
                                              std::string_view bucket,
                                              std::string_view override_value);

struct S3Target {
  std::string host;           // the Host header
  std::string canonical_uri;  // encoded path, also the URL path
  std::string url;            // scheme://host + canonical_uri (no query)
};
// The object `object_key` (the full key, prefix included); an empty key means
// the bucket itself (for LIST).
S3Target TargetFor(const S3Endpoint& endpoint, S3Addressing addressing, std::string_view bucket,
                   std::string_view object_key);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_S3_ADDRESS_H_
