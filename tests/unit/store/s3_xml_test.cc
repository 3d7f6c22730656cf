#include "fetcher/store/s3_xml.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

TEST(S3Xml, Unescape) {
  EXPECT_EQ(XmlUnescape("a&amp;b&lt;c&gt;d&quot;e&apos;f"), "a&b<c>d\"e'f");
  EXPECT_EQ(XmlUnescape("&#65;&#x42;&#xe9;"), "AB\xc3\xa9");
  EXPECT_EQ(XmlUnescape("no entity & here"), "no entity & here");
}

TEST(S3Xml, ErrorCode) {
  std::string body =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket "
      "does not exist</Message><BucketName>b</BucketName></Error>";
  EXPECT_EQ(XmlFirst(body, "Code"), "NoSuchBucket");
  EXPECT_EQ(XmlFirst(body, "Message"), "The specified bucket does not exist");
  EXPECT_EQ(XmlFirst(body, "Region"), "");
  EXPECT_EQ(XmlFirst("", "Code"), "");
}

TEST(S3Xml, ListPage) {
  std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix>"
      "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok&amp;en</NextContinuationToken>"
      "<Contents><Key>p/a&amp;b</Key><Size>1</Size><Owner><ID>x</ID></Owner></Contents>"
      "<Contents><Key>p/c</Key><LastModified>2009-10-12T17:50:30.500Z</LastModified><Size>2</Size>"
      "</Contents></ListBucketResult>";
  auto page = ParseListObjectsV2(body);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->keys, (std::vector<std::string>{"p/a&b", "p/c"}));
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "tok&en");
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/a&b");
  EXPECT_EQ(page->objects[0].size, 1u);
  EXPECT_EQ(page->objects[0].mtime_ns, 0) << "no LastModified";
  EXPECT_EQ(page->objects[1].size, 2u);
  EXPECT_EQ(page->objects[1].mtime_ns, int64_t{1255369830500} * 1000000);
  auto last = ParseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->keys.empty());
  EXPECT_FALSE(last->truncated);
  EXPECT_FALSE(ParseListObjectsV2("<html>proxy error</html>").ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>").ok());
}

}  // namespace
}  // namespace vol
