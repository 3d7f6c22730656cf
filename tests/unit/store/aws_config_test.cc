#include "fetcher/store/aws_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace vol {
namespace {

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vol-awsconfig-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    std::filesystem::create_directories(home_ + "/.aws");
    env_["HOME"] = home_;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(home_ + "/.aws/" + name) << text;
  }
  absl::StatusOr<AwsConfig> Load() {
    auto env = env_;
    return LoadAwsConfig([env](std::string_view name) -> std::optional<std::string> {
      auto it = env.find(std::string(name));
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
  }
  std::string home_;
  std::map<std::string, std::string> env_;
};

TEST(Ini, Parses) {
  IniFile ini = ParseIni(
      "# comment\n[default]\naws_access_key_id = AK \r\nAWS_Secret_Access_Key=S=x\n"
      "[profile dev]\nregion=eu-west-1\ns3 =\n  addressing_style = path\n; more\n[bad\nk=v\n");
  EXPECT_EQ(ini["default"]["aws_access_key_id"], "AK");
  EXPECT_EQ(ini["default"]["aws_secret_access_key"], "S=x");
  EXPECT_EQ(ini["profile dev"]["region"], "eu-west-1");
  EXPECT_EQ(ini["profile dev"].count("addressing_style"), 0u);
  EXPECT_EQ(ini["profile dev"].count("k"), 0u);
}

TEST_F(AwsConfigTest, EnvironmentWins) {
  Write("credentials", "[default]\naws_access_key_id=FILEKEY\naws_secret_access_key=FILESECRET\n");
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  env_["AWS_SESSION_TOKEN"] = "TOKEN";
  env_["AWS_DEFAULT_REGION"] = "ap-south-1";
  env_["AWS_ENDPOINT_URL"] = "http://127.0.0.1:7480";
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ENVKEY");
  EXPECT_EQ(c->secret_access_key, "ENVSECRET");
  EXPECT_EQ(c->session_token, "TOKEN");
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->endpoint_url, "http://127.0.0.1:7480");
  env_["AWS_REGION"] = "us-west-2";
  env_["AWS_ENDPOINT_URL_S3"] = "http://s3only:1";
  EXPECT_EQ(Load()->region, "us-west-2");
  EXPECT_EQ(Load()->endpoint_url, "http://s3only:1");
}

TEST_F(AwsConfigTest, DefaultProfileFromFiles) {
  Write("credentials", "[default]\naws_access_key_id=FILEKEY\naws_secret_access_key=FILESECRET\n");
  Write("config", "[default]\nregion = eu-central-1\nendpoint_url = http://minio:9000\n");
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "FILEKEY");
  EXPECT_EQ(c->secret_access_key, "FILESECRET");
  EXPECT_EQ(c->region, "eu-central-1");
  EXPECT_EQ(c->endpoint_url, "http://minio:9000");
  EXPECT_NE(c->credentials_source.find("profile default"), std::string::npos);
  EXPECT_EQ(c->credentials_source.find("FILESECRET"), std::string::npos);
}

TEST_F(AwsConfigTest, NamedProfile) {
  Write("credentials",
        "[default]\naws_access_key_id=D\naws_secret_access_key=DS\n"
        "[dev]\naws_access_key_id=DEV\naws_secret_access_key=DEVS\naws_session_token=T\n");
  Write("config", "[profile dev]\nregion = eu-north-1\n");
  env_["AWS_PROFILE"] = "dev";
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "DEV");
  EXPECT_EQ(c->session_token, "T");
  EXPECT_EQ(c->region, "eu-north-1");
}

TEST_F(AwsConfigTest, CredentialsInConfigFileAndFileOverrides) {
  std::ofstream(home_ + "/alt-config") << "[profile ci]\naws_access_key_id=CI\naws_secret_access_key=CIS\n";
  env_["AWS_CONFIG_FILE"] = home_ + "/alt-config";
  env_["AWS_PROFILE"] = "ci";
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "CI");
  EXPECT_EQ(c->region, "us-east-1");
}

TEST_F(AwsConfigTest, MissingProfileAndHalfCredentialsAreErrors) {
  env_["AWS_PROFILE"] = "nope";
  auto c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("AWS_PROFILE=nope"), std::string::npos) << c.status();
  env_.erase("AWS_PROFILE");
  env_["AWS_ACCESS_KEY_ID"] = "K";
  EXPECT_FALSE(Load().ok());
}

TEST_F(AwsConfigTest, NothingMeansAnonymous) {
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->anonymous());
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->endpoint_url, "");
}

}  // namespace
}  // namespace vol
