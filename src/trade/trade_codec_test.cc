// The journal codec of trade commands: round trips, truncations, and bytes that must not decode.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/coding.h"
#include "trade/trade.h"

namespace surge::trade {
namespace {

std::vector<OrderItem> ManyItems(size_t count) {
  std::vector<OrderItem> items;
  for (size_t i = 0; i < count; ++i) items.push_back({"sku-" + std::to_string(i), 1});
  return items;
}

std::vector<CampaignDelta> ManyDeltas(size_t count) {
  std::vector<CampaignDelta> deltas;
  for (size_t i = 0; i < count; ++i) {
    const auto sign = static_cast<int64_t>(i % 2 == 0 ? 1 : -1);
    deltas.push_back({"c-" + std::to_string(i), sign * kStockMax, -sign * kStockMax});
  }
  return deltas;
}

// One command of every kind, with ordinary values and with the extremes of every range, each
// also with an origin.
std::vector<Command> EveryKind() {
  const std::string longest_id(64, 'z');
  const std::string longest_center(32, 'c');
  const std::string longest_name(kNameLengthMax, '\xff');  // names are bytes, not ids
  std::vector<Command> commands = {
      {0, PutMerchant{"m1", "Acme"}},
      {1, PutMerchant{longest_id, ""}},
      {2, PutProduct{"sku-1", "m1", "Phone", "phones", 99'900}},
      {3, PutProduct{"a", "b", longest_name, longest_name, kPriceCentsMax}},
      {4, PutUser{"u:1_x-y.z", "north"}},
      {5, PutInventory{"sku-1", 0}},
      {6, PutInventory{"sku-1", kStockMax}},
      {7, PutCampaign{"c1", "sku-1", 100, 4'990, 1'000, 2'000, 2, 60'000}},
      {8, PutCampaign{"c2", "sku-2", kStockMax, kPriceCentsMax, 0, kTimeMsMax, kStockMax,
                      kReserveTtlMsMax}},
      {9, PlaceOrder{"req-1", "u1", {{"sku-1", 1}}}},
      {10, PlaceOrder{longest_id, longest_id, ManyItems(kItemsMax)}},
      {11, PlaceOrder{"req-2", "u1", {{"sku-1", kQuantityMax}, {"sku-2", 3}}}},
      {12, PayOrder{"o.c1.1"}},
      {13, CancelOrder{"o.c1.18446744073709551615"}},
      {kTimeMsMax, Tick{}},
      {14, RequestQuota{"c1", "s1", 1}},
      {15, RequestQuota{longest_id, longest_center, kStockMax}},
      {16, ReturnQuota{"c1", "s1", 1}},
      {17, ReturnQuota{longest_id, longest_center, kStockMax}},
      {18, CenterOrders{"s1", {}}},
      {19, CenterOrders{"s1", {{"c1", 2, 0}, {"c2", -1, 1}, {"c3", 0, 0}}}},
      {20, CenterOrders{longest_center, ManyDeltas(5)}},
      {21, PutDemand{"sku-1", {{"m", 0}}}},
      {22, PutDemand{longest_id, {{"m", kStockMax}, {longest_center, 1}, {"s2", 7}}}},
  };
  const size_t without_origin = commands.size();
  for (size_t i = 0; i < without_origin; ++i) {
    Command with_origin = commands[i];
    with_origin.origin = i % 2 == 0 ? Origin{"m", 1, 1} : Origin{longest_center, 3, UINT64_MAX};
    commands.push_back(std::move(with_origin));
  }
  return commands;
}

std::string Encode(const Command& command) {
  std::string bytes;
  EncodeCommand(command, &bytes);
  return bytes;
}

TEST(TradeCodecTest, EveryKindRoundTrips) {
  for (const Command& command : EveryKind()) {
    const std::string bytes = Encode(command);
    const auto decoded = DecodeCommand(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, command);
    EXPECT_EQ(Encode(*decoded), bytes);
  }
}

TEST(TradeCodecTest, TheLargestCenterOrdersRoundTrips) {
  const Command command{1, CenterOrders{"s1", ManyDeltas(kItemsMax * 64)}, Origin{"s1", 2, 7}};
  const auto decoded = DecodeCommand(Encode(command));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, command);
}

TEST(TradeCodecTest, EncodingAppends) {
  std::string bytes = "prefix";
  EncodeCommand(Command{5, Tick{}}, &bytes);
  EXPECT_EQ(bytes.substr(0, 6), "prefix");
  EXPECT_TRUE(DecodeCommand(std::string_view(bytes).substr(6)).ok());
}

TEST(TradeCodecTest, EveryTruncationFailsToDecode) {
  for (const Command& command : EveryKind()) {
    const std::string bytes = Encode(command);
    for (size_t size = 0; size < bytes.size(); ++size) {
      const auto decoded = DecodeCommand(std::string_view(bytes).substr(0, size));
      ASSERT_FALSE(decoded.ok()) << "prefix of " << size << " of " << bytes.size();
      EXPECT_EQ(decoded.status().code(), Code::kCorruption);
    }
  }
}

TEST(TradeCodecTest, TrailingBytesFailToDecode) {
  const std::string bytes = Encode(Command{1, PayOrder{"o.1"}}) + '\0';
  const auto decoded = DecodeCommand(bytes);
  EXPECT_EQ(decoded.status().code(), Code::kCorruption);
  EXPECT_NE(decoded.status().message().find("trailing"), std::string::npos);
}

TEST(TradeCodecTest, UnknownVersionOrKindFailsToDecode) {
  std::string bytes = Encode(Command{1, Tick{}});
  bytes[0] = 3;
  EXPECT_EQ(DecodeCommand(bytes).status().code(), Code::kCorruption);
  bytes = Encode(Command{1, Tick{}});
  bytes[1] = 12;
  EXPECT_EQ(DecodeCommand(bytes).status().code(), Code::kCorruption);
  bytes = Encode(Command{1, Tick{}});
  bytes[0] = 2;  // says an origin follows: it does not
  EXPECT_EQ(DecodeCommand(bytes).status().code(), Code::kCorruption);
}

// Journals written before origins existed hold version 1 records: they read the same, and a
// command without an origin is still written that way.
TEST(TradeCodecTest, CommandsWithoutAnOriginKeepTheirFirstEncoding) {
  const std::string old_pay("\x01\x06\x05\x03o.1", 7);  // version, kind, now_ms, order id
  const Command pay{5, PayOrder{"o.1"}};
  ASSERT_TRUE(DecodeCommand(old_pay).ok());
  EXPECT_EQ(*DecodeCommand(old_pay), pay);
  EXPECT_EQ(Encode(pay), old_pay);
  Command with_origin = pay;
  with_origin.origin = Origin{"m", 2, 300};
  const std::string new_pay("\x02\x06\x05\x01m\x02\xac\x02\x03o.1", 12);
  EXPECT_EQ(Encode(with_origin), new_pay);
}

// A Tick with an origin written field by field.
std::string RawOrigin(std::string_view center, uint8_t kind, uint64_t sequence) {
  std::string bytes;
  Encoder e(&bytes);
  e.U8(2);  // format version: with an origin
  e.U8(static_cast<uint8_t>(Body(Tick{}).index()));
  e.Varint(1);
  e.String(center);
  e.U8(kind);
  e.Varint(sequence);
  return bytes;
}

TEST(TradeCodecTest, MalformedOriginsFailToDecode) {
  ASSERT_TRUE(DecodeCommand(RawOrigin("m", 1, 1)).ok());  // the writer is sound
  for (const std::string& bytes :
       {RawOrigin("", 1, 1), RawOrigin("a b", 1, 1), RawOrigin(std::string(33, 'c'), 1, 1),
        RawOrigin("m", 0, 1), RawOrigin("m", 4, 1), RawOrigin("m", 1, 0)}) {
    EXPECT_EQ(DecodeCommand(bytes).status().code(), Code::kCorruption);
  }
}

// A CenterOrders of `deltas` (campaign, reserved, sold) written field by field.
std::string RawCenterOrders(const std::vector<CampaignDelta>& deltas, uint64_t count) {
  std::string bytes;
  Encoder e(&bytes);
  e.U8(1);
  e.U8(static_cast<uint8_t>(Body(CenterOrders{}).index()));
  e.Varint(1);
  e.String("s1");
  e.Varint(count);
  for (const CampaignDelta& delta : deltas) {
    e.String(delta.campaign);
    e.SignedVarint(delta.reserved);
    e.SignedVarint(delta.sold);
  }
  return bytes;
}

TEST(TradeCodecTest, MalformedCenterOrdersFailToDecode) {
  ASSERT_TRUE(DecodeCommand(RawCenterOrders({{"c1", -1, 1}}, 1)).ok());
  const std::vector<std::string> bad = {
      RawCenterOrders({{"c1", 1, 0}, {"c1", 0, 1}}, 2),                     // a campaign twice
      RawCenterOrders({{"c1", kStockMax + 1, 0}}, 1),                       // beyond the bound
      RawCenterOrders({{"c1", 0, -kStockMax - 1}}, 1),                      // below it
      RawCenterOrders({{"c 1", 0, 0}}, 1),                                  // not an id
      RawCenterOrders(ManyDeltas(kItemsMax * 64 + 1), kItemsMax * 64 + 1),  // too many
      RawCenterOrders({}, UINT32_MAX),  // a count without deltas
  };
  for (const std::string& bytes : bad) {
    EXPECT_EQ(DecodeCommand(bytes).status().code(), Code::kCorruption);
  }
}

struct RawItem {
  std::string sku;
  uint64_t quantity;
};

// A PlaceOrder written field by field, so that it can hold what EncodeCommand refuses to write.
std::string RawPlaceOrder(std::string_view request_id, const std::vector<RawItem>& items,
                          uint64_t now_ms = 1) {
  std::string bytes;
  Encoder e(&bytes);
  e.U8(1);  // format version
  e.U8(static_cast<uint8_t>(Body(PlaceOrder{}).index()));
  e.Varint(now_ms);
  e.String(request_id);
  e.String("u1");
  e.Varint(items.size());
  for (const RawItem& item : items) {
    e.String(item.sku);
    e.Varint(item.quantity);
  }
  return bytes;
}

TEST(TradeCodecTest, OutOfRangeValuesFailToDecode) {
  ASSERT_TRUE(DecodeCommand(RawPlaceOrder("r1", {{"s1", 1}})).ok());  // the writer is sound
  std::vector<RawItem> too_many;
  for (size_t i = 0; i <= kItemsMax; ++i) too_many.push_back({"s" + std::to_string(i), 1});
  const std::vector<std::string> bad = {
      RawPlaceOrder("r1", {{"s1", 0}}),                            // quantity below 1
      RawPlaceOrder("r1", {{"s1", kQuantityMax + 1}}),             // quantity above its bound
      RawPlaceOrder("r1", {{"s1", uint64_t{1} << 63}}),            // beyond int64
      RawPlaceOrder("r1", {}),                                     // no items
      RawPlaceOrder("r1", too_many),                               // too many items
      RawPlaceOrder("r1", {{"s1", 1}, {"s1", 2}}),                 // the same SKU twice
      RawPlaceOrder("r 1", {{"s1", 1}}),                           // not an id
      RawPlaceOrder(std::string(65, 'r'), {{"s1", 1}}),            // id too long
      RawPlaceOrder("r1", {{"s1", 1}}, uint64_t{kTimeMsMax} + 1),  // now_ms beyond its bound
  };
  for (const std::string& bytes : bad) {
    const auto decoded = DecodeCommand(bytes);
    EXPECT_EQ(decoded.status().code(), Code::kCorruption);
  }
}

TEST(TradeCodecTest, EncodeRefusesWhatValidateBodyRefuses) {
  EXPECT_DEATH(Encode(Command{1, PlaceOrder{"r1", "u1", {{"s1", 0}}}}), "quantity");
  EXPECT_DEATH(Encode(Command{-1, Tick{}}), "now_ms");
  EXPECT_DEATH(Encode(Command{1, RequestQuota{"c1", "s1", 0}}), "units");
  EXPECT_DEATH(Encode(Command{1, Tick{}, Origin{"m", 4, 1}}), "origin.kind");
}

TEST(TradeCodecTest, ValidateBodyAcceptsWhatEncodes) {
  for (const Command& command : EveryKind()) EXPECT_TRUE(ValidateBody(command.body).ok());
  EXPECT_EQ(ValidateBody(PlaceOrder{"r1", "u1", {{"s1", 1}, {"s1", 2}}}).code(), Code::kBadField);
}

TEST(TradeFingerprintTest, CoversUserAndItemsInOrderButNotTheRequestId) {
  const PlaceOrder base{"r1", "u1", {{"s1", 1}, {"s2", 2}}};
  const uint64_t fingerprint = PlaceOrderFingerprint(base);
  PlaceOrder same = base;
  same.request_id = "r2";
  EXPECT_EQ(PlaceOrderFingerprint(same), fingerprint);

  std::vector<PlaceOrder> others(5, base);
  others[0].user = "u2";
  others[1].items[0].quantity = 2;
  others[2].items[1].sku = "s3";
  std::swap(others[3].items[0], others[3].items[1]);
  others[4].items.pop_back();
  for (const PlaceOrder& other : others) EXPECT_NE(PlaceOrderFingerprint(other), fingerprint);
  // Lengths are part of the hash: moving a byte between fields changes it.
  EXPECT_NE(PlaceOrderFingerprint(PlaceOrder{"r", "ab", {{"c", 1}}}),
            PlaceOrderFingerprint(PlaceOrder{"r", "a", {{"bc", 1}}}));
}

// Fingerprints are stored in snapshots: the function must not change without a new snapshot
// format version. This pins it.
TEST(TradeFingerprintTest, IsStableAcrossBuilds) {
  EXPECT_EQ(PlaceOrderFingerprint(PlaceOrder{"r1", "user-1", {{"sku-1", 1}, {"sku-22", 3}}}),
            0xf6db36000d508a4aULL);
}

}  // namespace
}  // namespace surge::trade
