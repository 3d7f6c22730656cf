// Byte strings in JSON documents and messages, and JSON output that cannot throw.
//
// File names and symlink targets are bytes (anything but NUL, and '/' in a
// name); JSON text is UTF-8, and nlohmann::json throws (type_error 316) when
// it is asked to dump a string that is not. Every document vol writes that
// may hold such bytes goes through these helpers:
//   - BytesToJson writes a byte string as a plain JSON string when it is
//     valid UTF-8 (so documents stay readable), and otherwise as the object
//     {"base64": "..."} (RFC 4648 base64 with padding). BytesFromJson reads
//     both forms back, losslessly.
//   - ShowBytes puts a byte string into a message: as it is when it is
//     UTF-8, with \xNN escapes otherwise.
//   - DumpJson never throws: a string that is still not UTF-8 (a commit
//     message quoting a path, say) is written with U+FFFD in its place.
#ifndef VOL_FETCHER_FORMAT_JSON_BYTES_H_
#define VOL_FETCHER_FORMAT_JSON_BYTES_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"

namespace vol {

// Well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsValidUtf8(absl::string_view s);

nlohmann::json BytesToJson(absl::string_view bytes);
// nullopt when `j` is neither a string nor a {"base64": "..."} object of valid base64.
// (Trees are read with simdjson, by tree.cc's BytesFrom: the same rules.)
std::optional<std::string> BytesFromJson(const nlohmann::json& j);

std::string ShowBytes(absl::string_view bytes);

// j.dump(indent) without exceptions.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

}  // namespace vol

#endif  // VOL_FETCHER_FORMAT_JSON_BYTES_H_
