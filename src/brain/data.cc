// Strict parsers of the outside data sets and the daily aggregation of invoices.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "brain/brain.h"

namespace surge::brain {
namespace {

Status LineError(size_t line, std::string_view message) {
  return Status(Code::kInvalidArgument,
                "line " + std::to_string(line) + ": " + std::string(message));
}

// What a bad field looked like, bounded so that a huge line cannot make a huge message.
std::string Quote(std::string_view text) {
  constexpr size_t kShown = 40;
  std::string quoted = "'";
  for (const char c : text.substr(0, kShown)) {
    quoted += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return quoted + (text.size() > kShown ? "...'" : "'");
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A sequence id: decimal, no sign, no leading zero, at most 19 digits.
bool IsDecimalId(std::string_view text) {
  return IsDigits(text) && text.size() <= 19 && (text.size() == 1 || text.front() != '0');
}

// Splits `text` into lines ending in "\n" or "\r\n" (RFC 4180's CSV uses the latter); the last
// one may lack its end. Calls `each(line_number, line)` until it returns a non-ok Status.
template <typename Each>
Status ForEachLine(std::string_view text, Each each) {
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    SURGE_RETURN_IF_ERROR(each(line_number, line));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return Status::Ok();
}

}  // namespace

size_t SequenceData::interactions() const {
  size_t total = 0;
  for (const auto& sequence : sequences) total += sequence.size();
  return total;
}

Result<SequenceData> ParseSequences(std::string_view text) {
  SequenceData data;
  absl::flat_hash_map<std::string, uint32_t> item_index;
  absl::flat_hash_map<std::string, size_t> user_line;
  Status status = ForEachLine(text, [&](size_t line_number, std::string_view line) -> Status {
    std::vector<uint32_t> sequence;
    std::string user;
    size_t field = 0;
    while (true) {
      const size_t end = line.find(' ');
      const std::string_view token = line.substr(0, end);
      if (!IsDecimalId(token)) {
        return LineError(line_number, "field " + std::to_string(field + 1) + " " + Quote(token) +
                                          " is not a decimal id (digits, no leading zero, at "
                                          "most 19, fields separated by one space)");
      }
      if (field == 0) {
        user = std::string(token);
      } else {
        auto [it, inserted] =
            item_index.try_emplace(std::string(token), static_cast<uint32_t>(data.item_ids.size()));
        if (inserted) data.item_ids.emplace_back(token);
        sequence.push_back(it->second);
      }
      ++field;
      if (end == std::string_view::npos) break;
      line.remove_prefix(end + 1);
    }
    if (sequence.empty()) {
      return LineError(line_number, "user " + user + " has no items (expected 'user item ...')");
    }
    auto [it, inserted] = user_line.try_emplace(user, line_number);
    if (!inserted) {
      return LineError(line_number,
                       "user " + user + " already appeared on line " + std::to_string(it->second));
    }
    data.user_ids.push_back(std::move(user));
    data.sequences.push_back(std::move(sequence));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (data.sequences.empty()) return Status(Code::kInvalidArgument, "no users in the input");
  return data;
}

namespace {

constexpr std::string_view kInvoiceHeader =
    "InvoiceNo,InvoiceDate,CustomerID,Country,Quantity,UnitPrice";

// Parses a whole field as an integer within [low, high].
bool ParseInt(std::string_view text, int64_t low, int64_t high, int64_t* value) {
  if (text.empty() || text.front() == '+') return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && *value >= low &&
         *value <= high;
}

// "M/D/YYYY H:MM" into days since the epoch and minute of the day.
bool ParseInvoiceDate(std::string_view text, int32_t* day, int32_t* minute) {
  const size_t slash1 = text.find('/');
  const size_t slash2 = text.find('/', slash1 == std::string_view::npos ? 0 : slash1 + 1);
  const size_t space = text.find(' ');
  const size_t colon = text.find(':');
  if (slash1 == std::string_view::npos || slash2 == std::string_view::npos ||
      space == std::string_view::npos || colon == std::string_view::npos ||
      !(slash1 < slash2 && slash2 < space && space < colon)) {
    return false;
  }
  int64_t month = 0, month_day = 0, year = 0, hour = 0, minutes = 0;
  const std::string_view minute_text = text.substr(colon + 1);
  if (!IsDigits(text.substr(0, slash1)) ||
      !IsDigits(text.substr(slash1 + 1, slash2 - slash1 - 1)) ||
      !IsDigits(text.substr(slash2 + 1, space - slash2 - 1)) ||
      !IsDigits(text.substr(space + 1, colon - space - 1)) || minute_text.size() != 2 ||
      !IsDigits(minute_text)) {
    return false;
  }
  if (!ParseInt(text.substr(0, slash1), 1, 12, &month) ||
      !ParseInt(text.substr(slash1 + 1, slash2 - slash1 - 1), 1, 31, &month_day) ||
      !ParseInt(text.substr(slash2 + 1, space - slash2 - 1), 1970, 2999, &year) ||
      !ParseInt(text.substr(space + 1, colon - space - 1), 0, 23, &hour) ||
      !ParseInt(minute_text, 0, 59, &minutes)) {
    return false;
  }
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(year)),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(month_day))};
  if (!date.ok()) return false;
  *day = static_cast<int32_t>(std::chrono::sys_days(date).time_since_epoch().count());
  *minute = static_cast<int32_t>(hour * 60 + minutes);
  return true;
}

// A finite decimal: optional '-', digits, optionally '.' and digits.
bool ParsePrice(std::string_view text, double* value) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  const size_t dot = digits.find('.');
  if (!IsDigits(digits.substr(0, dot)) ||
      (dot != std::string_view::npos && !IsDigits(digits.substr(dot + 1)))) {
    return false;
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(*value);
}

bool IsInvoiceNumber(std::string_view text) {
  if (!text.empty() && text.front() >= 'A' && text.front() <= 'Z') text.remove_prefix(1);
  return IsDigits(text) && text.size() <= 12;
}

bool IsCountry(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

Status ParseInvoiceLine(size_t line_number, std::string_view line, Invoice* invoice) {
  std::string_view fields[6];
  size_t count = 0;
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    if (count == 6) return LineError(line_number, "more than 6 fields");
    fields[count++] = line.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (count != 6) {
    return LineError(line_number, "expected 6 fields, got " + std::to_string(count));
  }
  if (!IsInvoiceNumber(fields[0])) {
    return LineError(line_number, "InvoiceNo " + Quote(fields[0]) +
                                      " is not an optional capital letter and 1-12 digits");
  }
  invoice->number = std::string(fields[0]);
  if (!ParseInvoiceDate(fields[1], &invoice->day, &invoice->minute)) {
    return LineError(line_number,
                     "InvoiceDate " + Quote(fields[1]) + " is not a date 'M/D/YYYY H:MM'");
  }
  if (fields[2] == "(blank)") {
    invoice->customer.clear();
  } else if (IsDigits(fields[2]) && fields[2].size() <= 12) {
    invoice->customer = std::string(fields[2]);
  } else {
    return LineError(line_number,
                     "CustomerID " + Quote(fields[2]) + " is neither 1-12 digits nor '(blank)'");
  }
  if (!IsCountry(fields[3])) {
    return LineError(line_number,
                     "Country " + Quote(fields[3]) + " is not 1-64 printable characters");
  }
  invoice->country = std::string(fields[3]);
  if (!ParseInt(fields[4], -1'000'000'000, 1'000'000'000, &invoice->quantity)) {
    return LineError(line_number,
                     "Quantity " + Quote(fields[4]) + " is not an integer within +-1e9");
  }
  if (!ParsePrice(fields[5], &invoice->unit_price)) {
    return LineError(line_number, "UnitPrice " + Quote(fields[5]) + " is not a decimal number");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Invoice>> ParseInvoices(std::string_view text) {
  std::vector<Invoice> invoices;
  Status status = ForEachLine(text, [&](size_t line_number, std::string_view line) -> Status {
    if (line_number == 1) {
      if (line != kInvoiceHeader) {
        return LineError(
            1, "expected the header '" + std::string(kInvoiceHeader) + "', got " + Quote(line));
      }
      return Status::Ok();
    }
    Invoice invoice;
    SURGE_RETURN_IF_ERROR(ParseInvoiceLine(line_number, line, &invoice));
    invoices.push_back(std::move(invoice));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (text.empty()) return LineError(1, "empty input: expected the header");
  return invoices;
}

DailyDemand AggregateDaily(std::span<const Invoice> invoices) {
  DailyDemand demand;
  int32_t first = INT32_MAX, last = INT32_MIN;
  for (const Invoice& invoice : invoices) {
    if (invoice.cancellation() || invoice.quantity <= 0) continue;
    first = std::min(first, invoice.day);
    last = std::max(last, invoice.day);
  }
  if (first > last) return demand;
  demand.first_day = first;
  demand.units.assign(static_cast<size_t>(last - first) + 1, 0);
  demand.orders.assign(demand.units.size(), 0);
  for (auto& bulk : demand.bulk_units) bulk.assign(demand.units.size(), 0);
  // An invoice number may span two rows (lines entered a minute apart): one order that day,
  // whose size is the sum of its rows.
  absl::flat_hash_map<std::pair<std::string_view, int32_t>, int64_t> orders;
  for (const Invoice& invoice : invoices) {
    if (invoice.cancellation() || invoice.quantity <= 0) continue;
    const auto index = static_cast<size_t>(invoice.day - first);
    demand.units[index] += static_cast<double>(invoice.quantity);
    auto [it, inserted] = orders.try_emplace({invoice.number, invoice.day}, 0);
    if (inserted) demand.orders[index] += 1;
    it->second += invoice.quantity;
  }
  for (const auto& [order, units] : orders) {
    const auto index = static_cast<size_t>(order.second - first);
    for (size_t k = 0; k < kBulkUnits.size(); ++k) {
      if (units >= kBulkUnits[k]) demand.bulk_units[k][index] += static_cast<double>(units);
    }
  }
  return demand;
}

}  // namespace surge::brain
