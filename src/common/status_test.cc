#include "common/status.h"

#include <gtest/gtest.h>

#include "common/coding.h"
#include "common/ids.h"

namespace surge {
namespace {

Result<int> Half(int value) {
  if (value % 2 != 0) return Status(Code::kBadField, "value must be even");
  return value / 2;
}

Status UseHalf(int value, int* out) {
  SURGE_ASSIGN_OR_RETURN(const int half, Half(value));
  *out = half;
  return Status::Ok();
}

TEST(StatusTest, CodesRoundTripThroughTheirWireNames) {
  for (int raw = 0; raw <= static_cast<int>(Code::kInternal); ++raw) {
    const auto code = static_cast<Code>(raw);
    Code parsed = Code::kInternal;
    ASSERT_TRUE(CodeFromName(CodeName(code), &parsed)) << CodeName(code);
    EXPECT_EQ(parsed, code);
  }
  EXPECT_EQ(CodeHttpStatus(Code::kSoldOut), 409);
  EXPECT_EQ(CodeHttpStatus(Code::kWrongCenter), 421);
  EXPECT_EQ(CodeHttpStatus(Code::kOverloaded), 503);
  Code unused;
  EXPECT_FALSE(CodeFromName("no_such_code", &unused));
}

TEST(StatusTest, ResultCarriesValueOrStatus) {
  int out = 0;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  const Status failed = UseHalf(3, &out);
  EXPECT_EQ(failed.code(), Code::kBadField);
  EXPECT_EQ(failed.ToString(), "bad_field: value must be even");
  EXPECT_EQ(failed.Annotate("halving").message(), "halving: value must be even");
}

TEST(CodingTest, RoundTripsAndRejectsTruncation) {
  std::string bytes;
  Encoder encoder(&bytes);
  encoder.U8(7);
  encoder.Fixed32(0xdeadbeef);
  encoder.Fixed64(1ULL << 60);
  encoder.Varint(300);
  encoder.SignedVarint(-5);
  encoder.SignedVarint(INT64_MIN);
  encoder.String("hello");

  Decoder decoder(bytes);
  uint8_t u8 = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0, varint = 0;
  int64_t negative = 0, minimum = 0;
  std::string text;
  ASSERT_TRUE(decoder.U8(&u8) && decoder.Fixed32(&u32) && decoder.Fixed64(&u64) &&
              decoder.Varint(&varint) && decoder.SignedVarint(&negative) &&
              decoder.SignedVarint(&minimum) && decoder.String(&text));
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(u8, 7);
  EXPECT_EQ(u32, 0xdeadbeef);
  EXPECT_EQ(u64, 1ULL << 60);
  EXPECT_EQ(varint, 300u);
  EXPECT_EQ(negative, -5);
  EXPECT_EQ(minimum, INT64_MIN);
  EXPECT_EQ(text, "hello");

  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    Decoder truncated(std::string_view(bytes).substr(0, cut));
    const bool all = truncated.U8(&u8) && truncated.Fixed32(&u32) && truncated.Fixed64(&u64) &&
                     truncated.Varint(&varint) && truncated.SignedVarint(&negative) &&
                     truncated.SignedVarint(&minimum) && truncated.String(&text);
    EXPECT_FALSE(all) << "cut at " << cut;
  }
}

TEST(CodingTest, Crc32cMatchesKnownVectors) {
  // RFC 3720 appendix B.4 test vectors.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62a8ab43u);
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  // Chaining equals one pass.
  EXPECT_EQ(Crc32c("6789", Crc32c("12345")), Crc32c("123456789"));
}

TEST(IdsTest, AcceptsOnlyTheApiAlphabet) {
  EXPECT_TRUE(IsValidId("sku-1.a:B_9"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("has space"));
  EXPECT_FALSE(IsValidId("slash/no"));
  EXPECT_TRUE(IsValidId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidId(std::string(65, 'a')));
}

}  // namespace
}  // namespace surge
