// How a LoadReport reads: a table for people, JSON for tools, an SVG plot for eyes.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

#include "drill/drill.h"
#include "json/json.h"

namespace surge::drill {
namespace {

std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* format, ...) {
  char buffer[512];
  va_list arguments;
  va_start(arguments, format);
  std::vsnprintf(buffer, sizeof(buffer), format, arguments);
  va_end(arguments);
  return buffer;
}

std::string Milliseconds(uint64_t us) { return Format("%.3f", static_cast<double>(us) / 1000.0); }

void WritePercentiles(json::Writer& writer, std::string_view key,
                      const LoadReport::Percentiles& percentiles) {
  writer.Key(key);
  writer.BeginObject();
  writer.Field("count", static_cast<int64_t>(percentiles.count));
  writer.Field("p50_us", static_cast<int64_t>(percentiles.p50));
  writer.Field("p90_us", static_cast<int64_t>(percentiles.p90));
  writer.Field("p99_us", static_cast<int64_t>(percentiles.p99));
  writer.Field("p999_us", static_cast<int64_t>(percentiles.p999));
  writer.Field("max_us", static_cast<int64_t>(percentiles.max));
  writer.EndObject();
}

}  // namespace

std::string LoadReport::Table() const {
  std::string text;
  text += Format("profile %s, %.1f s, %llu sent, %llu answered (%.0f/s), %llu created (%.0f/s)\n",
                 profile.c_str(), elapsed_s, static_cast<unsigned long long>(sent),
                 static_cast<unsigned long long>(completed), achieved_per_s(),
                 static_cast<unsigned long long>(created), created_per_s());
  text += Format(
      "outcomes: created %llu, ok %llu, sold_out %llu, limit_exceeded %llu, "
      "overloaded %llu, other errors %llu, connection errors %llu, unanswered %llu, never sent "
      "(every connection full) %llu\n",
      static_cast<unsigned long long>(created), static_cast<unsigned long long>(ok_other),
      static_cast<unsigned long long>(sold_out), static_cast<unsigned long long>(limit_exceeded),
      static_cast<unsigned long long>(overloaded), static_cast<unsigned long long>(other_errors),
      static_cast<unsigned long long>(connection_errors),
      static_cast<unsigned long long>(unanswered), static_cast<unsigned long long>(unsent));
  text += "latency (ms, from when each request was due)\n";
  text += "             count      p50      p90      p99    p99.9      max\n";
  const std::pair<const char*, const Percentiles*> rows[] = {
      {"all", &all}, {"accepted", &accepted}, {"rejected", &rejected}};
  for (const auto& [name, row] : rows) {
    text += Format("  %-9s %8llu %8s %8s %8s %8s %8s\n", name,
                   static_cast<unsigned long long>(row->count), Milliseconds(row->p50).c_str(),
                   Milliseconds(row->p90).c_str(), Milliseconds(row->p99).c_str(),
                   Milliseconds(row->p999).c_str(), Milliseconds(row->max).c_str());
  }
  text +=
      "per second\n     s   offered      sent  answered   created  rejected    errors"
      "   p50 ms   p99 ms   max ms   rss MiB\n";
  for (size_t i = 0; i < seconds.size(); ++i) {
    const SecondStats& second = seconds[i];
    text +=
        Format("  %4zu %9.0f %9llu %9llu %9llu %9llu %9llu %8s %8s %8s %9.1f\n", i + 1,
               second.offered_per_s, static_cast<unsigned long long>(second.sent),
               static_cast<unsigned long long>(second.completed),
               static_cast<unsigned long long>(second.created),
               static_cast<unsigned long long>(second.rejected),
               static_cast<unsigned long long>(second.errors), Milliseconds(second.p50_us).c_str(),
               Milliseconds(second.p99_us).c_str(), Milliseconds(second.max_us).c_str(),
               static_cast<double>(second.rss_bytes) / (1024.0 * 1024.0));
  }
  if (profile == "ramp") {
    text += Format("maximum sustainable rate: %.0f/s\n", max_sustainable_rate_per_s);
  }
  if (!order_ids.empty() || !verify_problems.empty()) {
    text += verified ? Format("verified: %zu order ids readable, campaigns add up, no oversell\n",
                              order_ids.size())
                     : Format("VERIFICATION FAILED (%zu problems)\n", verify_problems.size());
    for (size_t i = 0; i < verify_problems.size() && i < 10; ++i) {
      text += "  " + verify_problems[i] + "\n";
    }
  }
  return text;
}

