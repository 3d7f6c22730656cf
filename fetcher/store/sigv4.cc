// SigV4 signing. Invariant: nothing here keeps state; the secret only flows
// into HMAC keys.
#include "fetcher/store/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"

namespace vol {
namespace {

// absl::StrCat for std::string_view (Debian's Abseil has its own string_view).
template <typename... T>
std::string Cat(const T&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHex[c >> 4];
    out[2 * i + 1] = kHex[c & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), sizeof(md)));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string AmzDate(std::time_t t) {
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CanonicalQueryString(
    const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += Cat(k, "=", v);
  }
  return out;
}

namespace {

// Lower-case names, values trimmed with inner runs of spaces collapsed;
// repeated names joined with ','. Sorted by name (std::map).
std::map<std::string, std::string> CanonicalHeaderMap(const SigV4Request& req) {
  std::map<std::string, std::string> m;
  for (const auto& [name, value] : req.headers) {
    std::string v;
    bool space = false;
    for (char c : absl::StripAsciiWhitespace(value)) {
      if (c == ' ' || c == '\t') {
        space = true;
        continue;
      }
      if (space) v.push_back(' ');
      space = false;
      v.push_back(c);
    }
    std::string key = absl::AsciiStrToLower(name);
    auto [it, inserted] = m.emplace(key, v);
    if (!inserted) it->second += Cat(",", v);
  }
  return m;
}

std::string Scope(std::string_view amz_date, std::string_view region, std::string_view service) {
  return Cat(amz_date.substr(0, 8), "/", region, "/", service, "/aws4_request");
}

}  // namespace

std::string SignedHeaders(const SigV4Request& req) {
  std::vector<std::string> names;
  for (const auto& [name, value] : CanonicalHeaderMap(req)) names.push_back(name);
  return absl::StrJoin(names, ";");
}

std::string CanonicalRequest(const SigV4Request& req) {
  std::string headers;
  for (const auto& [name, value] : CanonicalHeaderMap(req)) {
    headers += Cat(name, ":", value, "\n");
  }
  return Cat(req.method, "\n", req.canonical_uri, "\n", CanonicalQueryString(req.query),
                      "\n", headers, "\n", SignedHeaders(req), "\n", req.payload_sha256);
}

std::string StringToSign(const SigV4Request& req, std::string_view amz_date,
                         std::string_view region, std::string_view service) {
  return Cat("AWS4-HMAC-SHA256\n", amz_date, "\n", Scope(amz_date, region, service),
                      "\n", Sha256Hex(CanonicalRequest(req)));
}

std::string Signature(const SigV4Request& req, const SigV4Credentials& creds,
                      std::string_view amz_date, std::string_view region,
                      std::string_view service) {
  std::string key = HmacSha256(Cat("AWS4", creds.secret_access_key), amz_date.substr(0, 8));
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  return HexEncode(HmacSha256(key, StringToSign(req, amz_date, region, service)));
}

std::string AuthorizationHeader(const SigV4Request& req, const SigV4Credentials& creds,
                                std::string_view amz_date, std::string_view region,
                                std::string_view service) {
  return Cat("AWS4-HMAC-SHA256 Credential=", creds.access_key_id, "/",
                      Scope(amz_date, region, service), ",SignedHeaders=", SignedHeaders(req),
                      ",Signature=", Signature(req, creds, amz_date, region, service));
}

}  // namespace vol
