// The brain's HTTP routes (API.md "Brain"). Reads answer on the event loop that took the request:
// they are bounded computations on in-memory models. Writes are answered by the writer thread
// once durable.
#include <cmath>
#include <memory>
#include <string>

#include "brainsvc/service_internal.h"
#include "common/ids.h"
#include "json/json.h"
#include "route/route.h"

namespace surge::brainsvc {
namespace {

constexpr int64_t kDayMs = 86'400'000;

http::Response Json(std::string body, int status = 200) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

http::Response Error(const Status& status) { return http::ErrorResponse(status); }

using Query = std::map<std::string_view, std::string_view>;

Result<std::string_view> RequiredId(const Query& query, std::string_view name) {
  const auto it = query.find(name);
  if (it == query.end()) {
    return Status(Code::kBadField, "query parameter " + std::string(name) + " is required");
  }
  if (!IsValidId(it->second)) {
    return Status(Code::kBadField, "query parameter " + std::string(name) +
                                       ": expected an id of 1 to 64 characters from "
                                       "[A-Za-z0-9_.:-]");
  }
  return it->second;
}

// A decimal integer in [minimum, maximum] without sign or spaces, or `fallback` if absent.
Result<int64_t> OptionalInt(const Query& query, std::string_view name, int64_t fallback,
                            int64_t minimum, int64_t maximum) {
  const auto it = query.find(name);
  if (it == query.end()) return fallback;
  const std::string_view text = it->second;
  int64_t value = 0;
  bool ok = !text.empty() && text.size() <= 18;
  for (const char c : text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) value = value * 10 + (c - '0');
  }
  if (!ok || value < minimum || value > maximum) {
    return Status(Code::kBadField, "query parameter " + std::string(name) +
                                       ": expected an integer between " + std::to_string(minimum) +
                                       " and " + std::to_string(maximum));
  }
  return value;
}

// Scores are finite by the brain's contract; a JSON number must be.
double Finite(double value) { return std::isfinite(value) ? value : 0; }

void WriteDays(json::Writer& writer, const std::vector<brain::DayForecast>& days) {
  writer.BeginArray();
  for (const brain::DayForecast& day : days) {
    writer.BeginObject();
    writer.Field("date", FormatDate(day.day));
    writer.Key("units");
    writer.Double(Finite(day.units));
    writer.EndObject();
  }
  writer.EndArray();
}

}  // namespace

void ServiceImpl::Handle(const http::Request& request, http::Responder responder) {
  if (stopped_.load()) {
    return responder.Send(Error(Status(Code::kUnavailable, "the brain is stopping")));
  }
  if (request.path == "/healthz" && route::IsRead(request.method)) {
    return responder.Send(Health());
  }
  const Result<route::BrainResource> match = route::MatchBrainRequest(request.method, request.path);
  if (!match.ok()) return responder.Send(Error(match.status()));
  switch (*match) {
    case route::BrainResource::kEvents:
      return PostEvents(request, std::move(responder));
    case route::BrainResource::kRecommendations:
      return responder.Send(Recommendations(request.query));
    case route::BrainResource::kForecast:
      return responder.Send(Forecast(request.query));
    case route::BrainResource::kAudience:
      return responder.Send(Audience(request.query));
  }
  responder.Send(Error(Status(Code::kInternal, "unroutable request")));
}

void ServiceImpl::PostEvents(const http::Request& request, http::Responder responder) {
  if (!request.query.empty()) {
    return responder.Send(Error(Status(Code::kBadField, "POST /v1/events takes no query")));
  }
  Result<std::vector<brain::Event>> events = ParseEventsBody(request.body, env_.WallNowMs());
  if (!events.ok()) return responder.Send(Error(events.status()));
  if (failed_.load()) {
    return responder.Send(
        Error(Status(Code::kUnavailable, "the brain's event log failed: writes are refused")));
  }
  Work work;
  work.record.events = std::move(events).value();
  EncodeLogRecord(work.record, &work.payload);
  const size_t count = work.record.events.size();
  // std::function needs a copyable callable; the Responder is move-only.
  auto shared = std::make_shared<http::Responder>(std::move(responder));
  work.done = [shared, count](const Status& status) {
    if (!status.ok()) return shared->Send(Error(status));
    shared->Send(Json(R"({"status":"recorded","events":)" + std::to_string(count) + "}", 202));
  };
  if (!Enqueue(std::move(work), /*wait=*/false)) {
    shared->Send(Error(
        Status(Code::kOverloaded, "the brain has too many events waiting to be written; retry")));
  }
}

