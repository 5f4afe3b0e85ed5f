// Brain::Audience (who is likely to buy an item next) and Brain::ForecastByCenter, on hand-built
// logs whose answers follow from the construction.
#include <set>

#include "brain/brain.h"
#include "gtest/gtest.h"

namespace surge::brain {
namespace {

constexpr int64_t kDay = 86'400'000;

// Shoppers buying runs along two chains, shoes s1 -> s2 -> ... -> s8 -> s1 and books b1 -> ...
// -> b8 -> b1, so that the transitions know that s1 leads to s2.
class AudienceTest : public ::testing::Test {
 protected:
  AudienceTest() {
    BrainOptions options;
    options.ranker_min_users = 50;
    brain_ = std::make_unique<Brain>(options);
    for (int i = 1; i <= 8; ++i) {
      EXPECT_TRUE(brain_->PutItem("s" + std::to_string(i), {"shoes", 5000}).ok());
      EXPECT_TRUE(brain_->PutItem("b" + std::to_string(i), {"books", 1500}).ok());
    }
    for (int u = 0; u < 300; ++u) {
      const std::string prefix = u % 3 == 0 ? "b" : "s";
      const int first = (u / 3) % 8, length = 2 + (u / 24) % 3;
      for (int p = 0; p < length; ++p) {
        Do("u" + std::to_string(u), prefix + std::to_string(1 + (first + p) % 8),
           EventKind::kPurchase, u * 1000 + p);
      }
    }
  }
  void Do(const std::string& user, const std::string& item, EventKind kind, int64_t time_ms) {
    ASSERT_TRUE(brain_->Observe({user, item, kind, time_ms, 1}).ok());
  }
  std::vector<AudienceMember> For(const std::string& item, size_t count = 10000) {
    auto audience = brain_->Audience(item, count, 400'000);
    EXPECT_TRUE(audience.ok()) << audience.status().ToString();
    return audience.ok() ? *audience : std::vector<AudienceMember>{};
  }
  static size_t Place(const std::vector<AudienceMember>& audience, const std::string& user) {
    for (size_t i = 0; i < audience.size(); ++i) {
      if (audience[i].user == user) return i;
    }
    return audience.size();
  }
  std::unique_ptr<Brain> brain_;
};

TEST_F(AudienceTest, WhoBoughtThePredecessorRanksAboveWhoDidNot) {
  ASSERT_TRUE(brain_->Train().ok());
  Do("alice", "s1", EventKind::kPurchase, 350'000);  // s1 is followed by s2
  Do("bob", "s5", EventKind::kPurchase, 350'000);    // s5 is four steps before s2
  Do("carol", "b1", EventKind::kPurchase, 350'000);  // another category altogether
  const auto audience = For("s2");
  ASSERT_FALSE(audience.empty());
  const size_t alice = Place(audience, "alice");
  ASSERT_LT(alice, audience.size());
  EXPECT_LT(alice, Place(audience, "bob"));
  EXPECT_LT(alice, Place(audience, "carol"));
  EXPECT_EQ(audience[alice].reason, "bought s1, often followed by this");
  for (size_t i = 1; i < audience.size(); ++i) {
    EXPECT_LE(audience[i].score, audience[i - 1].score);
  }
}

TEST_F(AudienceTest, NeverAUserWhoAlreadyBoughtTheItem) {
  ASSERT_TRUE(brain_->Train().ok());
  Do("dave", "s1", EventKind::kPurchase, 350'000);
  Do("dave", "s2", EventKind::kPurchase, 350'001);  // a buyer of s2, though s1 leads to it
  std::set<std::string> buyers = {"dave"};
  for (int u = 0; u < 300; ++u) {
    if (u % 3 == 0) continue;  // book buyers
    const int first = (u / 3) % 8, length = 2 + (u / 24) % 3;
    for (int p = 0; p < length; ++p) {
      if ((first + p) % 8 == 1) buyers.insert("u" + std::to_string(u));
    }
  }
  const auto audience = For("s2");
  ASSERT_FALSE(audience.empty());
  for (const AudienceMember& member : audience) {
    EXPECT_EQ(buyers.count(member.user), 0u) << member.user;
  }
  EXPECT_EQ(Place(audience, "dave"), audience.size());
}

TEST_F(AudienceTest, CartsBeatViewsAndTheCategoryBringsItsFansBeforeAnyTraining) {
  Do("erin", "s3", EventKind::kCart, 390'000);
  Do("frank", "s3", EventKind::kView, 390'000);
  const auto audience = For("s3", 3);
  ASSERT_EQ(audience.size(), 3u);
  EXPECT_EQ(audience[0].user, "erin");
  EXPECT_EQ(audience[0].reason, "put this in the cart");
  EXPECT_EQ(audience[1].user, "frank");
  EXPECT_EQ(audience[1].reason, "viewed this");
  EXPECT_EQ(audience[2].reason, "likes shoes");  // a shoe buyer who has not bought s3
  // A shoe the models never saw is still found by its category.
  ASSERT_TRUE(brain_->PutItem("s9", {"shoes", 9000}).ok());
  const auto fans = For("s9", 5);
  ASSERT_EQ(fans.size(), 5u);
  for (const AudienceMember& member : fans) EXPECT_EQ(member.reason, "likes shoes");
}

TEST_F(AudienceTest, TheAnswerIsBoundedWhateverTheNumberOfUsers) {
  for (int u = 0; u < 5000; ++u) Do("v" + std::to_string(u), "b4", EventKind::kView, 300'000 + u);
  const auto audience = For("b4");
  ASSERT_FALSE(audience.empty());
  EXPECT_LT(audience.size(), 1000u);
  EXPECT_EQ(audience[0].user, "v4999");  // the most recent view decays least
}

TEST_F(AudienceTest, ArgumentsAreChecked) {
  EXPECT_EQ(brain_->Audience("nobody-knows", 5, 0).status().code(), Code::kNotFound);
  EXPECT_EQ(brain_->Audience("bad id", 5, 0).status().code(), Code::kBadField);
  EXPECT_EQ(brain_->Audience("", 5, 0).status().code(), Code::kBadField);
  EXPECT_EQ(brain_->Audience("s1", 0, 0).status().code(), Code::kBadField);
  EXPECT_EQ(brain_->Audience("s1", 10001, 0).status().code(), Code::kBadField);
  EXPECT_TRUE(brain_->Audience("s1", 10000, 0).ok());
}

TEST(CenterForecasts, EachCentersOwnDemand) {
  Brain brain;
  ASSERT_TRUE(brain.PutItem("hot", {"toys", 1000}).ok());
  ASSERT_TRUE(brain.PutItem("new", {"toys", 1000}).ok());
  for (int day = 0; day < 70; ++day) {
    const int64_t time = day * kDay + 1000;
    ASSERT_TRUE(brain.Observe({"u", "hot", EventKind::kPurchase, time, 6, "east"}).ok());
    ASSERT_TRUE(brain.Observe({"v", "hot", EventKind::kPurchase, time, 2, "west"}).ok());
    ASSERT_TRUE(brain.Observe({"w", "hot", EventKind::kPurchase, time, 1}).ok());  // no center
  }
  auto centers = brain.ForecastByCenter("hot", 70, 7);
  ASSERT_TRUE(centers.ok()) << centers.status().ToString();
  ASSERT_EQ(centers->size(), 2u);
  EXPECT_EQ((*centers)[0].center, "east");
  EXPECT_EQ((*centers)[1].center, "west");
  for (const CenterForecast& center : *centers) {
    ASSERT_EQ(center.days.size(), 7u);
    const double daily = center.center == "east" ? 6 : 2;
    for (const DayForecast& day : center.days) EXPECT_NEAR(day.units, daily, 1e-6);
    EXPECT_EQ(center.days.front().day, 70);
    EXPECT_NEAR(center.total_units, 7 * daily, 1e-6);
  }
  // An item nobody bought yet: its category's centers, shared over the category's two items.
  auto prior = brain.ForecastByCenter("new", 70, 1);
  ASSERT_TRUE(prior.ok());
  ASSERT_EQ(prior->size(), 2u);
  EXPECT_NEAR((*prior)[0].total_units, 3, 1e-6);
  auto unknown = brain.ForecastByCenter("nobody-knows", 70, 1);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
  EXPECT_EQ(brain.ForecastByCenter("hot", 70, 367).status().code(), Code::kBadField);
  EXPECT_EQ(brain.ForecastByCenter("bad id", 70, 1).status().code(), Code::kBadField);
  EXPECT_EQ(brain.Observe({"u", "hot", EventKind::kPurchase, 0, 1, std::string(33, 'c')}).code(),
            Code::kBadField);
  EXPECT_EQ(brain.Observe({"u", "hot", EventKind::kPurchase, 0, 1, "no space"}).code(),
            Code::kBadField);
  EXPECT_TRUE(brain.Observe({"u", "hot", EventKind::kPurchase, 0, 1, std::string(32, 'c')}).ok());
}

}  // namespace
}  // namespace surge::brain
