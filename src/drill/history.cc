// The history as text (drill.h): what `surge load --history` writes and the checker reads back.
#include "common/ids.h"
#include "drill/drill.h"
#include "drill/order_json.h"
#include "json/json.h"

namespace surge::drill {
namespace {

constexpr size_t kItemsMax = 64;
constexpr int64_t kQuantityMax = 1'000'000;
// Microseconds of CLOCK_MONOTONIC: centuries of uptime, and no sum of two overflows.
constexpr int64_t kTimeUsMax = int64_t{1} << 62;

Result<std::string> IdOrEmpty(const json::Value& object, std::string_view key) {
  SURGE_ASSIGN_OR_RETURN(json::Value value, object.Field(key));
  SURGE_ASSIGN_OR_RETURN(std::string_view text, value.String());
  if (!text.empty() && !IsValidId(text)) {
    return Status(Code::kBadField, value.path() + ": expected an id or an empty string");
  }
  return std::string(text);
}

Result<OrderAttempt> ParseAttempt(const json::Value& root) {
  SURGE_RETURN_IF_ERROR(root.OnlyFields(
      {"request_id", "user", "items", "status", "error", "order_id", "due_us", "answered_us"}));
  OrderAttempt attempt;
  SURGE_ASSIGN_OR_RETURN(json::Value request_id, root.Field("request_id"));
  SURGE_ASSIGN_OR_RETURN(std::string_view request, request_id.Id());
  attempt.request_id = std::string(request);
  SURGE_ASSIGN_OR_RETURN(json::Value user, root.Field("user"));
  SURGE_ASSIGN_OR_RETURN(std::string_view user_id, user.Id());
  attempt.user = std::string(user_id);
  SURGE_ASSIGN_OR_RETURN(json::Value items, root.Field("items"));
  SURGE_ASSIGN_OR_RETURN(size_t count, items.ArraySize());
  if (count == 0 || count > kItemsMax) {
    return Status(Code::kBadField, "items: expected 1 to 64 items");
  }
  for (size_t i = 0; i < count; ++i) {
    SURGE_ASSIGN_OR_RETURN(json::Value item, items.At(i));
    SURGE_RETURN_IF_ERROR(item.OnlyFields({"sku", "quantity"}));
    SURGE_ASSIGN_OR_RETURN(json::Value sku, item.Field("sku"));
    SURGE_ASSIGN_OR_RETURN(std::string_view sku_id, sku.Id());
    SURGE_ASSIGN_OR_RETURN(json::Value quantity, item.Field("quantity"));
    SURGE_ASSIGN_OR_RETURN(int64_t units, quantity.Int(1, kQuantityMax));
    attempt.items.push_back(Item{std::string(sku_id), units});
  }
  SURGE_ASSIGN_OR_RETURN(json::Value status, root.Field("status"));
  SURGE_ASSIGN_OR_RETURN(int64_t code, status.Int(0, 599));
  if (code != 0 && code < 100) return Status(Code::kBadField, "status: expected 0 or 100..599");
  attempt.status = static_cast<int>(code);
  SURGE_ASSIGN_OR_RETURN(attempt.error_code, IdOrEmpty(root, "error"));
  SURGE_ASSIGN_OR_RETURN(attempt.order_id, IdOrEmpty(root, "order_id"));
  SURGE_ASSIGN_OR_RETURN(json::Value due, root.Field("due_us"));
  SURGE_ASSIGN_OR_RETURN(attempt.due_us, due.Int(-1, kTimeUsMax));
  SURGE_ASSIGN_OR_RETURN(json::Value answered, root.Field("answered_us"));
  SURGE_ASSIGN_OR_RETURN(attempt.answered_us, answered.Int(-1, kTimeUsMax));
  return attempt;
}

}  // namespace

std::string EncodeHistory(const std::vector<OrderAttempt>& history) {
  std::string out;
  for (const OrderAttempt& attempt : history) {
    json::Writer writer(&out);
    writer.BeginObject();
    internal::WriteRequestFields(writer, attempt);
    writer.Field("status", static_cast<int64_t>(attempt.status));
    writer.Field("error", attempt.error_code);
    writer.Field("order_id", attempt.order_id);
    writer.Field("due_us", attempt.due_us);
    writer.Field("answered_us", attempt.answered_us);
    writer.EndObject();
    out += '\n';
  }
  return out;
}

Result<std::vector<OrderAttempt>> ParseHistory(std::string_view text) {
  std::vector<OrderAttempt> history;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      return Status(Code::kInvalidArgument,
                    "history line " + std::to_string(line_number) + ": does not end in a newline");
    }
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    json::Document document;
    Status parsed = document.Parse(line);
    Result<OrderAttempt> attempt =
        parsed.ok() ? ParseAttempt(document.root()) : Result<OrderAttempt>(parsed);
    if (!attempt.ok()) {
      return Status(Code::kInvalidArgument, "history line " + std::to_string(line_number) + ": " +
                                                attempt.status().message());
    }
    history.push_back(std::move(attempt).value());
  }
  return history;
}

}  // namespace surge::drill
