// For the process-level tests: what the kill -9 crash test and the failover drills share (the
// catalogue's PUTs, how an order's answer is recorded in the history, the checker's verdict).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "drill/drill.h"
#include "http/http.h"
#include "json/json.h"

namespace surge::process_testing {

inline std::string User(int index) { return "u" + std::to_string(index); }

inline void MustPut(http::Client& client, const std::string& target, const std::string& body) {
  auto response = client.Do("PUT", target, body);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  ASSERT_EQ(response->status, 200) << target << " " << response->body;
}

// Records the answer to `attempt` (a new order or a retry of it) in the attempt and returns true
// if it was acknowledged (201). What breaks a promise goes to `errors`: a retry of an acknowledged
// request answered with another order id or with anything but the same order; an unparsable
// answer; a server error other than 503 overloaded, or, unless `unavailable_expected` (a center
// failing over answers 503 unavailable), 503 unavailable. A retry of an acknowledged request that
// meets an expected 503 keeps its acknowledgement.
inline bool RecordOrderAnswer(const http::ClientResponse& response, drill::OrderAttempt& attempt,
                              std::vector<std::string>& errors, bool unavailable_expected) {
  json::Document document;
  if (!document.Parse(response.body).ok()) {
    errors.push_back("unparsable answer: " + response.body);
    return false;
  }
  const json::Value root = document.root();
  if (response.status == 201) {
    auto order_id = root.Field("order_id");
    const std::string id =
        order_id.ok() && order_id->String().ok() ? std::string(*order_id->String()) : std::string();
    if (attempt.status == 201 && id != attempt.order_id) {
      errors.push_back("retry of " + attempt.request_id + " gave " + id + " after " +
                       attempt.order_id);
    }
    attempt.order_id = id;
    attempt.status = 201;
    return true;
  }
  auto error = root.Field("error");
  auto code = error.ok() ? error->Field("code") : Result<json::Value>(error.status());
  const std::string error_code =
      code.ok() && code->String().ok() ? std::string(*code->String()) : "";
  const bool expected_503 =
      response.status == 503 &&
      (error_code == "overloaded" || (unavailable_expected && error_code == "unavailable"));
  if (attempt.status == 201) {
    if (!expected_503) {
      errors.push_back("retry of acknowledged " + attempt.request_id + " answered " +
                       std::to_string(response.status) + " " + response.body);
    }
    return false;
  }
  if (response.status >= 500 && !expected_503) {
    errors.push_back("server error " + response.body);
  }
  attempt.error_code = error_code;
  attempt.status = response.status;
  return false;
}

// Runs the checker on `history` against the center at `endpoint()` (a pair of host and port) and
// expects no violation. A check that could not run to its end (the center stopped answering: a
// failover under way) runs again from the start against endpoint() of then, a few times: it only
// reads and re-sends requests that are idempotent.
template <typename EndpointFunction>
void ExpectHistoryHolds(const std::vector<drill::OrderAttempt>& history, int users,
                        const drill::CampaignSpec& campaign, EndpointFunction endpoint,
                        int64_t acknowledged) {
  drill::CheckOptions options;
  for (int i = 0; i < users; ++i) options.users.push_back(User(i));
  options.campaigns.push_back(campaign);
  Result<drill::CheckReport> report = Status(Code::kUnavailable, "not run");
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::pair<std::string, uint16_t> serving = endpoint();
    http::Client client(serving.first, serving.second, std::chrono::milliseconds(5000));
    report = drill::Check(history, options, client);
    if (report.ok()) break;
    std::printf("checker: could not finish (%s); again\n", report.status().ToString().c_str());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::printf("checker: %s\n", report->Summary().c_str());
  EXPECT_TRUE(report->ok()) << report->Summary();
  EXPECT_EQ(report->acknowledged_orders, static_cast<uint64_t>(acknowledged));
}

}  // namespace surge::process_testing
