// A short flash sale against a real `surge center`, driven by `surge load`: a baseline, a 10x
// spike on three hot campaigns whose stock runs out mid-spike, and back down. The load generator
// verifies afterwards that no campaign sold more than its stock and that every order id it
// received is readable; this test also reads its JSON report and checks that every request is
// accounted for.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>

#include "drill/drill.h"
#include "json/json.h"

namespace surge {
namespace {

using std::chrono::milliseconds;

int64_t Field(const json::Value& object, std::string_view name) {
  auto value = object.Field(name);
  EXPECT_TRUE(value.ok()) << name;
  if (!value.ok()) return -1;
  auto number = value->Int(0, INT64_MAX);
  EXPECT_TRUE(number.ok()) << number.status().ToString();
  return number.ok() ? *number : -1;
}

TEST(FlashTest, ASpikeSellsOutWithoutOversellAndEveryRequestIsAccountedFor) {
  char pattern[] = "/tmp/surge-flash-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string root = pattern;
  auto center = drill::Process::Start(
      {SURGE_BINARY, "center", "--data", root + "/data", "--listen", "127.0.0.1:0"},
      root + "/center.stderr");
  ASSERT_TRUE(center.ok());
  auto line = (*center)->WaitForLine("listening on", milliseconds(20'000));
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  const std::string address = line->substr(line->rfind(' ') + 1);

  // 3 campaigns x 2000 units; the spike offers ~12000 orders from 5000 users (limit 2 each).
  auto load = drill::Process::Start({SURGE_BINARY, "load",
                                     "--target",   address,
                                     "--setup",    "--users",
                                     "5000",       "--stock",
                                     "2000",       "--limit",
                                     "2",          "--profile",
                                     "flash",      "--rate",
                                     "500",        "--spike",
                                     "10",         "--duration-s",
                                     "5",          "--spike-start-s",
                                     "1",          "--spike-length-s",
                                     "2",          "--connections",
                                     "64",         "--json",
                                     "-"},
                                    root + "/load.stderr");
  ASSERT_TRUE(load.ok());
  auto report_line = (*load)->WaitForLine("\"profile\"", milliseconds(120'000));
  ASSERT_TRUE(report_line.ok()) << report_line.status().ToString() << "; see " << root;
  auto exit_status = (*load)->Wait(milliseconds(60'000));
  ASSERT_TRUE(exit_status.ok());
  EXPECT_EQ(*exit_status, 0) << "surge load failed or its verification failed; see " << root;

  json::Document report;
  ASSERT_TRUE(report.Parse(*report_line).ok()) << *report_line;
  auto outcomes = report.root().Field("outcomes");
  ASSERT_TRUE(outcomes.ok());
  const int64_t sent = Field(*outcomes, "sent");
  const int64_t created = Field(*outcomes, "created");
  const int64_t sold_out = Field(*outcomes, "sold_out");
  int64_t accounted = Field(*outcomes, "unanswered");
  for (const char* name : {"created", "ok", "sold_out", "limit_exceeded", "overloaded",
                           "other_errors", "connection_errors"}) {
    accounted += Field(*outcomes, name);
  }
  std::printf("flash: %s\n", report_line->substr(0, 400).c_str());
  EXPECT_EQ(accounted, sent);
  // Everything scheduled was sent: at this rate no connection may be full for long.
  EXPECT_EQ(Field(*outcomes, "unsent"), 0);
  EXPECT_NEAR(static_cast<double>(sent), 500 * 3 + 5000 * 2, 300);
  EXPECT_EQ(created, 3 * 2000) << "the spike must sell out all three campaigns exactly";
  EXPECT_GT(sold_out, 0);
  EXPECT_EQ(Field(*outcomes, "other_errors"), 0);
  EXPECT_EQ(Field(*outcomes, "connection_errors"), 0);
  auto verified = report.root().Field("verified");
  ASSERT_TRUE(verified.ok());
  EXPECT_NE(report_line->find("\"verified\":true"), std::string::npos);

  EXPECT_TRUE((*center)->Signal(SIGTERM).ok());
  auto center_exit = (*center)->Wait(milliseconds(20'000));
  ASSERT_TRUE(center_exit.ok());
  EXPECT_EQ(*center_exit, 0);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace surge
