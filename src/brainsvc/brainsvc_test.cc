// The brain served over HTTP: events posted change recommendations at once, cold users get
// sensible lists, forecasts and audiences answer, a restart replays the log, and bad input of
// every kind is refused with nothing changed. Plus the log's codec and the request parsers.
#include "brainsvc/brainsvc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "brainsvc/brainsvc_testing.h"
#include "common/mem_env.h"

namespace surge::brainsvc {
namespace {

using std::chrono::milliseconds;
using testing::ErrorCode;
using testing::Served;
using testing::Strings;

constexpr int64_t kNowMs = 1'731'283'200'000;  // 2024-11-11T00:00:00Z
constexpr int64_t kHourMs = 3'600'000;

std::string EventJson(const std::string& user, const std::string& sku, const std::string& type,
                      int64_t at_ms) {
  return R"({"user":")" + user + R"(","sku":")" + sku + R"(","type":")" + type + R"(","at":)" +
         std::to_string(at_ms) + "}";
}

// 200 users: each buys a<i> then b<i> (i = user % 5), and 40 of them also "pop" first.
std::string SeedBody(int first_user, int users) {
  std::string body = R"({"events":[)";
  for (int u = first_user; u < first_user + users; ++u) {
    const std::string user = "u" + std::to_string(u), i = std::to_string(u % 5);
    const int64_t at = kNowMs - 2 * kHourMs + u * 1000;
    if (u % 5 == 0) body += EventJson(user, "pop", "purchase", at - 1) + ",";
    body += EventJson(user, "a" + i, "purchase", at) + ",";
    body += EventJson(user, "b" + i, "purchase", at + 500) + ",";
  }
  body.back() = ']';
  return body + "}";
}

class BrainServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { env_.SetWallNowMs(kNowMs); }
  Options ServiceOptions() {
    Options options;
    options.data_dir = "/brain";
    options.train_interval = milliseconds(0);  // the tests train when they mean to
    // Too few users for the tree ranker to learn anything: the retrievers' blend ranks.
    options.brain.ranker_min_users = 1'000'000;
    return options;
  }
  void Seed(Served& served) {
    for (int first = 0; first < 200; first += 100) {
      const auto response = served.Do("POST", "/v1/events", SeedBody(first, 100));
      ASSERT_EQ(response.status, 202) << response.body;
    }
    ASSERT_TRUE(served.service().TrainNow().ok());
  }
  MemEnv env_;
};

TEST_F(BrainServiceTest, PostedEventsChangeThatUsersRecommendationsWithinASecond) {
  Served served;
  served.Start(env_, ServiceOptions());
  Seed(served);
  const auto before = served.Do("GET", "/v1/recommendations?user=alice&k=5");
  ASSERT_EQ(before.status, 200) << before.body;
  const auto posted_at = std::chrono::steady_clock::now();
  const auto posted = served.Do("POST", "/v1/events", EventJson("alice", "a3", "purchase", kNowMs));
  ASSERT_EQ(posted.status, 202) << posted.body;
  EXPECT_EQ(posted.body, R"({"status":"recorded","events":1})");
  std::vector<std::string> after;
  while (std::chrono::steady_clock::now() - posted_at < milliseconds(1000)) {
    after = Strings(served.Do("GET", "/v1/recommendations?user=alice&k=5").body, "items", "sku");
    if (!after.empty() && after.front() == "b3") break;
  }
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front(), "b3") << "a3 is followed by b3 for every user who bought it: "
                                 << served.Do("GET", "/v1/recommendations?user=alice&k=5").body;
  EXPECT_EQ(std::count(after.begin(), after.end(), "a3"), 0) << "never an item already bought";
  EXPECT_NE(Strings(before.body, "items", "sku"), after);
  const auto reasons =
      Strings(served.Do("GET", "/v1/recommendations?user=alice&k=5").body, "items", "reason");
  ASSERT_FALSE(reasons.empty());
  EXPECT_NE(reasons.front().find("a3"), std::string::npos) << reasons.front();
}

TEST_F(BrainServiceTest, AUserNeverSeenGetsPopularItems) {
  Served served;
  served.Start(env_, ServiceOptions());
  Seed(served);
  const auto response = served.Do("GET", "/v1/recommendations?user=newcomer&k=4");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto skus = Strings(response.body, "items", "sku");
  const auto reasons = Strings(response.body, "items", "reason");
  ASSERT_EQ(skus.size(), 4u) << response.body;
  // "pop" was bought by 40 users, every a<i> and b<i> by 40 too, but pop most recently first.
  const std::vector<std::string> known = {"pop", "a0", "a1", "a2", "a3", "a4",
                                          "b0",  "b1", "b2", "b3", "b4"};
  for (const std::string& sku : skus) {
    EXPECT_NE(std::find(known.begin(), known.end(), sku), known.end()) << sku;
  }
  for (const std::string& reason : reasons) EXPECT_FALSE(reason.empty());
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "popular now"), reasons.end())
      << response.body;
  // The default k is 10.
  EXPECT_LE(Strings(served.Do("GET", "/v1/recommendations?user=x").body, "items", "sku").size(),
            10u);
}

