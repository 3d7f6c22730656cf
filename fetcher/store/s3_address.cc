// S3 addressing. Invariant: pure functions of their arguments.
#include "fetcher/store/s3_address.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "fetcher/store/sigv4.h"

namespace vol {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

absl::StatusOr<S3Location> ParseS3Url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError("not an s3:// URL: " + std::string(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  S3Location loc;
  loc.bucket = std::string(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  loc.prefix = std::string(prefix);
  if (loc.bucket.empty()) {
    return absl::InvalidArgumentError("store URL " + std::string(url) +
                                      " names no bucket: use s3://BUCKET[/PREFIX]");
  }
  // S3's rules, loosened to what older buckets (and RGW) accept: letters,
  // digits, '.', '-', '_'.
  for (char c : loc.bucket) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return absl::InvalidArgumentError("store URL " + std::string(url) + ": bucket name \"" +
                                        loc.bucket +
                                        "\" may hold only letters, digits, '.', '-' and '_'");
    }
  }
  if (loc.prefix.find("//") != std::string::npos) {
    return absl::InvalidArgumentError("store URL " + std::string(url) +
                                      ": the prefix has an empty path segment (\"//\")");
  }
  return loc;
}

absl::StatusOr<S3Endpoint> ParseEndpoint(std::string_view url, std::string_view region) {
  S3Endpoint ep;
  if (url.empty()) {
    ep.scheme = "https";
    ep.host = "s3." + std::string(region) + ".amazonaws.com";
    ep.is_aws = true;
    return ep;
  }
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return absl::InvalidArgumentError("AWS_ENDPOINT_URL=" + std::string(url) +
                                      ": expected http://HOST[:PORT] or https://HOST[:PORT]");
  }
  ep.scheme = absl::AsciiStrToLower(std::string(url.substr(0, sep)));
  if (ep.scheme != "http" && ep.scheme != "https") {
    return absl::InvalidArgumentError("AWS_ENDPOINT_URL=" + std::string(url) +
                                      ": the scheme must be http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos && rest.substr(slash) != "/") {
    return absl::InvalidArgumentError("AWS_ENDPOINT_URL=" + std::string(url) +
                                      ": endpoints with a path are not supported");
  }
  std::string host = absl::AsciiStrToLower(std::string(rest.substr(0, slash)));
  if (host.empty()) {
    return absl::InvalidArgumentError("AWS_ENDPOINT_URL=" + std::string(url) + " names no host");
  }
  // Drop the scheme's default port: the Host header we sign must be the one
  // the server sees, and clients normally omit it.
  std::string_view default_port = ep.scheme == "http" ? ":80" : ":443";
  if (host.front() != '[' || host.find("]:") != std::string::npos) {
    if (EndsWith(host, default_port)) host.resize(host.size() - default_port.size());
  }
  ep.host = host;
  std::string_view bare = std::string_view(host).substr(0, host.rfind(':') == std::string::npos
                                                               ? host.size()
                                                               : host.rfind(':'));
  ep.is_aws = EndsWith(bare, ".amazonaws.com") || EndsWith(bare, ".amazonaws.com.cn");
  return ep;
}

absl::StatusOr<S3Addressing> ChooseAddressing(const S3Endpoint& endpoint,
                                              std::string_view bucket,
                                              std::string_view override_value) {
  if (override_value == "path") return S3Addressing::kPath;
  if (override_value == "virtual") return S3Addressing::kVirtualHosted;
  if (!override_value.empty()) {
    return absl::InvalidArgumentError("VOL_S3_ADDRESSING=" + std::string(override_value) +
                                      ": expected \"path\" or \"virtual\"");
  }
  if (!endpoint.is_aws) return S3Addressing::kPath;
  if (bucket.find('.') != std::string_view::npos) return S3Addressing::kPath;
  return S3Addressing::kVirtualHosted;
}

S3Target TargetFor(const S3Endpoint& endpoint, S3Addressing addressing, std::string_view bucket,
                   std::string_view object_key) {
  S3Target t;
  std::string key_path = "/" + UriEncode(object_key, /*keep_slash=*/true);
  if (addressing == S3Addressing::kVirtualHosted) {
    t.host = std::string(bucket) + "." + endpoint.host;
    t.canonical_uri = key_path;
  } else {
    t.host = endpoint.host;
    t.canonical_uri = "/" + UriEncode(bucket, false) + (object_key.empty() ? "" : key_path);
  }
  t.url = endpoint.scheme + "://" + t.host + t.canonical_uri;
  return t;
}

}  // namespace vol
