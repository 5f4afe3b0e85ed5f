// Status and Result<T>: how every surge component reports failure. No exception crosses a
// component boundary; third-party exceptions are caught at the edge and turned into a Status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace surge {

// The error codes double as the API's error codes (API.md), so a Status from deep inside can be
// answered to a client without a translation table that could drift.
enum class Code : uint8_t {
  kOk = 0,
  kBadJson,            // 400 bad_json
  kBadField,           // 400 bad_field
  kBodyTooLarge,       // 400 body_too_large
  kBadRequest,         // 400 bad_request (malformed HTTP)
  kNotFound,           // 404 not_found
  kMethodNotAllowed,   // 405 method_not_allowed
  kSoldOut,            // 409 sold_out
  kLimitExceeded,      // 409 limit_exceeded
  kWrongState,         // 409 wrong_state
  kRequestIdReused,    // 409 request_id_reused
  kWrongCenter,        // 421 wrong_center
  kCampaignNotActive,  // 422 campaign_not_active
  kHeadersTooLarge,    // 431 headers_too_large
  kOverloaded,         // 503 overloaded
  kUnavailable,        // 503 unavailable
  kIoError,            // local I/O failed (disk, socket)
  kCorruption,         // stored data failed its checksum or framing
  kInvalidArgument,    // a bad option, flag or config value
  kInternal,           // a bug: should never reach a client
};

// The snake_case name used on the wire ("sold_out").
std::string_view CodeName(Code code);
// The HTTP status that API.md assigns to the code (500 for internal ones).
int CodeHttpStatus(Code code);
// Parses a snake_case name back; returns false if unknown.
bool CodeFromName(std::string_view name, Code* code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {
    SURGE_ASSERT(code != Code::kOk);
  }
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "sold_out: campaign c1 is sold out"
  std::string ToString() const;

  // Prepends context: "opening journal: <message>".
  Status Annotate(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : value_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    SURGE_ASSERT(!std::get<Status>(value_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status ok_status;
    return ok() ? ok_status : std::get<Status>(value_);
  }
  T& value() & {
    SURGE_ASSERT(ok());
    return std::get<T>(value_);
  }
  const T& value() const& {
    SURGE_ASSERT(ok());
    return std::get<T>(value_);
  }
  T&& value() && {
    SURGE_ASSERT(ok());
    return std::get<T>(std::move(value_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace surge

#define SURGE_CONCAT_INNER(a, b) a##b
#define SURGE_CONCAT(a, b) SURGE_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if it is not ok.
#define SURGE_RETURN_IF_ERROR(expression)          \
  do {                                             \
    ::surge::Status surge_status_ = (expression);  \
    if (!surge_status_.ok()) return surge_status_; \
  } while (false)

// SURGE_ASSIGN_OR_RETURN(auto x, MakeX()); assigns the value or returns the Status.
#define SURGE_ASSIGN_OR_RETURN(declaration, expression)          \
  auto SURGE_CONCAT(surge_result_, __LINE__) = (expression);     \
  if (!SURGE_CONCAT(surge_result_, __LINE__).ok())               \
    return SURGE_CONCAT(surge_result_, __LINE__).status();       \
  declaration = std::move(SURGE_CONCAT(surge_result_, __LINE__)) \
                    .value()  // NOLINT(bugprone-macro-parentheses): a declaration
