// Reads AWS credentials, region and endpoint from the environment and the
// shared files. Invariant: secrets are stored, never formatted into messages.
#include "fetcher/store/aws_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace vol {
namespace {

std::string Trim(std::string_view s) {
  return std::string(absl::StripAsciiWhitespace(absl::string_view(s.data(), s.size())));
}

std::optional<std::string> NonEmpty(const EnvLookup& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string* Find(const IniFile& ini, const std::string& section, const std::string& key) {
  auto s = ini.find(section);
  if (s == ini.end()) return nullptr;
  auto k = s->second.find(key);
  return k == s->second.end() ? nullptr : &k->second;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

IniFile ParseIni(std::string_view text) {
  IniFile ini;
  std::string section;
  bool in_section = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (!raw.empty() && (raw[0] == ' ' || raw[0] == '\t')) continue;  // nested setting
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      size_t close = line.find(']');
      if (close == std::string::npos) {
        in_section = false;
        continue;
      }
      section = Trim(std::string_view(line).substr(1, close - 1));
      in_section = true;
      ini[section];
      continue;
    }
    size_t eq = line.find('=');
    if (!in_section || eq == std::string::npos) continue;
    std::string key = absl::AsciiStrToLower(Trim(std::string_view(line).substr(0, eq)));
    ini[section][key] = Trim(std::string_view(line).substr(eq + 1));
  }
  return ini;
}

absl::StatusOr<AwsConfig> LoadAwsConfig(const EnvLookup& env) {
  AwsConfig cfg;
  std::string home = NonEmpty(env, "HOME").value_or("");
  std::string cred_path = NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE")
                              .value_or(home.empty() ? "" : home + "/.aws/credentials");
  std::string conf_path =
      NonEmpty(env, "AWS_CONFIG_FILE").value_or(home.empty() ? "" : home + "/.aws/config");
  std::optional<std::string> explicit_profile = NonEmpty(env, "AWS_PROFILE");
  if (!explicit_profile) explicit_profile = NonEmpty(env, "AWS_DEFAULT_PROFILE");
  std::string profile = explicit_profile.value_or("default");

  IniFile creds_ini, conf_ini;
  if (!cred_path.empty()) {
    if (auto text = ReadFile(cred_path)) creds_ini = ParseIni(*text);
  }
  if (!conf_path.empty()) {
    if (auto text = ReadFile(conf_path)) conf_ini = ParseIni(*text);
  }
  // In the config file the default profile is "[default]", others "[profile NAME]";
  // a bare "[NAME]" is accepted too, as the CLI does.
  std::string conf_section = profile == "default" ? "default" : "profile " + profile;
  if (!conf_ini.count(conf_section) && conf_ini.count(profile)) conf_section = profile;
  bool have_cred_section = creds_ini.count(profile) > 0;
  bool have_conf_section = conf_ini.count(conf_section) > 0;

  auto from_profile = [&](const std::string& key) -> std::optional<std::string> {
    if (const std::string* v = Find(creds_ini, profile, key); v && !v->empty()) return *v;
    if (const std::string* v = Find(conf_ini, conf_section, key); v && !v->empty()) return *v;
    return std::nullopt;
  };

  auto env_id = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  auto env_secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  if (env_id.has_value() != env_secret.has_value()) {
    return absl::InvalidArgumentError(
        env_id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both"
               : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both");
  }
  if (env_id) {
    cfg.access_key_id = *env_id;
    cfg.secret_access_key = *env_secret;
    cfg.session_token = NonEmpty(env, "AWS_SESSION_TOKEN").value_or("");
    cfg.credentials_source = "the environment";
  } else {
    if (explicit_profile && !have_cred_section && !have_conf_section) {
      return absl::InvalidArgumentError("AWS_PROFILE=" + profile + ": no such profile in " +
                                        (cred_path.empty() ? "~/.aws/credentials" : cred_path) +
                                        " or " +
                                        (conf_path.empty() ? "~/.aws/config" : conf_path));
    }
    auto id = from_profile("aws_access_key_id");
    auto secret = from_profile("aws_secret_access_key");
    if (id.has_value() != secret.has_value()) {
      return absl::InvalidArgumentError("profile " + profile + " sets " +
                                        (id ? "aws_access_key_id" : "aws_secret_access_key") +
                                        " without " +
                                        (id ? "aws_secret_access_key" : "aws_access_key_id"));
    }
    if (id) {
      cfg.access_key_id = *id;
      cfg.secret_access_key = *secret;
      cfg.session_token = from_profile("aws_session_token").value_or("");
      cfg.credentials_source = "profile " + profile + " (" +
                               (Find(creds_ini, profile, "aws_access_key_id") ? cred_path
                                                                               : conf_path) +
                               ")";
    } else {
      cfg.credentials_source = "none";
    }
  }

  auto conf_value = [&](const std::string& key) -> std::optional<std::string> {
    if (const std::string* v = Find(conf_ini, conf_section, key); v && !v->empty()) return *v;
    return std::nullopt;
  };
  cfg.region = NonEmpty(env, "AWS_REGION")
                   .value_or(NonEmpty(env, "AWS_DEFAULT_REGION")
                                 .value_or(conf_value("region").value_or("us-east-1")));
  cfg.endpoint_url =
      NonEmpty(env, "AWS_ENDPOINT_URL_S3")
          .value_or(NonEmpty(env, "AWS_ENDPOINT_URL").value_or(conf_value("endpoint_url").value_or("")));
  return cfg;
}

}  // namespace vol
