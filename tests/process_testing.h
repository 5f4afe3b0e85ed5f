// For the process-level tests: what the kill -9 crash test and the failover drills share (the
// catalogue's PUTs, how an order's answer is recorded in the history, the checker's verdict, the
// state hashes of a primary's and its standby's journals).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "center/center.h"
#include "common/env.h"
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

// The journal in `data_dir` opened as a standby with `options` (nothing is added to it): its
// durable end, and its state hash through `through` (its whole journal if UINT64_MAX).
struct JournalState {
  uint64_t sequence = 0;
  uint64_t hash = 0;
};
inline JournalState ReadJournalState(center::Options options, const std::string& data_dir,
                                     uint64_t through = UINT64_MAX) {
  options.data_dir = data_dir;
  options.standby = true;
  options.keep_through = through;
  auto center = center::Center::Open(*Env::Default(), options);
  EXPECT_TRUE(center.ok()) << data_dir << ": " << center.status().ToString();
  if (!center.ok()) return {};
  JournalState state{(*center)->durable_sequence(), 0};
  EXPECT_TRUE(
      (*center)->Read([&](const trade::Trade& trade, int64_t) { state.hash = trade.StateHash(); }));
  return state;
}

// A primary's and its standby's journals (both stopped) reach the same state hash at the same
// position: the shorter one's end, which is returned.
inline uint64_t ExpectSameStateHash(const center::Options& options, const std::string& first,
                                    const std::string& second) {
  const uint64_t through = std::min(ReadJournalState(options, first).sequence,
                                    ReadJournalState(options, second).sequence);
  const JournalState a = ReadJournalState(options, first, through);
  const JournalState b = ReadJournalState(options, second, through);
  EXPECT_EQ(a.sequence, through) << first;
  EXPECT_EQ(b.sequence, through) << second;
  EXPECT_EQ(a.hash, b.hash) << first << " and " << second << " differ at sequence " << through;
  return through;
}

// ---- A campaign as the centers of a deployment show it (API.md) -----------------------------

// An integer field of `object`, -1 when missing or not an integer.
inline int64_t IntField(const json::Value& object, std::string_view name) {
  auto value = object.Field(name);
  if (!value.ok()) return -1;
  auto number = value->Int(INT64_MIN, INT64_MAX);
  return number.ok() ? *number : -1;
}

// One center's units of a campaign.
struct CenterCounts {
  int64_t quota = 0, available = 0, reserved = 0, sold = 0;
  bool operator==(const CenterCounts&) const = default;
};

// The master's answer to GET /v1/campaigns/{id}: its per-center breakdown, and in *unallocated
// (if not null) the units no center holds.
inline Result<std::map<std::string, CenterCounts>> CampaignBreakdown(std::string_view body,
                                                                     int64_t* unallocated) {
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(body));
  if (unallocated != nullptr) *unallocated = IntField(document.root(), "unallocated");
  SURGE_ASSIGN_OR_RETURN(json::Value centers, document.root().Field("centers"));
  SURGE_ASSIGN_OR_RETURN(size_t count, centers.ArraySize());
  std::map<std::string, CenterCounts> view;
  for (size_t i = 0; i < count; ++i) {
    SURGE_ASSIGN_OR_RETURN(json::Value center, centers.At(i));
    SURGE_ASSIGN_OR_RETURN(json::Value name, center.Field("center"));
    SURGE_ASSIGN_OR_RETURN(std::string_view id, name.String());
    view[std::string(id)] = CenterCounts{IntField(center, "quota"), IntField(center, "available"),
                                         IntField(center, "reserved"), IntField(center, "sold")};
  }
  return view;
}

// Center `id`'s own counts in its answer to GET /v1/campaigns/{id}: a sub-center's top-level
// fields, the master's entry in its breakdown.
inline Result<CenterCounts> OwnCampaignCounts(std::string_view body, const std::string& id,
                                              bool at_master) {
  if (at_master) {
    SURGE_ASSIGN_OR_RETURN(auto view, CampaignBreakdown(body, nullptr));
    return view[id];
  }
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(body));
  const json::Value& root = document.root();
  return CenterCounts{IntField(root, "quota"), IntField(root, "available"),
                      IntField(root, "reserved"), IntField(root, "sold")};
}

}  // namespace surge::process_testing
