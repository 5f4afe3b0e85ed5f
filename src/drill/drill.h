// drill: what proves that surge keeps its promises under faults. For now: a child-process handle
// (start, kill -9, SIGSTOP/SIGCONT, wait) and the history checker. Later: the load generator, fault
// injectors and emergency plans.
//
// The checker reads what a client saw (the history of order requests and their answers) and the
// final state of a center over its HTTP API, and proves the invariants of ARCHITECTURE.md:
//   1. no oversell: for every campaign, available + reserved + sold = stock, none negative, and the
//      units held by orders (reserved or paid) add up to reserved + sold;
//   2. no lost order: every acknowledged order exists, with its user and items;
//   3. exactly once: every request id maps to at most one order, and re-sending an acknowledged
//      request returns the same order id;
//   4. no user holds more units of a campaign than its per-user limit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/http.h"

namespace surge::drill {

// ---- Child processes -----------------------------------------------------------------------

// A child process started with its stdout readable line by line. Destroying it kills it (SIGKILL)
// and reaps it.
class Process {
 public:
  // Starts `argv[0]` with the given arguments; stderr is inherited (or appended to `stderr_path`
  // when not empty).
  static Result<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                const std::string& stderr_path = "");
  ~Process();

  pid_t pid() const { return pid_; }
  // Reads stdout until a line containing `needle` arrives; returns that line. unavailable if the
  // process exits or `timeout` passes first.
  Result<std::string> WaitForLine(std::string_view needle, std::chrono::milliseconds timeout);
  Status Signal(int signal_number);
  // Waits for the process to exit and returns its exit status as from waitpid (or -signal).
  Result<int> Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  Process(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  std::string pending_;
  bool reaped_ = false;
};

// ---- History and checker -------------------------------------------------------------------

struct Item {
  std::string sku;
  int64_t quantity = 0;
};

// One POST /v1/orders as the client saw it. `status` is the HTTP status of the last answer, or 0
// if no answer arrived (connection refused, reset, timeout: the order may or may not exist).
struct OrderAttempt {
  std::string request_id;
  std::string user;
  std::vector<Item> items;
  int status = 0;
  std::string error_code;  // API error code when status is not 2xx
  std::string order_id;    // when status is 201
  // When the request was due and when its answer arrived, in microseconds of CLOCK_MONOTONIC
  // (one clock for every process of the machine, so another process's events compare with
  // them); -1 when not known (no answer, or a history that does not keep times).
  int64_t due_us = -1;
  int64_t answered_us = -1;
};

// A history as text, one JSON object per line (the load generator's --history file):
//   {"request_id":id,"user":id,"items":[{"sku":id,"quantity":n}],"status":n,"error":code,
//    "order_id":id,"due_us":n,"answered_us":n}
// ("error" and "order_id" are empty strings when there is none).
std::string EncodeHistory(const std::vector<OrderAttempt>& history);
// The inverse, strict: every field present and of its type, ids valid, 1..64 items, status 0 or
// 100..599, times >= -1. Errors: invalid_argument "history line N: ...".
Result<std::vector<OrderAttempt>> ParseHistory(std::string_view text);

struct CampaignSpec {
  std::string id;
  std::string sku;
  int64_t stock = 0;
  int64_t per_user_limit = 0;
};

struct CheckOptions {
  // Users whose orders are read to check limits and uniqueness; every user of the history is
  // read as well.
  std::vector<std::string> users;
  std::vector<CampaignSpec> campaigns;
  // Re-send every acknowledged request and expect the same order id.
  bool resend_acknowledged = true;
};

struct CheckReport {
  std::vector<std::string> violations;
  uint64_t acknowledged_orders = 0;
  uint64_t orders_seen = 0;
  uint64_t requests_resent = 0;
  bool ok() const { return violations.empty(); }
  std::string Summary() const;
};

// Reads the center's state through `client` and checks `history` against it. An error Status means
// the check could not run (the center did not answer); violations are in the report.
Result<CheckReport> Check(const std::vector<OrderAttempt>& history, const CheckOptions& options,
                          http::Client& client);

// The counts of a campaign or of a SKU's regular stock, as its GET answers them.
struct StockReading {
  int64_t stock = 0;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
  // available + reserved + sold = stock and none negative: the conservation invariant.
  bool adds_up() const {
    return available >= 0 && reserved >= 0 && sold >= 0 && available + reserved + sold == stock;
  }
  std::string ToString() const;
};
// GETs `target` ("/v1/campaigns/c1", "/v1/inventory/sku") and reads its counts. unavailable if
// it does not answer 200 with those four integers.
Result<StockReading> ReadStock(http::Client& client, const std::string& target);

// Builds the JSON body of a POST /v1/orders.
std::string OrderBody(const OrderAttempt& attempt);

// ---- Open-loop load generator (the wrk2 model) ---------------------------------------------
//
// Requests are scheduled at the offered rate whatever the server does, and each request's latency
// is measured from the moment it was due, not from when it could be sent: a server that stalls
// cannot hide its stall by slowing the client down (coordinated omission). Many keep-alive
// connections are driven from a few threads, each connection pipelining up to pipeline_max
// requests; when every connection is full, due requests wait, and that wait counts.

enum class Profile { kSteady, kFlash, kRamp };

struct LoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  Profile profile = Profile::kSteady;
  double rate_per_s = 1000;                    // steady rate; flash baseline; ramp start
  std::chrono::milliseconds duration{10'000};  // steady and flash
  // flash: the spike to rate * spike_multiplier starts at spike_start and lasts spike_length.
  double spike_multiplier = 20;
  std::chrono::milliseconds spike_start{3'000};
  std::chrono::milliseconds spike_length{3'000};
  // ramp: steps of ramp_step at rates growing by ramp_factor until a step's p99 exceeds
  // ramp_p99_max or its share of errors and overloaded answers exceeds ramp_errors_max.
  double ramp_factor = 1.25;
  std::chrono::milliseconds ramp_step{2'000};
  std::chrono::milliseconds ramp_p99_max{20};
  double ramp_errors_max = 0.01;
  int ramp_steps_max = 40;

  int connections = 256;
  int threads = 2;
  int pipeline_max = 16;

  // What to send. Orders: POST /v1/orders for a random user of users_count among
  // user_prefix + index, one unit of a random SKU of `skus`. With `plain_get_target` set instead,
  // a GET of that target (to measure a plain HTTP server such as nginx); "{user}" in it is
  // replaced by a random number in [0, users_count) for each request ("?user=su{user}").
  int users_count = 10'000;
  std::string user_prefix = "u";
  std::vector<std::string> skus;
  std::string request_prefix = "load";
  std::string plain_get_target;

  // After the run: check against the server that created orders do not exceed each campaign's
  // stock and that every order id received is readable with its status.
  bool verify = true;
  std::vector<std::string> verify_campaigns;
  // Called about once a second with a progress line; may be empty.
  std::function<void(const std::string&)> progress;
  // Keep every order request and its answer in LoadReport::history, for the checker (about 200
  // bytes a request).
  bool record_history = false;
};

struct SecondStats {
  double offered_per_s = 0;
  uint64_t sent = 0;
  uint64_t completed = 0;
  uint64_t created = 0;
  uint64_t rejected = 0;  // sold_out, limit_exceeded, overloaded
  uint64_t errors = 0;    // other answers and connection failures
  uint64_t p50_us = 0;
  uint64_t p99_us = 0;
  uint64_t max_us = 0;
  uint64_t rss_bytes = 0;  // of the server, when known (see LoadReport::server_pid)
};

struct LoadReport {
  std::string profile;
  double elapsed_s = 0;
  uint64_t sent = 0;
  uint64_t completed = 0;
  uint64_t created = 0;
  uint64_t ok_other = 0;  // 2xx answers that are not order creations (plain GETs)
  uint64_t sold_out = 0;
  uint64_t limit_exceeded = 0;
  uint64_t overloaded = 0;
  uint64_t other_errors = 0;
  uint64_t connection_errors = 0;
  uint64_t unanswered = 0;  // still pending when the run ended
  // Due before the run ended but never sent, because every connection was full of requests
  // the server had not answered: the offered load it could not even take in.
  uint64_t unsent = 0;
  // Latency percentiles in microseconds: all answers, accepted (2xx) and rejected (409/503).
  struct Percentiles {
    uint64_t count = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  } all, accepted, rejected;
  std::vector<SecondStats> seconds;
  double max_sustainable_rate_per_s = 0;  // ramp only
  std::vector<std::string> order_ids;
  // With LoadOptions::record_history: every order request sent, with its answer (status 0 for
  // those lost with their connection or unanswered at the end), in no particular order.
  std::vector<OrderAttempt> history;
  bool verified = false;
  std::vector<std::string> verify_problems;

  double achieved_per_s() const { return elapsed_s > 0 ? completed / elapsed_s : 0; }
  double created_per_s() const { return elapsed_s > 0 ? created / elapsed_s : 0; }
  std::string Table() const;
  std::string Json() const;
  // A plot of completed rate and p99 latency per second.
  std::string Svg() const;
};

// Runs the profile against the server. Fails only if the run could not be made (no connection at
// all); what the server answered is in the report. If `server_pid` > 0, its resident memory is
// sampled every second.
Result<LoadReport> RunLoad(const LoadOptions& options, int server_pid = 0);

// Creates, through the API, a merchant, one product and one live campaign per SKU (`stock` units,
// `per_user_limit`), and users_count users: what an order profile needs.
Status SetupCatalogue(const LoadOptions& options, int64_t stock, int64_t per_user_limit);

}  // namespace surge::drill
