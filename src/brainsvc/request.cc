// What clients send the brain: event bodies, query strings and dates (brainsvc.h).
#include <cstdio>
#include <string>

#include "brainsvc/brainsvc.h"
#include "json/json.h"

namespace surge::brainsvc {
namespace {

Status BadField(const std::string& message) { return Status(Code::kBadField, message); }

json::Document& ThreadDocument() {
  thread_local json::Document document;
  return document;
}

Result<brain::Event> ParseEvent(const json::Value& value, int64_t now_ms) {
  SURGE_RETURN_IF_ERROR(value.OnlyFields({"user", "sku", "type", "at", "quantity"}));
  brain::Event event;
  SURGE_ASSIGN_OR_RETURN(json::Value user, value.Field("user"));
  SURGE_ASSIGN_OR_RETURN(std::string_view user_id, user.Id());
  SURGE_ASSIGN_OR_RETURN(json::Value sku, value.Field("sku"));
  SURGE_ASSIGN_OR_RETURN(std::string_view sku_id, sku.Id());
  SURGE_ASSIGN_OR_RETURN(json::Value type, value.Field("type"));
  Result<std::string_view> type_name = type.String();
  if (!type_name.ok() || !brain::ParseEventKind(*type_name, &event.kind)) {
    return BadField(type.path() + ": expected \"view\", \"cart\" or \"purchase\"");
  }
  event.user = std::string(user_id);
  event.item = std::string(sku_id);
  event.time_ms = now_ms;
  if (value.Has("at")) {
    SURGE_ASSIGN_OR_RETURN(json::Value at, value.Field("at"));
    SURGE_ASSIGN_OR_RETURN(event.time_ms, at.Int(0, kTimeMsMax));
  }
  if (value.Has("quantity")) {
    SURGE_ASSIGN_OR_RETURN(json::Value quantity, value.Field("quantity"));
    SURGE_ASSIGN_OR_RETURN(event.quantity, quantity.Int(1, kQuantityMax));
  }
  return event;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
int32_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = year / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return static_cast<int32_t>(era * 146097 + day_of_era - 719468);
}

int DaysInMonth(int64_t year, int64_t month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

Result<std::vector<brain::Event>> ParseEventsBody(std::string_view body, int64_t now_ms) {
  json::Document& document = ThreadDocument();
  SURGE_RETURN_IF_ERROR(document.Parse(body));
  const json::Value root = document.root();
  std::vector<brain::Event> events;
  if (root.is_object() && root.Has("events")) {
    SURGE_RETURN_IF_ERROR(root.OnlyFields({"events"}));
    SURGE_ASSIGN_OR_RETURN(json::Value list, root.Field("events"));
    SURGE_ASSIGN_OR_RETURN(size_t size, list.ArraySize());
    if (size < 1 || size > kEventsPerRequestMax) {
      return BadField("events: expected 1 to " + std::to_string(kEventsPerRequestMax) +
                      " events, got " + std::to_string(size));
    }
    events.reserve(size);
    // Walked with an iterator-free At(i), linear each: bounded by kEventsPerRequestMax.
    for (size_t i = 0; i < size; ++i) {
      SURGE_ASSIGN_OR_RETURN(json::Value each, list.At(i));
      SURGE_ASSIGN_OR_RETURN(brain::Event event, ParseEvent(each, now_ms));
      events.push_back(std::move(event));
    }
    return events;
  }
  SURGE_ASSIGN_OR_RETURN(brain::Event event, ParseEvent(root, now_ms));
  events.push_back(std::move(event));
  return events;
}

Result<std::map<std::string_view, std::string_view>> ParseQuery(
    std::string_view query, std::initializer_list<std::string_view> allowed) {
  std::map<std::string_view, std::string_view> parameters;
  auto names = [&allowed] {
    std::string list;
    for (std::string_view name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
    return list;
  };
  if (!query.empty() && query.back() == '&') {
    return BadField("query: a parameter is empty (a '&' too many)");
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t equals = part.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return BadField("query: expected name=value parameters (" + names() + "), got \"" +
                      std::string(part) + "\"");
    }
    const std::string_view name = part.substr(0, equals);
    const std::string_view value = part.substr(equals + 1);
    bool known = false;
    for (std::string_view each : allowed) known = known || each == name;
    if (!known) {
      return BadField("query parameter " + std::string(name) + " is unknown; expected " + names());
    }
    if (value.find_first_of("%+") != std::string_view::npos) {
      return BadField("query parameter " + std::string(name) +
                      ": escaped characters are not accepted (ids need none)");
    }
    if (!parameters.emplace(name, value).second) {
      return BadField("query parameter " + std::string(name) + " is given twice");
    }
  }
  return parameters;
}

std::string FormatDate(int32_t day) {
  // The inverse of DaysFromCivil.
  const int64_t z = int64_t{day} + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t day_of_era = z - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int64_t d = day_of_year - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = year_of_era + era * 400 + (m <= 2 ? 1 : 0);
  char text[64];
  std::snprintf(text, sizeof(text), "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return text;
}

Result<int32_t> ParseDate(std::string_view text) {
  auto bad = [&text] {
    return BadField("date \"" + std::string(text.substr(0, 32)) +
                    "\": expected YYYY-MM-DD between 1970-01-01 and 9999-12-31");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int64_t fields[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8}, lengths[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (size_t i = starts[f]; i < starts[f] + lengths[f]; ++i) {
      if (text[i] < '0' || text[i] > '9') return bad();
      fields[f] = fields[f] * 10 + (text[i] - '0');
    }
  }
  const auto [year, month, day] = fields;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return bad();
  }
  return DaysFromCivil(year, month, day);
}

}  // namespace surge::brainsvc