TEST_F(BrainServiceTest, ForecastAndAudienceAnswerForASku) {
  Served served;
  served.Start(env_, ServiceOptions());
  Seed(served);
  // Two users looked at b1 without buying it: the audience of b1.
  for (const char* user : {"v1", "v2"}) {
    ASSERT_EQ(served.Do("POST", "/v1/events", EventJson(user, "b1", "view", kNowMs)).status, 202);
  }
  const auto forecast = served.Do("GET", "/v1/forecast?sku=a1&days=3");
  ASSERT_EQ(forecast.status, 200) << forecast.body;
  EXPECT_EQ(Strings(forecast.body, "days", "date"),
            (std::vector<std::string>{"2024-11-12", "2024-11-13", "2024-11-14"}));
  EXPECT_NE(forecast.body.find(R"("units":)"), std::string::npos);
  const auto from = served.Do("GET", "/v1/forecast?sku=a1&days=1&from=2024-11-10");
  EXPECT_EQ(Strings(from.body, "days", "date"), (std::vector<std::string>{"2024-11-10"}));
  const auto audience = served.Do("GET", "/v1/audience?sku=b1&n=5");
  ASSERT_EQ(audience.status, 200) << audience.body;
  const auto users = Strings(audience.body, "users", "user");
  EXPECT_NE(std::find(users.begin(), users.end(), "v1"), users.end()) << audience.body;
  EXPECT_NE(std::find(users.begin(), users.end(), "v2"), users.end()) << audience.body;
  EXPECT_EQ(std::find(users.begin(), users.end(), "u1"), users.end()) << "u1 bought b1 already";
  EXPECT_EQ(served.Do("GET", "/v1/audience?sku=never-seen").status, 404);
}

TEST_F(BrainServiceTest, ARestartReplaysTheLog) {
  std::vector<std::string> before;
  size_t events = 0;
  {
    Served served;
    served.Start(env_, ServiceOptions());
    Seed(served);
    ASSERT_EQ(served.Do("POST", "/v1/events", EventJson("alice", "a2", "purchase", kNowMs)).status,
              202);
    before = Strings(served.Do("GET", "/v1/recommendations?user=alice&k=5").body, "items", "sku");
    events = served.service().stats().brain_events;
  }
  Served served;
  served.Start(env_, ServiceOptions());
  EXPECT_EQ(served.service().stats().brain_events, events);
  EXPECT_EQ(served.service().stats().records_replayed, 3u);
  ASSERT_TRUE(served.service().TrainNow().ok());
  EXPECT_EQ(Strings(served.Do("GET", "/v1/recommendations?user=alice&k=5").body, "items", "sku"),
            before);
}

TEST_F(BrainServiceTest, BadInputIsRefusedAndChangesNothing) {
  Served served;
  served.Start(env_, ServiceOptions());
  ASSERT_EQ(served.Do("POST", "/v1/events", EventJson("u1", "s1", "view", 5)).status, 202);
  const Stats start = served.service().stats();
  const std::string huge = "1" + std::string(30, '0');
  const std::string long_id(65, 'x');
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"", "bad_json"},
      {"{", "bad_json"},
      {"[1,2]", "bad_field"},
      {R"({"user":"u1","sku":"s1"})", "bad_field"},
      {R"({"user":"u 1","sku":"s1","type":"view"})", "bad_field"},
      {R"({"user":")" + long_id + R"(","sku":"s1","type":"view"})", "bad_field"},
      {R"({"user":"u1","sku":"","type":"view"})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"like"})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":3})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","at":-1})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","at":9223372036854775808})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","at":)" + huge + "}", "bad_json"},
      {R"({"user":"u1","sku":"s1","type":"view","at":253402300800000})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","at":1.5})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","at":"5"})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","quantity":0})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","quantity":1000001})", "bad_field"},
      {R"({"user":"u1","sku":"s1","type":"view","extra":1})", "bad_field"},
      {R"({"user":"u1","user":"u2","sku":"s1","type":"view"})", "bad_field"},
      {R"({"events":[]})", "bad_field"},
      {R"({"events":{}})", "bad_field"},
      // All or nothing: the first event is good, the second is not.
      {R"({"events":[{"user":"u1","sku":"s1","type":"view"},{"user":"u1"}]})", "bad_field"},
      {R"({"events":[{"user":"u1","sku":"s1","type":"view"}],"more":1})", "bad_field"},
  };
  for (const auto& [body, code] : bodies) {
    const auto response = served.Do("POST", "/v1/events", body);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_EQ(ErrorCode(response.body), code) << body << " -> " << response.body;
  }
  std::string many = R"({"events":[)";
  for (int i = 0; i <= 1000; ++i) many += EventJson("u1", "s1", "view", 5) + ",";
  many.back() = ']';
  EXPECT_EQ(served.Do("POST", "/v1/events", many + "}").status, 400) << "1001 events";
  const std::vector<std::string> queries = {
      "/v1/recommendations",
      "/v1/recommendations?user=",
      "/v1/recommendations?user=u%201",
      "/v1/recommendations?user=u1&k=0",
      "/v1/recommendations?user=u1&k=1001",
      "/v1/recommendations?user=u1&k=-1",
      "/v1/recommendations?user=u1&k=" + huge,
      "/v1/recommendations?user=u1&k=1x",
      "/v1/recommendations?user=u1&user=u2",
      "/v1/recommendations?user=u1&kk=2",
      "/v1/recommendations?user=u1&",
      "/v1/forecast?sku=s1&days=0",
      "/v1/forecast?sku=s1&days=367",
      "/v1/forecast?days=3",
      "/v1/forecast?sku=s1&by=region",
      "/v1/forecast?sku=s1&from=2024-02-30",
      "/v1/forecast?sku=s1&from=1969-12-31",
      "/v1/audience?sku=s1&n=0",
      "/v1/audience?n=3",
  };
  for (const std::string& target : queries) {
    const auto response = served.Do("GET", target);
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_EQ(ErrorCode(response.body), "bad_field") << target << " -> " << response.body;
  }
  EXPECT_EQ(served.Do("GET", "/v1/brain").status, 404);
  EXPECT_EQ(ErrorCode(served.Do("GET", "/v1/events/x").body), "not_found");
  EXPECT_EQ(served.Do("GET", "/v1/events").status, 405);
  EXPECT_EQ(served.Do("PUT", "/v1/recommendations?user=u1", "{}").status, 405);
  EXPECT_EQ(ErrorCode(served.Do("POST", "/v1/forecast?sku=s1", "{}").body), "method_not_allowed");
  const Stats end = served.service().stats();
  EXPECT_EQ(end.brain_events, start.brain_events);
  EXPECT_EQ(end.events_posted, start.events_posted);
  EXPECT_EQ(served.Do("GET", "/healthz").status, 200);
}

