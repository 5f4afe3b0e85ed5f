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
};

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

// Builds the JSON body of a POST /v1/orders.
std::string OrderBody(const OrderAttempt& attempt);

}  // namespace surge::drill
