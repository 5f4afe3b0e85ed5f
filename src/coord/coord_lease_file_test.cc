// The lease file's format (lease_file.h): canonical round trips, and every kind of damage named
// with its line. Also the base64 that etcd's gateway speaks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "common/coding.h"
#include "coord/base64.h"
#include "coord/lease_file.h"

namespace surge::coord::internal {
namespace {

using ::testing::HasSubstr;

LeaseTable Sample() {
  LeaseTable table;
  table.boot_id = "6f0c1d2e-8b7a-4c55-9d1e-0123456789ab";
  table.entries.push_back({"c1", 7, 123456789000, "c1-a", "127.0.0.1:9001"});
  table.entries.push_back({"c2", 3, 0, "c2-b", "[::1]:9002"});
  table.entries.push_back({"master", 18446744073709551615u, INT64_MAX, "m!~", "x"});
  return table;
}

// A body with a valid checksum line appended, so the damage under test is what is found.
std::string Sealed(const std::string& body) {
  char checksum[32];
  std::snprintf(checksum, sizeof(checksum), "crc32c %08x\n", Crc32c(body));
  return body + checksum;
}

TEST(LeaseFileTest, RoundTripsCanonically) {
  const LeaseTable table = Sample();
  const std::string text = EncodeLeaseTable(table);
  EXPECT_THAT(text,
              ::testing::StartsWith("surge-leases 1\nboot 6f0c1d2e-8b7a-4c55-9d1e-0123456789ab\n"
                                    "lease c1 7 123456789000 c1-a 127.0.0.1:9001\n"
                                    "lease c2 3 0 c2-b [::1]:9002\n"));
  Result<LeaseTable> decoded = DecodeLeaseTable(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, table);
  EXPECT_EQ(EncodeLeaseTable(*decoded), text);

  LeaseTable empty;
  empty.boot_id = "0";
  Result<LeaseTable> decoded_empty = DecodeLeaseTable(EncodeLeaseTable(empty));
  ASSERT_TRUE(decoded_empty.ok()) << decoded_empty.status().ToString();
  EXPECT_EQ(*decoded_empty, empty);
}

TEST(LeaseFileTest, FindOrInsertKeepsNamesInOrder) {
  LeaseTable table = Sample();
  EXPECT_EQ(table.Find("c2")->epoch, 3u);
  EXPECT_EQ(table.Find("c3"), nullptr);
  for (const char* name : {"c3", "a"}) {
    LeaseEntry& inserted = table.FindOrInsert(name);
    EXPECT_EQ(inserted.epoch, 0u);  // new: the caller gives it its first epoch
    inserted = {name, 1, 0, "o", "a"};
  }
  EXPECT_EQ(table.FindOrInsert("c1").epoch, 7u);
  ASSERT_EQ(table.entries.size(), 5u);
  EXPECT_EQ(table.entries[0].name, "a");
  EXPECT_EQ(table.entries[3].name, "c3");
  EXPECT_TRUE(IsValidTable(table));
}

TEST(LeaseFileTest, EveryDamageIsNamed) {
  const std::string header = "surge-leases 1\nboot abc\n";
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"surge-leases 2\nboot abc\n", "line 1: expected \"surge-leases 1\""},
      {"surge-leases 1\n", "line 2: the file ends before its boot line"},
      {"surge-leases 1\nboot ABC\n", "line 2: expected \"boot <boot id>\""},
      {"surge-leases 1\nboot  abc\n", "line 2: empty field"},
      {header + "lease c1 1 0 o\n", "line 3: expected \"lease <name>"},
      {header + "lease c1 1 0 o a extra\n", "line 3: expected \"lease <name>"},
      {header + "lease c1 0 0 o a\n", "line 3: epoch \"0\""},
      {header + "lease c1 01 0 o a\n", "line 3: epoch \"01\""},
      {header + "lease c1 +1 0 o a\n", "line 3: epoch \"+1\""},
      {header + "lease c1 18446744073709551616 0 o a\n", "line 3: epoch"},
      {header + "lease c1 1 9223372036854775808 o a\n", "line 3: expiry"},
      {header + "lease c1 1 -5 o a\n", "line 3: expiry"},
      {header + "lease c/1 1 0 o a\n", "line 3: bad lease name"},
      {header + "lease c1 1 0 o\x7f a\n", "line 3: bad owner \"o\\x7f\""},
      {header + "lease c1 1 0 o a\r\n", "line 3: bad address \"a\\x0d\""},
      {header + "lease c1 1 0 o a \n", "line 3: empty field"},
      {header + "lease c2 1 0 o a\nlease c1 1 0 o a\n", "line 4: lease \"c1\" is out of order"},
      {header + "lease c1 1 0 o a\nlease c1 2 0 o a\n", "line 4: lease \"c1\" is out of order"},
      {header + "leased c1 1 0 o a\n", "line 3: expected a lease line"},
      {header + "\n", "line 3: empty field"},
  };
  for (const auto& [body, expected] : bodies) {
    Result<LeaseTable> decoded = DecodeLeaseTable(Sealed(body));
    EXPECT_EQ(decoded.status().code(), Code::kCorruption) << body;
    EXPECT_THAT(decoded.status().message(), HasSubstr(expected)) << body;
  }
  std::string many = header;
  for (size_t i = 0; i <= kEntriesMax; ++i) {
    char line[64];
    std::snprintf(line, sizeof(line), "lease n%05zu 1 0 o a\n", i);
    many += line;
  }
  EXPECT_THAT(DecodeLeaseTable(Sealed(many)).status().message(),
              HasSubstr("more than 1024 leases"));
}

TEST(LeaseFileTest, TheChecksumLineIsChecked) {
  const std::string text = EncodeLeaseTable(Sample());
  const size_t at = text.find("crc32c ") + 7;
  std::string wrong = text;
  wrong[at] = wrong[at] == '0' ? '1' : '0';
  EXPECT_THAT(DecodeLeaseTable(wrong).status().message(), HasSubstr("checksum mismatch"));
  std::string upper = text;
  for (size_t i = at; i < at + 8; ++i) upper[i] = static_cast<char>(toupper(upper[i]));
  if (upper != text) {
    EXPECT_THAT(DecodeLeaseTable(upper).status().message(), HasSubstr("is not \"crc32c"));
  }
  EXPECT_THAT(DecodeLeaseTable(text.substr(0, text.size() - 1)).status().message(),
              HasSubstr("no newline"));
  EXPECT_THAT(DecodeLeaseTable(text + "x\n").status().message(), HasSubstr("is not \"crc32c"));
  EXPECT_THAT(DecodeLeaseTable("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(DecodeLeaseTable(std::string(kFileBytesMax + 1, '\n')).status().message(),
              HasSubstr("more than"));
  // A flipped bit anywhere is caught.
  for (size_t i = 0; i < text.size(); ++i) {
    std::string flipped = text;
    flipped[i] ^= 0x01;
    EXPECT_EQ(DecodeLeaseTable(flipped).status().code(), Code::kCorruption) << "byte " << i;
  }
}

TEST(Base64Test, EncodesAndDecodesTheRfcVectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
      {std::string("\xff\xfe\x00", 3), "//4A"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), plain) << encoded;
  }
  for (const char* bad :
       {"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm8=Zm8=", "Zm-v", "Zm9v\n", "=Zm9"}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace surge::coord::internal
