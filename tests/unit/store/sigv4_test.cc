// SigV4 against AWS's published examples: the S3 "GET Object" example of
// "Signature Calculations for the Authorization Header" (sig-v4-header-based-auth),
// its PUT Object and list examples, and the general SigV4 test suite's
// get-vanilla-query-order-key-case.
#include "fetcher/store/sigv4.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

constexpr char kDate[] = "20130524T000000Z";
const SigV4Credentials kS3Creds{"AKIAIOSFODNN7EXAMPLE",
                                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};

TEST(SigV4, Sha256OfEmptyPayload) { EXPECT_EQ(Sha256Hex(""), kEmptyPayloadSha256); }

TEST(SigV4, AmzDate) { EXPECT_EQ(AmzDate(1369353600), kDate); }

TEST(SigV4, UriEncode) {
  EXPECT_EQ(UriEncode("a b/c$d~e_f.g-h", true), "a%20b/c%24d~e_f.g-h");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
}

TEST(SigV4, S3GetObjectExample) {
  SigV4Request req;
  req.method = "GET";
  req.canonical_uri = "/test.txt";
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Range", "bytes=0-9"},
                 {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                 {"x-amz-date", kDate}};
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  EXPECT_EQ(CanonicalRequest(req),
            "GET\n/test.txt\n\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(StringToSign(req, kDate, "us-east-1", "s3"),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(AuthorizationHeader(req, kS3Creds, kDate, "us-east-1", "s3"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectExample) {
  const std::string body = "Welcome to Amazon S3.";
  SigV4Request req;
  req.method = "PUT";
  req.canonical_uri = "/" + UriEncode("test$file.text", true);
  req.payload_sha256 = Sha256Hex(body);
  EXPECT_EQ(req.payload_sha256,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"x-amz-date", kDate},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"x-amz-content-sha256", req.payload_sha256}};
  EXPECT_EQ(SignedHeaders(req), "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(Signature(req, kS3Creds, kDate, "us-east-1", "s3"),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3ListObjectsExample) {
  SigV4Request req;
  req.method = "GET";
  req.canonical_uri = "/";
  req.query = {{"prefix", "J"}, {"max-keys", "2"}};
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-date", kDate},
                 {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)}};
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  EXPECT_EQ(CanonicalQueryString(req.query), "max-keys=2&prefix=J");
  EXPECT_EQ(Signature(req, kS3Creds, kDate, "us-east-1", "s3"),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, TestSuiteQueryOrderKeyCase) {
  SigV4Request req;
  req.method = "GET";
  req.canonical_uri = "/";
  req.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  req.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  SigV4Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  EXPECT_EQ(AuthorizationHeader(req, creds, "20150830T123600Z", "us-east-1", "service"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
            "SignedHeaders=host;x-amz-date,"
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, HeaderValuesAreTrimmedAndCollapsed) {
  SigV4Request req;
  req.method = "GET";
  req.canonical_uri = "/";
  req.headers = {{"My-Header", "  a   b  c "}, {"host", "h"}};
  req.payload_sha256 = "UNSIGNED-PAYLOAD";
  EXPECT_EQ(CanonicalRequest(req), "GET\n/\n\nhost:h\nmy-header:a b c\n\nhost;my-header\nUNSIGNED-PAYLOAD");
}

}  // namespace
}  // namespace vol
