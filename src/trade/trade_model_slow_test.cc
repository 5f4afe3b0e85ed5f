// The long run of the model check: 1M random commands over 100 seeds (label slow).
#include <gtest/gtest.h>

#include "trade/trade_model_testing.h"

namespace surge::trade::testing {
namespace {

class TradeModelSlowTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TradeModelSlowTest, AgreesWithTheReferenceModel) {
  const ModelCheckResult result =
      RunModelCheck({.seed = 1'000 + GetParam(), .commands = 10'000, .full_check_every = 1'000});
  EXPECT_EQ(result.failure, "");
  EXPECT_GT(result.replies_by_code.count(Code::kOk), 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TradeModelSlowTest, ::testing::Range<uint64_t>(0, 100));

}  // namespace
}  // namespace surge::trade::testing
