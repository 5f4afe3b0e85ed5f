// The online brain: profiles and their decay, online updates that change recommendations at
// once, cold start, forecasts, and the argument checks.
#include <set>
#include <thread>

#include "brain/brain.h"
#include "brain/profiles.h"
#include "gtest/gtest.h"

namespace surge::brain {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr double kHalfLife = 7.0 * kDay;

TEST(Profiles, DecayedCounterHalvesEveryHalfLife) {
  internal::DecayedCounter counter;
  counter.Add(8, 0, kHalfLife);
  EXPECT_DOUBLE_EQ(counter.At(0, kHalfLife), 8);
  EXPECT_DOUBLE_EQ(counter.At(7 * kDay, kHalfLife), 4);
  EXPECT_DOUBLE_EQ(counter.At(14 * kDay, kHalfLife), 2);
  counter.Add(1, 7 * kDay, kHalfLife);  // 4 + 1
  EXPECT_DOUBLE_EQ(counter.At(7 * kDay, kHalfLife), 5);
  counter.Add(2, 0, kHalfLife);  // late: decayed to the counter's time, 2 -> 1
  EXPECT_DOUBLE_EQ(counter.At(7 * kDay, kHalfLife), 6);
}

TEST(Profiles, KeysOrderCountersAtAnyTime) {
  internal::DecayedCounter old_big, new_small;
  old_big.Add(8, 0, kHalfLife);
  new_small.Add(3, 14 * kDay, kHalfLife);  // old_big is worth 2 by then
  EXPECT_LT(old_big.Key(kHalfLife), new_small.Key(kHalfLife));
  EXPECT_LT(old_big.At(30 * kDay, kHalfLife), new_small.At(30 * kDay, kHalfLife));
  internal::Trending trending;
  trending.Update(1, old_big.Key(kHalfLife));
  trending.Update(2, new_small.Key(kHalfLife));
  trending.Update(3, new_small.Key(kHalfLife));  // a tie: lower item first
  EXPECT_EQ(trending.Top(3, [](uint32_t) { return false; }), (std::vector<uint32_t>{2, 3, 1}));
  trending.Update(1, new_small.Key(kHalfLife) + 1);
  EXPECT_EQ(trending.Top(2, [](uint32_t item) { return item == 2; }),
            (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(trending.size(), 3u);
}

// Two kinds of shoppers, each buying a run of 2 to 4 items along a chain: shoes s1 -> s2 -> ...
// -> s8 -> s1, books b1 -> ... -> b8 -> b1 (shoes sell twice as much).
class OnlineTest : public ::testing::Test {
 protected:
  OnlineTest() {
    BrainOptions options;
    options.ranker_min_users = 50;
    brain_ = std::make_unique<Brain>(options);
    for (int i = 1; i <= 8; ++i) {
      EXPECT_TRUE(brain_->PutItem("s" + std::to_string(i), {"shoes", 5000 + 100 * i}).ok());
      EXPECT_TRUE(brain_->PutItem("b" + std::to_string(i), {"books", 1500}).ok());
    }
    for (int u = 0; u < 300; ++u) {
      const std::string prefix = u % 3 == 0 ? "b" : "s";
      // Runs start anywhere on a circular chain (after 8 comes 1), so that every item is
      // about as popular as the others and only the order of purchases tells what comes next.
      const int first = (u / 3) % 8, length = 2 + (u / 24) % 3;
      for (int p = 0; p < length; ++p) {
        Buy("u" + std::to_string(u), prefix + std::to_string(1 + (first + p) % 8), u * 1000 + p);
      }
    }
  }
  void Buy(const std::string& user, const std::string& item, int64_t time_ms) {
    ASSERT_TRUE(brain_->Observe({user, item, EventKind::kPurchase, time_ms, 1}).ok());
  }
  std::vector<Recommendation> For(const std::string& user, size_t count = 3) {
    auto list = brain_->Recommend(user, count, 400'000);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<Recommendation>{};
  }
  std::unique_ptr<Brain> brain_;
};

TEST_F(OnlineTest, TrainsAndRecommendsTheNextItemWithAReason) {
  auto report = brain_->Train();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->users, 300u);
  EXPECT_EQ(report->items, 16u);
  EXPECT_TRUE(report->ranker);
  Buy("alice", "s1", 500'000);
  const auto list = For("alice");
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list[0].item, "s2");
  EXPECT_EQ(list[0].reason, "often bought after s1");
  for (size_t i = 1; i < list.size(); ++i) EXPECT_LE(list[i].score, list[i - 1].score);
}

TEST_F(OnlineTest, ANewEventChangesTheRecommendationsAtOnce) {
  ASSERT_TRUE(brain_->Train().ok());
  Buy("bob", "s1", 500'000);
  EXPECT_EQ(For("bob")[0].item, "s2");
  Buy("bob", "b1", 500'001);  // no retrain in between
  const auto list = For("bob", 5);
  EXPECT_EQ(list[0].item, "b2");
  for (const Recommendation& r : list) {
    EXPECT_NE(r.item, "s1");  // never what the user bought
    EXPECT_NE(r.item, "b1");
  }
}

TEST_F(OnlineTest, ColdUsersGetPopularCategoryAndExplorationItems) {
  ASSERT_TRUE(brain_->Train().ok());
  ASSERT_TRUE(brain_->PutItem("s9", {"shoes", 9900}).ok());  // nobody bought it yet
  const auto list = For("newcomer", 5);
  ASSERT_EQ(list.size(), 5u);
  std::set<std::string> items;
  for (const Recommendation& r : list) items.insert(r.item);
  EXPECT_EQ(items.size(), 5u);  // no duplicates
  EXPECT_EQ(list[0].reason, "popular in shoes");
  EXPECT_EQ(list[1].reason, "popular now");
  EXPECT_EQ(list.back().item, "s9");
  EXPECT_EQ(list.back().reason, "explore: new");
  // Interest shown by a view of an item the models do not know yet: its category comes first.
  ASSERT_TRUE(brain_->PutItem("b9", {"books", 900}).ok());
  ASSERT_TRUE(brain_->Observe({"carol", "b9", EventKind::kView, 400'000, 1}).ok());
  const auto carol = For("carol", 3);
  ASSERT_FALSE(carol.empty());
  EXPECT_EQ(carol[0].reason, "you like books");
  EXPECT_EQ(carol[0].item.front(), 'b');
}

// A shop whose catalogue nobody bought from yet: a first buyer gets the other new items, of the
// category they bought from first, not a list of one.
TEST(ColdShop, AFirstBuyerGetsTheNewItemsOfTheirCategoryFirst) {
  Brain brain;
  for (const char* phone : {"p1", "p2", "p3"})
    ASSERT_TRUE(brain.PutItem(phone, {"phones", 1}).ok());
  for (const char* book : {"k1", "k2"}) ASSERT_TRUE(brain.PutItem(book, {"books", 1}).ok());
  ASSERT_TRUE(brain.Observe({"ann", "p2", EventKind::kPurchase, 1000, 1}).ok());
  auto list = brain.Recommend("ann", 4, 2000);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 4u);
  std::set<std::string> items;
  for (const Recommendation& r : *list) {
    items.insert(r.item);
    EXPECT_NE(r.item, "p2");  // bought already
  }
  EXPECT_EQ(items.size(), 4u);
  // The two other phones before any book.
  EXPECT_TRUE(((*list)[0].item == "p1" || (*list)[0].item == "p3") &&
              ((*list)[1].item == "p1" || (*list)[1].item == "p3"))
      << (*list)[0].item << " " << (*list)[1].item;
  EXPECT_EQ((*list)[0].reason, "new in phones");
}

TEST_F(OnlineTest, BeforeAnyTrainingEveryoneIsCold) {
  const auto list = For("u1", 4);
  ASSERT_EQ(list.size(), 4u);
  for (const Recommendation& r : list) EXPECT_FALSE(r.reason.empty());
}

TEST(Forecasts, AnItemsDailyUnitsAndTheCategoryPriorForANewOne) {
  Brain brain;
  ASSERT_TRUE(brain.PutItem("hot", {"toys", 1000}).ok());
  ASSERT_TRUE(brain.PutItem("cold", {"toys", 1000}).ok());
  for (int day = 0; day < 70; ++day) {
    const int64_t units = day % 7 == 3 ? 10 : 4;  // one busy weekday
    ASSERT_TRUE(brain.Observe({"u", "hot", EventKind::kPurchase, day * kDay + 1000, units}).ok());
  }
  auto forecast = brain.Forecast("hot", 70, 7);
  ASSERT_TRUE(forecast.ok()) << forecast.status().ToString();
  ASSERT_EQ(forecast->size(), 7u);
  for (const DayForecast& day : *forecast) {
    EXPECT_NEAR(day.units, day.day % 7 == 3 ? 10 : 4, 1e-6) << day.day;
  }
  // "cold" shares the category's demand with "hot": half of it.
  auto prior = brain.Forecast("cold", 70, 1);
  ASSERT_TRUE(prior.ok());
  EXPECT_NEAR((*prior)[0].units, 2, 1e-6);
  auto unknown = brain.Forecast("nobody-knows", 70, 2);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ((*unknown)[1].units, 0);
  EXPECT_EQ(brain.Forecast("hot", 70, 0).status().code(), Code::kBadField);
  EXPECT_EQ(brain.Forecast("bad id!", 70, 1).status().code(), Code::kBadField);
}

TEST(Forecasts, ABulkOrderAddsItsMeanNotItsSpike) {
  // 4 units every day for 10 weeks, and one order of 2,800 units (bulk) ten days ago, on top of
  // that day's 4: the regular level stays 4, and the bulk adds 2,800 over the 56 days' trading
  // days (every day trades) = 50 a day, on the busy weekday and the quiet ones alike. Were the
  // order regular, it would lift the days after it by far more.
  Brain brain;
  for (int day = 0; day < 70; ++day) {
    ASSERT_TRUE(brain.Observe({"u", "steady", EventKind::kPurchase, day * kDay + 1000, 4}).ok());
  }
  ASSERT_TRUE(brain.Observe({"b", "steady", EventKind::kPurchase, 60 * kDay + 2000, 2800}).ok());
  auto forecast = brain.Forecast("steady", 70, 3);
  ASSERT_TRUE(forecast.ok()) << forecast.status().ToString();
  for (const DayForecast& day : *forecast) {
    // The median of the same weekday (4) once, the split (4 + 50) twice.
    EXPECT_NEAR(day.units, (4 + 2 * 54) / 3.0, 1e-6) << day.day;
  }
  // Below the bulk size the same units are regular demand: the spike dominates the level.
  Brain regular;
  for (int day = 0; day < 70; ++day) {
    ASSERT_TRUE(regular.Observe({"u", "steady", EventKind::kPurchase, day * kDay + 1000, 4}).ok());
  }
  for (int order = 0; order < 2; ++order) {
    ASSERT_TRUE(
        regular.Observe({"b", "steady", EventKind::kPurchase, 60 * kDay + 2000, 1400}).ok());
  }
  auto spiked = regular.Forecast("steady", 70, 1);
  ASSERT_TRUE(spiked.ok());
  EXPECT_GT((*spiked)[0].units, (4 + 2 * 54) / 3.0 + 50);
}

TEST(Arguments, BadInputIsRefusedWithTheField) {
  Brain brain;
  EXPECT_EQ(brain.Observe({"", "i", EventKind::kView, 0, 1}).code(), Code::kBadField);
  EXPECT_EQ(brain.Observe({"u", "i i", EventKind::kView, 0, 1}).code(), Code::kBadField);
  EXPECT_EQ(brain.Observe({"u", "i", EventKind::kView, -1, 1}).code(), Code::kBadField);
  EXPECT_EQ(brain.Observe({"u", "i", EventKind::kView, 0, 0}).code(), Code::kBadField);
  EXPECT_EQ(brain.Observe({"u", "i", static_cast<EventKind>(7), 0, 1}).code(), Code::kBadField);
  EXPECT_EQ(brain.PutItem("i", {std::string(65, 'c'), 1}).code(), Code::kBadField);
  EXPECT_EQ(brain.Recommend("u", 0, 0).status().code(), Code::kBadField);
  EXPECT_EQ(brain.Recommend("u", 1001, 0).status().code(), Code::kBadField);
  EXPECT_EQ(brain.event_count(), 0u);
  EventKind kind;
  EXPECT_TRUE(ParseEventKind("cart", &kind));
  EXPECT_EQ(kind, EventKind::kCart);
  EXPECT_FALSE(ParseEventKind("buy", &kind));
}

TEST(Concurrency, EventsAndRequestsFromSeveralThreads) {
  Brain brain;
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(brain
                      .Observe({"u" + std::to_string(i % 50), "i" + std::to_string(i % 37),
                                EventKind::kPurchase, i, 1})
                      .ok());
      if (i == 1000) {
        ASSERT_TRUE(brain.Train().ok());
      }
    }
  });
  for (int i = 0; i < 500; ++i) {
    auto list = brain.Recommend("u" + std::to_string(i % 60), 5, i);
    ASSERT_TRUE(list.ok());
  }
  writer.join();
  EXPECT_EQ(brain.event_count(), 2000u);
}

}  // namespace
}  // namespace surge::brain
