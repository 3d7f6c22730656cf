// The few pieces of S3's XML responses the store reads: error codes and
// ListObjectsV2 pages. Not a general XML parser: S3 responses are flat,
// machine-written documents, and only element text is needed.
#ifndef VOL_FETCHER_STORE_S3_XML_H_
#define VOL_FETCHER_STORE_S3_XML_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/store/object_store.h"

namespace vol {

// &amp; &lt; &gt; &quot; &apos; and numeric references (&#NN; &#xHH;).
std::string XmlUnescape(std::string_view s);

// The unescaped text of the first <tag>…</tag>, or "" when there is none.
std::string XmlFirst(std::string_view xml, std::string_view tag);

struct S3ListPage {
  std::vector<std::string> keys;
  std::vector<ListedObject> objects;  // keys[i] with its Size and LastModified
  bool truncated = false;
  std::string next_continuation_token;
};
// "2009-10-12T17:50:30.000Z" as nanoseconds since the epoch; 0 if malformed.
int64_t ParseIsoTimeNs(std::string_view text);

// A ListObjectsV2 result. Fails (DataLoss) on a body that is not one, or a
// truncated page without a continuation token.
absl::StatusOr<S3ListPage> ParseListObjectsV2(std::string_view xml);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_S3_XML_H_
