// brainsvc: the brain served inside the platform. One process (`surge brain serve`) owns a
// brain::Brain, feeds it from two sources and answers API.md's brain paths over HTTP:
//
//   POST /v1/events          behaviour events of clients (view, cart, purchase)
//   data bus                 every center's order events (kOrders: each created order is a
//                            purchase of each of its items, with the center that took it) and the
//                            master's master data (kMasterData: products give items their
//                            category and price)
//   GET /v1/recommendations  Brain::Recommend        GET /v1/forecast  Brain::Forecast (by=center:
//   GET /v1/audience         Brain::Audience                            Brain::ForecastByCenter)
//
// Durability. Everything the Brain learns is first appended to an event log (src/journal, in
// DATA/events): a behaviour event is acknowledged (202) only once its record is durable, and a bus
// record is applied only once a record of what it taught (the events and catalogue facts it
// held) and of its stream position (center, kind, sequence) is durable. Open replays the log into
// a fresh Brain, so nothing acknowledged is lost, and resumes each bus stream after the last
// sequence it applied, so nothing is applied twice (the bus contract, bus.h). Records are written
// by one writer thread in groups (one fdatasync per group).
//
// Quotas from forecasts (ARCHITECTURE's "Inventory across centers"). Every demand_interval a
// planner thread asks Brain::ForecastByCenter for the units each center will sell over the next
// demand_days days, for the demand_skus SKUs with the most orders seen on the bus and the most
// recent products of the master data, and puts what changed to the master as master data
// (PUT /v1/demand/{sku} at demand_target, API.md): the master splits the up-front part of every
// new campaign's stock in proportion to it. A put that fails is tried again next round.
//
// Serving. Reads run on the HTTP event loops, on the Brain of the moment (an event counts in
// recommendations as soon as its 202 was sent). A retrain thread calls Brain::Train every
// train_interval, or sooner once train_after_events new events arrived, without stopping reads
// or writes (brain.h's thread safety).
//
// Errors (API.md format): unknown path 404 not_found; a known path with another method 405
// method_not_allowed; bad JSON 400 bad_json; a bad, missing, unknown or duplicate field or query
// parameter 400 bad_field naming it (nothing is recorded then: a batch of events is all or
// nothing); a service whose log failed answers 503 unavailable to writes.
//
// Thread safety: Handle may be called from any number of threads at once; stats() from any.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brain/brain.h"
#include "bus/bus.h"
#include "common/env.h"
#include "common/status.h"
#include "http/http.h"

namespace surge::brainsvc {

// Bounds of the HTTP API (documented in API.md).
inline constexpr size_t kEventsPerRequestMax = 1000;
inline constexpr int64_t kQuantityMax = 1'000'000;
inline constexpr int64_t kTimeMsMax = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
inline constexpr int64_t kCountMax = 1000;                  // k and n
inline constexpr int64_t kDaysMax = 366;

struct Options {
  std::string data_dir;  // the event log lives in data_dir/events
  brain::BrainOptions brain;

