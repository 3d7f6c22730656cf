#include "fetcher/store/s3_address.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

TEST(S3Address, ParsesBucketAndPrefix) {
  auto a = ParseS3Url("s3://bucket/some/prefix/");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->bucket, "bucket");
  EXPECT_EQ(a->prefix, "some/prefix");
  auto b = ParseS3Url("s3://bucket");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->prefix, "");
  EXPECT_EQ(ParseS3Url("s3://bucket/")->prefix, "");
  EXPECT_FALSE(ParseS3Url("s3:///prefix").ok());
  EXPECT_FALSE(ParseS3Url("file:///x").ok());
  EXPECT_FALSE(ParseS3Url("s3://bu cket/x").ok());
  EXPECT_FALSE(ParseS3Url("s3://b/a//c").ok());
}

TEST(S3Address, Endpoints) {
  auto aws = ParseEndpoint("", "eu-west-1");
  ASSERT_TRUE(aws.ok());
  EXPECT_EQ(aws->scheme, "https");
  EXPECT_EQ(aws->host, "s3.eu-west-1.amazonaws.com");
  EXPECT_TRUE(aws->is_aws);
  auto rgw = ParseEndpoint("http://127.0.0.1:7480", "us-east-1");
  ASSERT_TRUE(rgw.ok());
  EXPECT_EQ(rgw->host, "127.0.0.1:7480");
  EXPECT_FALSE(rgw->is_aws);
  EXPECT_EQ(ParseEndpoint("https://Minio.Example:443/", "x")->host, "minio.example");
  EXPECT_EQ(ParseEndpoint("http://h:80", "x")->host, "h");
  EXPECT_TRUE(ParseEndpoint("https://s3.us-west-2.amazonaws.com", "x")->is_aws);
  EXPECT_FALSE(ParseEndpoint("127.0.0.1:7480", "x").ok());
  EXPECT_FALSE(ParseEndpoint("ftp://h", "x").ok());
  EXPECT_FALSE(ParseEndpoint("http://h/base/path", "x").ok());
}

TEST(S3Address, AddressingDefaultsAndOverride) {
  S3Endpoint aws = *ParseEndpoint("", "us-east-1");
  S3Endpoint rgw = *ParseEndpoint("http://127.0.0.1:7480", "us-east-1");
  EXPECT_EQ(*ChooseAddressing(aws, "bucket", ""), S3Addressing::kVirtualHosted);
  EXPECT_EQ(*ChooseAddressing(aws, "my.bucket", ""), S3Addressing::kPath);
  EXPECT_EQ(*ChooseAddressing(rgw, "bucket", ""), S3Addressing::kPath);
  EXPECT_EQ(*ChooseAddressing(rgw, "bucket", "virtual"), S3Addressing::kVirtualHosted);
  EXPECT_EQ(*ChooseAddressing(aws, "bucket", "path"), S3Addressing::kPath);
  EXPECT_FALSE(ChooseAddressing(aws, "bucket", "sideways").ok());
}

TEST(S3Address, Targets) {
  S3Endpoint aws = *ParseEndpoint("", "us-east-1");
  S3Target v = TargetFor(aws, S3Addressing::kVirtualHosted, "bkt", "p/a b+c");
  EXPECT_EQ(v.host, "bkt.s3.us-east-1.amazonaws.com");
  EXPECT_EQ(v.canonical_uri, "/p/a%20b%2Bc");
  EXPECT_EQ(v.url, "https://bkt.s3.us-east-1.amazonaws.com/p/a%20b%2Bc");
  S3Endpoint rgw = *ParseEndpoint("http://127.0.0.1:7480", "us-east-1");
  S3Target p = TargetFor(rgw, S3Addressing::kPath, "bkt", "p/k");
  EXPECT_EQ(p.host, "127.0.0.1:7480");
  EXPECT_EQ(p.canonical_uri, "/bkt/p/k");
  EXPECT_EQ(p.url, "http://127.0.0.1:7480/bkt/p/k");
  EXPECT_EQ(TargetFor(rgw, S3Addressing::kPath, "bkt", "").canonical_uri, "/bkt");
  EXPECT_EQ(TargetFor(aws, S3Addressing::kVirtualHosted, "bkt", "").canonical_uri, "/");
}

}  // namespace
}  // namespace vol