http::Response ServiceImpl::Recommendations(std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"user", "k"});
  if (!query.ok()) return Error(query.status());
  Result<std::string_view> user = RequiredId(*query, "user");
  if (!user.ok()) return Error(user.status());
  Result<int64_t> k = OptionalInt(*query, "k", 10, 1, kCountMax);
  if (!k.ok()) return Error(k.status());
  Result<std::vector<brain::Recommendation>> items =
      brain_.Recommend(*user, static_cast<size_t>(*k), env_.WallNowMs());
  if (!items.ok()) return Error(items.status());
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Key("items");
  writer.BeginArray();
  for (const brain::Recommendation& item : *items) {
    writer.BeginObject();
    writer.Field("sku", item.item);
    writer.Key("score");
    writer.Double(Finite(item.score));
    writer.Field("reason", item.reason);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return Json(std::move(body));
}

http::Response ServiceImpl::Forecast(std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"sku", "days", "from", "by"});
  if (!query.ok()) return Error(query.status());
  Result<std::string_view> sku = RequiredId(*query, "sku");
  if (!sku.ok()) return Error(sku.status());
  Result<int64_t> days = OptionalInt(*query, "days", 7, 1, kDaysMax);
  if (!days.ok()) return Error(days.status());
  // From tomorrow (UTC) by default: today's purchases so far are history.
  int32_t from_day = static_cast<int32_t>(env_.WallNowMs() / kDayMs + 1);
  if (const auto it = query->find("from"); it != query->end()) {
    Result<int32_t> parsed = ParseDate(it->second);
    if (!parsed.ok())
      return Error(Status(Code::kBadField, "query parameter from: " + parsed.status().message()));
    from_day = *parsed;
  }
  const auto by = query->find("by");
  if (by != query->end() && by->second != "center") {
    return Error(Status(Code::kBadField, "query parameter by: expected \"center\""));
  }
  Result<std::vector<brain::DayForecast>> total =
      brain_.Forecast(*sku, from_day, static_cast<int>(*days));
  if (!total.ok()) return Error(total.status());
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("sku", *sku);
  writer.Key("days");
  WriteDays(writer, *total);
  if (by != query->end()) {
    Result<std::vector<brain::CenterForecast>> centers =
        brain_.ForecastByCenter(*sku, from_day, static_cast<int>(*days));
    if (!centers.ok()) return Error(centers.status());
    writer.Key("centers");
    writer.BeginArray();
    for (const brain::CenterForecast& center : *centers) {
      writer.BeginObject();
      writer.Field("center", center.center);
      writer.Key("total_units");
      writer.Double(Finite(center.total_units));
      writer.Key("days");
      WriteDays(writer, center.days);
      writer.EndObject();
    }
    writer.EndArray();
  }
  writer.EndObject();
  return Json(std::move(body));
}

http::Response ServiceImpl::Audience(std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"sku", "n"});
  if (!query.ok()) return Error(query.status());
  Result<std::string_view> sku = RequiredId(*query, "sku");
  if (!sku.ok()) return Error(sku.status());
  Result<int64_t> n = OptionalInt(*query, "n", 10, 1, kCountMax);
  if (!n.ok()) return Error(n.status());
  Result<std::vector<brain::AudienceMember>> users =
      brain_.Audience(*sku, static_cast<size_t>(*n), env_.WallNowMs());
  if (!users.ok()) return Error(users.status());
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("sku", *sku);
  writer.Key("users");
  writer.BeginArray();
  for (const brain::AudienceMember& member : *users) {
    writer.BeginObject();
    writer.Field("user", member.user);
    writer.Key("score");
    writer.Double(Finite(member.score));
    writer.Field("reason", member.reason);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return Json(std::move(body));
}

http::Response ServiceImpl::Health() const {
  const Stats now = stats();
  std::string body;
  json::Writer writer(&body);
  writer.BeginObject();
  writer.Field("status", now.failed ? "failed" : "ok");
  writer.Field("role", "brain");
  writer.Field("events", static_cast<int64_t>(now.brain_events));
  writer.Field("trains", static_cast<int64_t>(now.trains));
  writer.Key("applied_through");
  writer.BeginArray();
  for (const auto& [stream, sequence] : now.applied_through) {
    writer.BeginObject();
    writer.Field("center", stream.first);
    writer.Field("kind", bus::KindName(static_cast<bus::Kind>(stream.second)));
    writer.Field("sequence", static_cast<int64_t>(sequence));
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return Json(std::move(body), now.failed ? 503 : 200);
}

}  // namespace surge::brainsvc