  // Retrain every train_interval (0: never on a timer), and also once train_after_events events
  // arrived since the last retrain (0: never on a count). Both off: Train only at Open.
  std::chrono::milliseconds train_interval{60'000};
  uint64_t train_after_events = 0;

  // The deployment whose order events the brain follows (bus may be null: no bus). `centers`
  // are every center's id (their kOrders streams are followed), `master` the one whose
  // kMasterData stream is followed (empty: none). The bus must outlive the service.
  bus::Bus* bus = nullptr;
  std::vector<std::string> centers;
  std::string master;

  // Quotas from forecasts (see above): where to PUT /v1/demand ("HOST:PORT" of the gateway or
  // the master; empty: no planner), how often, for how many SKUs, over how many days.
  std::string demand_target;
  std::chrono::milliseconds demand_interval{10'000};
  size_t demand_skus = 1000;
  int demand_days = 7;

  // Records waiting for the writer; a bus delivery waits while the queue is this full, and a
  // POST beyond it is answered 503 overloaded.
  size_t queue_records_max = 65'536;

  // For benchmarks: `synthetic_items` items "i<k>" (categories "c<k % 100>", prices) and
  // `synthetic_events` purchase events of users "su<j>" over them, generated from the seed at
  // Open, before the log is replayed. Not logged: they are the same at every start.
  size_t synthetic_items = 0;
  size_t synthetic_events = 0;
  uint64_t synthetic_seed = 1;
};

struct Stats {
  uint64_t events_posted = 0;        // behaviour events made durable since Open
  uint64_t bus_records_applied = 0;  // bus records made durable and applied since Open
  uint64_t orders_observed = 0;      // purchases taken from order events since Open
  uint64_t records_replayed = 0;     // log records replayed by Open
  uint64_t brain_events = 0;         // Brain::event_count()
  uint64_t trains = 0;               // retrains finished since Open (the one at Open included)
  double last_train_seconds = 0;
  uint64_t demand_puts = 0;  // PUT /v1/demand the master accepted since Open
  bool failed = false;       // the log failed: writes are refused
  // The last sequence applied of each followed stream: (center, bus::Kind) -> sequence.
  std::map<std::pair<std::string, uint8_t>, uint64_t> applied_through;
};

class Service : public http::Handler {
 public:
  // Opens (or creates) the log, replays it into a fresh Brain, starts the writer and the
  // retrain threads, trains once (in the background) and subscribes to the bus streams.
  // invalid_argument for bad options; the log's errors (corruption names the file) otherwise.
  static Result<std::unique_ptr<Service>> Open(Env& env, const Options& options);
  ~Service() override = default;

  // Stops following the bus, writes what is queued, joins the threads. Idempotent. Requests
  // handled afterwards get 503 unavailable.
  virtual void Stop() = 0;
  virtual Stats stats() const = 0;
  // Runs Brain::Train now, on the caller's thread (tests).
  virtual Result<brain::TrainReport> TrainNow() = 0;
  virtual const brain::Brain& brain() const = 0;
};

// ---- The codec of the event log and the request parsers (exposed for tests and fuzzers) ------

// One record of the event log: behaviour events posted together, or what one bus record taught.
struct LogRecord {
  // Set for a bus record: its stream and sequence.
  bool from_bus = false;
  std::string center;
  uint8_t kind = 0;  // bus::Kind
  uint64_t sequence = 0;
  std::vector<std::pair<std::string, brain::ItemInfo>> items;  // catalogue facts
  std::vector<brain::Event> events;
};

// Format: version byte 1, flags byte (bit 0: from the bus), [center, kind, sequence], the
// items (count, then sku, category, price_cents+1 as varint), the events (count, then user, item,
// kind, time_ms, quantity, center). Encode asserts what Decode checks: ids valid, kinds known,
// times in [0, kTimeMsMax], quantities in [1, kQuantityMax]. Decode returns corruption for
// anything it cannot read, including trailing bytes.
void EncodeLogRecord(const LogRecord& record, std::string* out);
Result<LogRecord> DecodeLogRecord(std::string_view bytes);

// POST /v1/events's body: one event {"user","sku","type","at"?,"quantity"?} or
// {"events": [event, ...]} with 1..kEventsPerRequestMax events. "at" defaults to `now_ms`,
// "quantity" to 1. bad_json / bad_field naming the field (events[2].type) on anything else.
Result<std::vector<brain::Event>> ParseEventsBody(std::string_view body, int64_t now_ms);

// A query string "a=1&b=x" as name -> value. bad_field for an empty or duplicate name, a name
// not in `allowed`, a part without '=', or a value with '%' or '+' (ids need no escaping).
Result<std::map<std::string_view, std::string_view>> ParseQuery(
    std::string_view query, std::initializer_list<std::string_view> allowed);

// Days since 1970-01-01 <-> "YYYY-MM-DD" (years 1970..9999). ParseDate: bad_field for any other
// text or an impossible date.
std::string FormatDate(int32_t day);
Result<int32_t> ParseDate(std::string_view text);

}  // namespace surge::brainsvc