std::string LoadReport::Json() const {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("profile", profile);
  writer.Key("elapsed_s");
  writer.Double(elapsed_s);
  writer.Key("achieved_per_s");
  writer.Double(achieved_per_s());
  writer.Key("created_per_s");
  writer.Double(created_per_s());
  writer.Key("outcomes");
  writer.BeginObject();
  writer.Field("sent", static_cast<int64_t>(sent));
  writer.Field("answered", static_cast<int64_t>(completed));
  writer.Field("created", static_cast<int64_t>(created));
  writer.Field("ok", static_cast<int64_t>(ok_other));
  writer.Field("sold_out", static_cast<int64_t>(sold_out));
  writer.Field("limit_exceeded", static_cast<int64_t>(limit_exceeded));
  writer.Field("overloaded", static_cast<int64_t>(overloaded));
  writer.Field("other_errors", static_cast<int64_t>(other_errors));
  writer.Field("connection_errors", static_cast<int64_t>(connection_errors));
  writer.Field("unanswered", static_cast<int64_t>(unanswered));
  writer.Field("unsent", static_cast<int64_t>(unsent));
  writer.EndObject();
  WritePercentiles(writer, "latency_all", all);
  WritePercentiles(writer, "latency_accepted", accepted);
  WritePercentiles(writer, "latency_rejected", rejected);
  writer.Key("seconds");
  writer.BeginArray();
  for (const SecondStats& second : seconds) {
    writer.BeginObject();
    writer.Key("offered_per_s");
    writer.Double(second.offered_per_s);
    writer.Field("sent", static_cast<int64_t>(second.sent));
    writer.Field("answered", static_cast<int64_t>(second.completed));
    writer.Field("created", static_cast<int64_t>(second.created));
    writer.Field("rejected", static_cast<int64_t>(second.rejected));
    writer.Field("errors", static_cast<int64_t>(second.errors));
    writer.Field("p50_us", static_cast<int64_t>(second.p50_us));
    writer.Field("p99_us", static_cast<int64_t>(second.p99_us));
    writer.Field("max_us", static_cast<int64_t>(second.max_us));
    writer.Field("rss_bytes", static_cast<int64_t>(second.rss_bytes));
    writer.EndObject();
  }
  writer.EndArray();
  if (profile == "ramp") {
    writer.Key("max_sustainable_rate_per_s");
    writer.Double(max_sustainable_rate_per_s);
  }
  writer.Field("verified", verified);
  writer.Key("verify_problems");
  writer.BeginArray();
  for (const std::string& problem : verify_problems) writer.String(problem);
  writer.EndArray();
  writer.EndObject();
  out += "\n";
  return out;
}

