// lag_probe: the data bus's two lags in a running deployment, measured from outside over HTTP.
//
//   lag_probe master-data --master HOST:PORT --subs HOST:PORT[,HOST:PORT...] [--count N]
//             [--rate R]
//     Writes N merchants at the master, R per second, and after each acknowledgement polls every
//     sub-center until the merchant is readable there: the replication lag of master data, from
//     the master's acknowledgement to visibility at the sub-center (polling resolution: one GET
//     on loopback, about 0.1-0.3 ms).
//
//   lag_probe aggregation --master HOST:PORT --subs ID=HOST:PORT[,...] --campaigns ID[,ID...]
//             [--duration-s S] [--period-ms P]
//     While something else drives orders, samples every P ms each sub-center's own units of the
//     campaigns (reserved + sold) and the master's view of them. At each sample, the master lags
//     behind a sub-center by how long ago the sub-center first held more units than the master
//     now says it holds (0 when the master has caught up): the age of the oldest acknowledged
//     order the global view is missing. Resolution: the sampling period plus a GET under load.
//
// Prints a table and one JSON line ({"mode",...,"p50_ms","p90_ms","p99_ms","max_ms","samples"}).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/http.h"
#include "json/json.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Target {
  std::string id;
  std::string host;
  uint16_t port = 0;
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "lag_probe: %s\n", message.c_str());
  std::exit(2);
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(separator, start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// "ID=HOST:PORT" or "HOST:PORT" (the id is then the address).
Target ParseTarget(const std::string& text) {
  Target target;
  std::string address = text;
  if (const size_t equals = text.find('='); equals != std::string::npos) {
    target.id = text.substr(0, equals);
    address = text.substr(equals + 1);
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) Fail("expected HOST:PORT, got " + address);
  target.host = address.substr(0, colon);
  target.port = static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1));
  if (target.port == 0) Fail("bad port in " + address);
  if (target.id.empty()) target.id = address;
  return target;
}

double Percentile(std::vector<double> values, double quantile) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(quantile * values.size()));
  return values[index];
}

void Report(const std::string& mode, const std::string& label, const std::vector<double>& lags) {
  std::printf("%-12s %-24s samples %6zu  p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n",
              mode.c_str(), label.c_str(), lags.size(), Percentile(lags, 0.5),
              Percentile(lags, 0.9), Percentile(lags, 0.99), Percentile(lags, 1.0));
  std::printf(
      "{\"mode\":\"%s\",\"label\":\"%s\",\"samples\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
      mode.c_str(), label.c_str(), lags.size(), Percentile(lags, 0.5), Percentile(lags, 0.9),
      Percentile(lags, 0.99), Percentile(lags, 1.0));
}

double MsSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

