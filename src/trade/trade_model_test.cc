// The trade state machine against the reference model of trade_model_testing.h: 54k random
// commands over six seeds, every reply compared, invariants checked after every command.
#include <gtest/gtest.h>

#include "trade/trade_model_testing.h"

namespace surge::trade::testing {
namespace {

class TradeModelTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TradeModelTest, AgreesWithTheReferenceModel) {
  const ModelCheckResult result = RunModelCheck({.seed = GetParam(), .commands = 9'000});
  EXPECT_EQ(result.failure, "");

  // The generator must actually reach every rule, or agreeing proves little.
  for (const Code code :
       {Code::kOk, Code::kBadField, Code::kNotFound, Code::kSoldOut, Code::kLimitExceeded,
        Code::kWrongState, Code::kRequestIdReused, Code::kCampaignNotActive}) {
    EXPECT_GT(result.replies_by_code.count(code), 0u) << CodeName(code);
  }
  EXPECT_GT(result.replayed, 0u);
  for (const OrderStatus status : {OrderStatus::kReserved, OrderStatus::kPaid,
                                   OrderStatus::kCancelled, OrderStatus::kExpired}) {
    EXPECT_GT(result.orders_by_status.count(status), 0u) << OrderStatusName(status);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, TradeModelTest, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace surge::trade::testing