// ---- The log's codec and the parsers ------------------------------------------------------

TEST(LogRecord, RoundTripsAndRefusesDamage) {
  LogRecord record;
  record.from_bus = true;
  record.center = "s1";
  record.kind = 2;
  record.sequence = 42;
  record.items.push_back({"p1", brain::ItemInfo{"phones", 12'345}});
  record.items.push_back({"p2", brain::ItemInfo{"", -1}});
  record.events.push_back({"u1", "p1", brain::EventKind::kCart, 7, 3, "s1"});
  record.events.push_back({"u2", "p2", brain::EventKind::kView, 0, 1, ""});
  std::string bytes;
  EncodeLogRecord(record, &bytes);
  Result<LogRecord> decoded = DecodeLogRecord(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->center, "s1");
  EXPECT_EQ(decoded->sequence, 42u);
  ASSERT_EQ(decoded->items.size(), 2u);
  EXPECT_EQ(decoded->items[0].second.price_cents, 12'345);
  EXPECT_EQ(decoded->items[1].second.price_cents, -1);
  ASSERT_EQ(decoded->events.size(), 2u);
  EXPECT_EQ(decoded->events[0].kind, brain::EventKind::kCart);
  EXPECT_EQ(decoded->events[0].quantity, 3);
  EXPECT_EQ(decoded->events[0].center, "s1");
  EXPECT_EQ(decoded->events[1].user, "u2");
  // Every truncation, and trailing bytes, are corruption.
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(DecodeLogRecord(bytes.substr(0, size)).status().code(), Code::kCorruption) << size;
  }
  EXPECT_EQ(DecodeLogRecord(bytes + "x").status().code(), Code::kCorruption);
  std::string bad_kind = bytes;
  bad_kind[0] = 9;  // version
  EXPECT_EQ(DecodeLogRecord(bad_kind).status().code(), Code::kCorruption);
}

TEST(Dates, FormatAndParse) {
  EXPECT_EQ(FormatDate(0), "1970-01-01");
  EXPECT_EQ(FormatDate(20'038), "2024-11-11");
  EXPECT_EQ(FormatDate(19'782), "2024-02-29");
  for (int32_t day : {0, 59, 60, 365, 11'016, 20'038, 2'932'896}) {
    Result<int32_t> parsed = ParseDate(FormatDate(day));
    ASSERT_TRUE(parsed.ok()) << FormatDate(day);
    EXPECT_EQ(*parsed, day);
  }
  for (const char* text : {"2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "20241111",
                           "1969-12-31", "2024-11-1x", "", "2024-11-110"}) {
    EXPECT_EQ(ParseDate(text).status().code(), Code::kBadField) << text;
  }
}

TEST(Query, StrictNamesAndValues) {
  auto query = ParseQuery("user=u1&k=5", {"user", "k"});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->at("user"), "u1");
  EXPECT_EQ(query->at("k"), "5");
  EXPECT_TRUE(ParseQuery("", {"user"}).ok());
  for (const char* text : {"user", "=u1", "user=u1&user=u2", "x=1", "user=a%20b", "user=a+b"}) {
    EXPECT_EQ(ParseQuery(text, {"user", "k"}).status().code(), Code::kBadField) << text;
  }
}

}  // namespace
}  // namespace surge::brainsvc