std::string LoadReport::Svg() const {
  // Answered rate (left axis) and p99 latency (right axis, log scale) per second.
  constexpr double kWidth = 900, kHeight = 420, kLeft = 80, kRight = 80, kTop = 40, kBottom = 50;
  const double plot_width = kWidth - kLeft - kRight, plot_height = kHeight - kTop - kBottom;
  const size_t count = std::max<size_t>(seconds.size(), 1);
  double rate_max = 1;
  uint64_t p99_max_us = 1000;
  for (const SecondStats& second : seconds) {
    rate_max = std::max({rate_max, second.offered_per_s, static_cast<double>(second.completed)});
    p99_max_us = std::max(p99_max_us, second.p99_us);
  }
  // Round the axis up to 1, 2 or 5 times a power of ten, so that its ticks read as round numbers.
  const double magnitude = std::pow(10.0, std::floor(std::log10(rate_max * 1.05)));
  for (double step : {1.0, 2.0, 4.0, 5.0, 10.0}) {
    if (step * magnitude >= rate_max * 1.05) {
      rate_max = step * magnitude;
      break;
    }
  }
  const double log_min = std::log10(100.0),
               log_max = std::log10(static_cast<double>(p99_max_us) * 2);
  auto x = [&](size_t i) { return kLeft + plot_width * (static_cast<double>(i) + 0.5) / count; };
  auto y_rate = [&](double rate) { return kTop + plot_height * (1 - rate / rate_max); };
  auto y_latency = [&](uint64_t us) {
    const double value = std::log10(std::max<double>(100.0, static_cast<double>(us)));
    return kTop + plot_height * (1 - (value - log_min) / (log_max - log_min));
  };
  std::string svg = Format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n",
      kWidth, kHeight);
  svg += Format(
      "<text x=\"%.0f\" y=\"22\" font-size=\"15\">surge load: %s profile, answered/s "
      "and p99 latency per second</text>\n",
      kLeft, profile.c_str());
  svg += Format(
      "<text x=\"12\" y=\"%.0f\" transform=\"rotate(-90 12 %.0f)\" "
      "text-anchor=\"middle\" fill=\"#1f77b4\">requests per second</text>\n",
      kTop + plot_height / 2, kTop + plot_height / 2);
  svg += Format(
      "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
      "stroke=\"#888\"/>\n",
      kLeft, kTop, plot_width, plot_height);
  for (int tick = 0; tick <= 4; ++tick) {
    const double rate = rate_max * tick / 4;
    svg += Format("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#1f77b4\">%.0f</text>\n",
                  kLeft - 6, y_rate(rate) + 4, rate);
  }
  for (double us = 100; us <= static_cast<double>(p99_max_us) * 2; us *= 10) {
    svg += Format("<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">%g ms</text>\n",
                  kWidth - kRight + 6, y_latency(static_cast<uint64_t>(us)) + 4, us / 1000);
  }
  for (size_t i = 0; i < seconds.size(); i += std::max<size_t>(1, seconds.size() / 10)) {
    svg += Format("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%zu</text>\n", x(i),
                  kHeight - kBottom + 16, i + 1);
  }
  svg += Format("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">second of the run</text>\n",
                kLeft + plot_width / 2, kHeight - 12);
  auto polyline = [&](const char* color, const char* dash, auto y_of) {
    std::string points;
    for (size_t i = 0; i < seconds.size(); ++i) points += Format("%.1f,%.1f ", x(i), y_of(i));
    return Format(
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
        "stroke-dasharray=\"%s\" points=\"%s\"/>\n",
        color, dash, points.c_str());
  };
  svg += polyline("#aec7e8", "6,4", [&](size_t i) { return y_rate(seconds[i].offered_per_s); });
  svg += polyline("#1f77b4", "",
                  [&](size_t i) { return y_rate(static_cast<double>(seconds[i].completed)); });
  svg += polyline("#2ca02c", "",
                  [&](size_t i) { return y_rate(static_cast<double>(seconds[i].created)); });
  svg += polyline("#d62728", "", [&](size_t i) { return y_latency(seconds[i].p99_us); });
  const char* legend[][2] = {{"#aec7e8", "offered/s"},
                             {"#1f77b4", "answered/s"},
                             {"#2ca02c", "created/s"},
                             {"#d62728", "p99 latency (right, log)"}};
  for (int i = 0; i < 4; ++i) {
    const double left = kLeft + 10 + i * 170.0;
    svg += Format(
        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
        "stroke-width=\"3\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
        left, kTop + 14, left + 20, kTop + 14, legend[i][0], left + 26, kTop + 18, legend[i][1]);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace surge::drill
