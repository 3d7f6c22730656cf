// S3 XML extraction. Invariant: pure functions.
#include "fetcher/store/s3_xml.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace vol {
namespace {

void AppendUtf8(std::string* out, unsigned long cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Calls fn(text) for the raw text of every <tag>…</tag>, in order.
template <typename Fn>
void ForEach(std::string_view xml, std::string_view tag, Fn fn) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while (true) {
    size_t start = xml.find(open, pos);
    if (start == std::string_view::npos) return;
    start += open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) return;
    fn(xml.substr(start, end - start));
    pos = end + close.size();
  }
}

}  // namespace

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() > 1 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string digits(ent.substr(hex ? 2 : 1));
      AppendUtf8(&out, std::strtoul(digits.c_str(), nullptr, hex ? 16 : 10));
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string XmlFirst(std::string_view xml, std::string_view tag) {
  std::string result;
  bool found = false;
  ForEach(xml, tag, [&](std::string_view text) {
    if (!found) result = XmlUnescape(text);
    found = true;
  });
  return result;
}

int64_t ParseIsoTimeNs(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return 0;
  return absl::ToUnixNanos(t);
}

absl::StatusOr<S3ListPage> ParseListObjectsV2(std::string_view xml) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) {
    return absl::DataLossError("the LIST response is not a ListBucketResult document");
  }
  S3ListPage page;
  ForEach(xml, "Contents", [&](std::string_view contents) {
    ListedObject object;
    object.key = XmlFirst(contents, "Key");
    object.size = std::strtoull(XmlFirst(contents, "Size").c_str(), nullptr, 10);
    object.mtime_ns = ParseIsoTimeNs(XmlFirst(contents, "LastModified"));
    page.keys.push_back(object.key);
    page.objects.push_back(std::move(object));
  });
  page.truncated = XmlFirst(xml, "IsTruncated") == "true";
  page.next_continuation_token = XmlFirst(xml, "NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty()) {
    return absl::DataLossError("the LIST response is truncated but has no continuation token");
  }
  return page;
}

}  // namespace vol