int MasterData(const Target& master, const std::vector<Target>& subs, int count, double rate) {
  surge::http::Client writer(master.host, master.port, milliseconds(5'000));
  std::vector<std::unique_ptr<surge::http::Client>> readers;
  for (const Target& sub : subs) {
    readers.push_back(
        std::make_unique<surge::http::Client>(sub.host, sub.port, milliseconds(5'000)));
  }
  std::vector<double> all;
  const std::string run = std::to_string(
      std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count());
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const Clock::time_point begin = Clock::now();
  for (int i = 0; i < count; ++i) {
    std::this_thread::sleep_until(begin +
                                  std::chrono::duration_cast<Clock::duration>(interval * i));
    const std::string target = "/v1/merchants/lag-" + run + "-" + std::to_string(i);
    auto written = writer.Do("PUT", target, R"({"name":"lag probe"})");
    if (!written.ok() || written->status != 200) Fail("PUT " + target + " at the master failed");
    const Clock::time_point acknowledged = Clock::now();
    std::vector<bool> seen(subs.size(), false);
    size_t missing = subs.size();
    while (missing > 0) {
      for (size_t s = 0; s < subs.size(); ++s) {
        if (seen[s]) continue;
        auto read = readers[s]->Do("GET", target);
        if (read.ok() && read->status == 200) {
          seen[s] = true;
          --missing;
          all.push_back(MsSince(acknowledged, Clock::now()));
        }
      }
      if (MsSince(acknowledged, Clock::now()) > 30'000) Fail(target + " never reached a sub");
    }
    if ((i + 1) % 100 == 0) std::fprintf(stderr, "lag_probe: %d/%d written\n", i + 1, count);
  }
  Report("master-data", std::to_string(subs.size()) + " sub-centers", all);
  return 0;
}

// Reserved + sold of the campaigns in a campaign view's JSON: the top-level counts, or (at the
// master) those of center `center` in its breakdown.
int64_t Units(const std::string& body, const std::string& center) {
  surge::json::Document document;
  if (!document.Parse(body).ok()) return -1;
  surge::json::Value object = document.root();
  if (!center.empty()) {
    auto centers = object.Field("centers");
    if (!centers.ok()) return -1;
    auto size = centers->ArraySize();
    bool found = false;
    for (size_t i = 0; size.ok() && i < *size && !found; ++i) {
      auto each = centers->At(i);
      if (!each.ok()) return -1;
      auto id = each->Field("center");
      if (id.ok() && id->String().ok() && *id->String() == center) {
        object = *each;
        found = true;
      }
    }
    if (!found) return -1;
  }
  int64_t units = 0;
  for (const char* name : {"reserved", "sold"}) {
    auto value = object.Field(name);
    if (!value.ok()) return -1;
    auto number = value->Int(0, INT64_MAX);
    if (!number.ok()) return -1;
    units += *number;
  }
  return units;
}

int64_t ReadUnits(surge::http::Client& client, const std::vector<std::string>& campaigns,
                  const std::string& center) {
  int64_t total = 0;
  for (const std::string& campaign : campaigns) {
    auto read = client.Do("GET", "/v1/campaigns/" + campaign);
    if (!read.ok() || read->status != 200) return -1;
    const int64_t units = Units(read->body, center);
    if (units < 0) return -1;
    total += units;
  }
  return total;
}

int Aggregation(const Target& master, const std::vector<Target>& subs,
                const std::vector<std::string>& campaigns, int seconds, int period_ms) {
  surge::http::Client master_client(master.host, master.port, milliseconds(10'000));
  std::vector<std::unique_ptr<surge::http::Client>> sub_clients;
  for (const Target& sub : subs) {
    sub_clients.push_back(
        std::make_unique<surge::http::Client>(sub.host, sub.port, milliseconds(10'000)));
  }
  // Per sub-center: when its own units first reached each level (increasing), to date a lag.
  std::vector<std::deque<std::pair<int64_t, Clock::time_point>>> firsts(subs.size());
  std::vector<double> lags;
  const Clock::time_point end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    const Clock::time_point sampled = Clock::now();
    for (size_t s = 0; s < subs.size(); ++s) {
      const int64_t local = ReadUnits(*sub_clients[s], campaigns, "");
      const Clock::time_point read_at = Clock::now();
      if (local < 0) continue;
      if (firsts[s].empty() || local > firsts[s].back().first)
        firsts[s].emplace_back(local, read_at);
      const int64_t seen = ReadUnits(master_client, campaigns, subs[s].id);
      if (seen < 0) continue;
      // The oldest level the master has not reached: the sub-center first held more than `seen`
      // units at that time.
      double lag = 0;
      for (const auto& [level, at] : firsts[s]) {
        if (level > seen) {
          lag = MsSince(at, Clock::now());
          break;
        }
      }
      lags.push_back(lag);
      // Levels the master has reached will never date a lag again.
      while (firsts[s].size() > 1 && firsts[s][1].first <= seen) firsts[s].pop_front();
    }
    std::this_thread::sleep_until(sampled + milliseconds(period_ms));
  }
  Report("aggregation", std::to_string(subs.size()) + " sub-centers", lags);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Fail("usage: lag_probe master-data|aggregation --master HOST:PORT --subs ...");
  const std::string mode = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) Fail("expected a --flag, got " + name);
    flags[name.substr(2)] = argv[i + 1];
  }
  if (!flags.count("master") || !flags.count("subs")) Fail("--master and --subs are required");
  const Target master = ParseTarget(flags["master"]);
  std::vector<Target> subs;
  for (const std::string& text : Split(flags["subs"], ',')) subs.push_back(ParseTarget(text));
  if (mode == "master-data") {
    const int count = flags.count("count") ? std::atoi(flags["count"].c_str()) : 500;
    const double rate = flags.count("rate") ? std::atof(flags["rate"].c_str()) : 50;
    if (count <= 0 || rate <= 0) Fail("--count and --rate must be positive");
    return MasterData(master, subs, count, rate);
  }
  if (mode == "aggregation") {
    if (!flags.count("campaigns")) Fail("--campaigns is required");
    const int seconds = flags.count("duration-s") ? std::atoi(flags["duration-s"].c_str()) : 10;
    const int period = flags.count("period-ms") ? std::atoi(flags["period-ms"].c_str()) : 10;
    return Aggregation(master, subs, Split(flags["campaigns"], ','), seconds, period);
  }
  Fail("unknown mode " + mode);
}
