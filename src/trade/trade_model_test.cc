// The trade state machine against the reference model of trade_model_testing.h: 54k random
// commands over 20 seeds, every reply compared, invariants checked after every command. (Both the
// model and the invariant scan cost time in proportion to the state, so many short runs are
// cheaper than a few long ones; trade_model_slow_test.cc makes the long ones.)
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>

#include "trade/trade_model_testing.h"
#include "trade/trade_state.h"

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

// Many campaign ids, so that users come to hold units of more campaigns than their record keeps
// inline (trade_state.h's kHoldingsInline) and the rest spill to the shared table.
TEST(TradeModelTest, AgreesWithTheReferenceModelWhenUsersHoldManyCampaigns) {
  size_t most_campaigns_held = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const ModelCheckResult result =
        RunModelCheck({.seed = 100 + seed, .commands = 6'000, .campaigns = 40});
    ASSERT_EQ(result.failure, "");
    most_campaigns_held = std::max(most_campaigns_held, result.most_campaigns_held);
  }
  EXPECT_GT(most_campaigns_held, internal::kHoldingsInline + 2);
  std::printf("most campaigns held by a user: %zu\n", most_campaigns_held);
}

// A third of the commands come with an origin: some new, some repeated (which must change
// nothing, not even the time), some malformed.
TEST(TradeModelTest, AgreesWithTheReferenceModelWhenCommandsHaveOrigins) {
  size_t replayed = 0;
  size_t bad_field = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const ModelCheckResult result =
        RunModelCheck({.seed = 200 + seed, .commands = 2'500, .origin_percent = 35});
    ASSERT_EQ(result.failure, "");
    replayed += result.replayed;
    bad_field += result.replies_by_code.at(Code::kBadField);
  }
  EXPECT_GT(replayed, 1'000u);
  EXPECT_GT(bad_field, 100u);
}

}  // namespace
}  // namespace surge::trade::testing

namespace surge::trade::testing {
namespace {

// ApplyBatch must be Apply, only faster: same replies (messages included), same state, whatever
// the batch boundaries.
TEST(TradeBatchTest, ApplyBatchAgreesWithApply) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Generator generator(seed, "o.t.");
    std::vector<Command> commands = generator.Setup();
    for (int i = 0; i < 3'000; ++i) commands.push_back(generator.Next());

    const auto one_by_one = Trade::Create(Options{"o.t."});
    const auto batched = Trade::Create(Options{"o.t."});
    std::vector<Reply> expected;
    for (const Command& command : commands) expected.push_back(one_by_one->Apply(command));

    std::mt19937_64 random(seed);
    size_t begin = 0;
    while (begin < commands.size()) {
      const size_t size = std::min<size_t>(commands.size() - begin, 1 + random() % 300);
      size_t next = 0;
      batched->ApplyBatch(std::span(commands).subspan(begin, size),
                          [&](size_t index, Reply&& reply) {
                            ASSERT_EQ(index, next++);
                            const Reply& want = expected[begin + index];
                            ASSERT_EQ(reply.status.ToString(), want.status.ToString())
                                << Describe(commands[begin + index]);
                            ASSERT_EQ(reply.value, want.value);
                            ASSERT_EQ(reply.replayed, want.replayed);
                          });
      ASSERT_EQ(next, size);
      begin += size;
    }
    EXPECT_EQ(batched->StateHash(), one_by_one->StateHash());
    EXPECT_TRUE(batched->CheckInvariants().ok());
  }
}

}  // namespace
}  // namespace surge::trade::testing
