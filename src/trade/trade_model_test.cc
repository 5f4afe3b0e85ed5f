// The trade state machine against the reference model of trade_model_testing.h: 54k random
// commands over 20 seeds, every reply compared, invariants checked after every command. (Both the
// model and the invariant scan cost time in proportion to the state, so many short runs are
// cheaper than a few long ones; trade_model_slow_test.cc makes the long ones.)
#include <gtest/gtest.h>

#include "trade/trade_model_testing.h"

namespace surge::trade::testing {
namespace {

TEST(TradeModelTest, AgreesWithTheReferenceModel) {
  std::map<Code, size_t> replies_by_code;
  std::map<OrderStatus, size_t> orders_by_status;
  size_t replayed = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const ModelCheckResult result = RunModelCheck({.seed = seed, .commands = 2'700});
    ASSERT_EQ(result.failure, "");
    for (const auto& [code, count] : result.replies_by_code) replies_by_code[code] += count;
    for (const auto& [status, count] : result.orders_by_status) orders_by_status[status] += count;
    replayed += result.replayed;
  }
  // The generator must actually reach every rule, or agreeing proves little.
  for (const Code code :
       {Code::kOk, Code::kBadField, Code::kNotFound, Code::kSoldOut, Code::kLimitExceeded,
        Code::kWrongState, Code::kRequestIdReused, Code::kCampaignNotActive}) {
    EXPECT_GT(replies_by_code[code], 20u) << CodeName(code);
  }
  EXPECT_GT(replayed, 20u);
  for (const OrderStatus status : {OrderStatus::kReserved, OrderStatus::kPaid,
                                   OrderStatus::kCancelled, OrderStatus::kExpired}) {
    EXPECT_GT(orders_by_status[status], 20u) << OrderStatusName(status);
  }
  for (const auto& [code, count] : replies_by_code) {
    std::printf("%-20s %zu\n", std::string(CodeName(code)).c_str(), count);
  }
  for (const auto& [status, count] : orders_by_status) {
    std::printf("orders %-13s %zu\n", std::string(OrderStatusName(status)).c_str(), count);
  }
  std::printf("replayed             %zu\n", replayed);
}

}  // namespace
}  // namespace surge::trade::testing
