// AWS configuration the way the AWS CLI and SDKs find it, for the s3:// store.
//
// Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
// when both are set; otherwise the profile AWS_PROFILE (else
// AWS_DEFAULT_PROFILE, else "default") of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) or of the config file
// (AWS_CONFIG_FILE, else ~/.aws/config, sections "[profile NAME]" / "[default]").
// None at all means anonymous (unsigned) requests.
// Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's "region", "us-east-1".
// Endpoint: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
// "endpoint_url", else AWS's own (empty here).
// The loader takes the environment as a function so tests need no real one.
#ifndef VOL_FETCHER_STORE_AWS_CONFIG_H_
#define VOL_FETCHER_STORE_AWS_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vol {

struct AwsConfig {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region;
  std::string endpoint_url;  // empty: AWS
  // Where the credentials came from, for messages: "environment",
  // "profile default in /root/.aws/credentials", or "none".
  std::string credentials_source;

  bool anonymous() const { return access_key_id.empty(); }
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment.
EnvLookup ProcessEnv();

// section -> key -> value. Keys are lower-cased; indented lines (nested
// settings such as "s3 =\n  addressing_style = path") are ignored.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
IniFile ParseIni(std::string_view text);

// Fails only on an explicit AWS_PROFILE that no file defines, or a
// half-configured credential (a key id without a secret or the reverse).
absl::StatusOr<AwsConfig> LoadAwsConfig(const EnvLookup& env);

}  // namespace vol

#endif  // VOL_FETCHER_STORE_AWS_CONFIG_H_
