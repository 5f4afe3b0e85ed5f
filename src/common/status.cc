#include "common/status.h"

#include <array>
#include <cstdio>
#include <cstdlib>

namespace surge {
namespace {

struct CodeInfo {
  Code code;
  std::string_view name;
  int http_status;
};

constexpr std::array<CodeInfo, 20> kCodes = {{
    {Code::kOk, "ok", 200},
    {Code::kBadJson, "bad_json", 400},
    {Code::kBadField, "bad_field", 400},
    {Code::kBodyTooLarge, "body_too_large", 400},
    {Code::kBadRequest, "bad_request", 400},
    {Code::kNotFound, "not_found", 404},
    {Code::kMethodNotAllowed, "method_not_allowed", 405},
    {Code::kSoldOut, "sold_out", 409},
    {Code::kLimitExceeded, "limit_exceeded", 409},
    {Code::kWrongState, "wrong_state", 409},
    {Code::kRequestIdReused, "request_id_reused", 409},
    {Code::kWrongCenter, "wrong_center", 421},
    {Code::kCampaignNotActive, "campaign_not_active", 422},
    {Code::kHeadersTooLarge, "headers_too_large", 431},
    {Code::kOverloaded, "overloaded", 503},
    {Code::kUnavailable, "unavailable", 503},
    {Code::kIoError, "io_error", 500},
    {Code::kCorruption, "corruption", 500},
    {Code::kInvalidArgument, "invalid_argument", 400},
    {Code::kInternal, "internal", 500},
}};

const CodeInfo& Info(Code code) {
  const auto index = static_cast<size_t>(code);
  SURGE_ASSERT(index < kCodes.size());
  SURGE_ASSERT(kCodes[index].code == code);
  return kCodes[index];
}

}  // namespace

std::string_view CodeName(Code code) { return Info(code).name; }

int CodeHttpStatus(Code code) { return Info(code).http_status; }

bool CodeFromName(std::string_view name, Code* code) {
  for (const CodeInfo& info : kCodes) {
    if (info.name == name) {
      *code = info.code;
      return true;
    }
  }
  return false;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string text(CodeName(code_));
  text += ": ";
  text += message_;
  return text;
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

namespace detail {

void AssertFailed(const char* expression, const char* file, int line, const char* message) {
  std::fprintf(stderr, "surge: invariant violated at %s:%d: %s%s%s\n", file, line, expression,
               message != nullptr ? ": " : "", message != nullptr ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail
}  // namespace surge
