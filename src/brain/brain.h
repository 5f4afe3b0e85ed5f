// The brain: profiles of users, items and categories learned from behaviour, recommendations
// and demand forecasts computed from them, and the evaluation of both on real public data.
//
// Three parts, each usable alone:
//   - Outside data: strict parsers of purchase sequences (Amazon Beauty) and invoices (UCI
//     Online Retail). Bad input gets an invalid_argument Status naming the line; nothing is
//     skipped silently.
//   - The online Brain: an in-memory, append-only event log whose every event updates the
//     profiles at once (Observe), so the next Recommend for that user already reflects it;
//     Train rebuilds the models (retrievers, embeddings and the ranker) from the log; Forecast
//     predicts a SKU's daily units from its own history.
//   - Evaluation: the leave-last-out protocol on purchase sequences (HR@10, NDCG@10 over all
//     items) and the rolling one-day-ahead forecast of daily units and orders (WAPE), the
//     figures of docs/BRAIN.md. Hyper-parameters are chosen on a validation split (each user's
//     second-to-last item; the 28 days before the test window), never on the test targets.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge::brain {

// ---------------------------------------------------------------------------------------------
// Outside data.

// Purchase sequences, one per user, items in chronological order. Items are renumbered densely
// (0 .. item_ids.size() - 1) in order of first appearance; item_ids maps them back.
struct SequenceData {
  std::vector<std::string> user_ids;             // one per sequence
  std::vector<std::string> item_ids;             // dense item index -> id as written
  std::vector<std::vector<uint32_t>> sequences;  // dense item indices, oldest first
  size_t interactions() const;
};

// Parses "user item item ...\n" lines (Amazon Beauty's Beauty.txt): decimal ids without sign or
// leading zeros (at most 19 digits), separated by single spaces, at least one item per user,
// each user on one line only. Lines end in "\n" or "\r\n"; the last may lack its end. Errors:
// invalid_argument "line N: ..." saying what is wrong (an empty file is an error too).
Result<SequenceData> ParseSequences(std::string_view text);

// One row of UCI Online Retail aggregated per invoice.
struct Invoice {
  std::string number;     // "536365"; "C536379" is a cancellation, "A563185" an adjustment
  int32_t day = 0;        // days since 1970-01-01 of InvoiceDate
  int32_t minute = 0;     // minute of that day, 0..1439
  std::string customer;   // empty where the file says "(blank)"
  std::string country;    // as written
  int64_t quantity = 0;   // units over the invoice's lines; negative for cancellations
  double unit_price = 0;  // mean unit price of the lines
  bool cancellation() const { return !number.empty() && number.front() == 'C'; }
};

// Parses the CSV with the header "InvoiceNo,InvoiceDate,CustomerID,Country,Quantity,UnitPrice"
// (lines ending in "\r\n" or "\n"): six unquoted fields per line, InvoiceNo an optional capital
// letter and 1-12 digits, InvoiceDate "M/D/YYYY H:MM" (a real calendar date), CustomerID digits or
// "(blank)", Country non-empty, Quantity an integer within +-1e9, UnitPrice a finite decimal.
// Errors: invalid_argument "line N: ..." naming the field.
Result<std::vector<Invoice>> ParseInvoices(std::string_view text);

// The invoice sizes, in units, from which an invoice counts as bulk: a wholesale order of
// thousands of units arrives at random, and mixed into the regular demand it blurs the level.
inline constexpr std::array<int64_t, 3> kBulkUnits = {1000, 2000, 5000};

// A shop's daily demand on consecutive calendar days (days without sales hold 0).
struct DailyDemand {
  int32_t first_day = 0;       // days since 1970-01-01 of units[0] and orders[0]
  std::vector<double> units;   // units sold that day
  std::vector<double> orders;  // orders (invoices) placed that day
  // bulk_units[k][d]: the part of units[d] from invoices of at least kBulkUnits[k] units.
  std::array<std::vector<double>, kBulkUnits.size()> bulk_units;
  size_t days() const { return units.size(); }
};

// Sales per day over the whole shop: the invoices that are not cancellations and have a positive
// quantity (this drops cancellations and the zero-price stock adjustments with quantity <= 0).
// units = sum of their quantities, orders = distinct invoice numbers that day (an invoice split
// over two rows is one order, and its size for bulk_units is the sum of its rows). Empty input
// gives no days.
DailyDemand AggregateDaily(std::span<const Invoice> invoices);

// ---------------------------------------------------------------------------------------------
// Metrics.

// Hit rate and NDCG at k of one ranked target: `rank` is the number of items placed before the
// target (0 = first). Hit = 1 if rank < k; NDCG = 1 / log2(rank + 2) if rank < k, else 0.
double HitAtK(size_t rank, size_t k);
double NdcgAtK(size_t rank, size_t k);

struct RankMetrics {
  double hit_rate = 0;  // mean HitAtK over the users
  double ndcg = 0;      // mean NdcgAtK over the users
  size_t users = 0;
};

// Sum |actual - forecast| / sum |actual|. Errors: invalid_argument if the sizes differ, a value
// is not finite, or the actuals sum to zero.
Result<double> Wape(std::span<const double> actual, std::span<const double> forecast);

// ---------------------------------------------------------------------------------------------
// Demand forecasting.

// How a daily series is forecast: a weighted blend of simple, robust components, all of which
// read only the history before the forecast day. Chosen by EvaluateForecasts on validation.
struct ForecastModel {
  // Weights of the components (need not sum to 1; negative weights are not allowed):
  double last_week = 0;     // the same weekday one week before
  double median_weeks = 0;  // the median of the same weekday over `weeks_median` weeks
  double smoothed = 0;      // exponential smoothing of the deseasonalised level (weight alpha)
                            // times a weekday factor estimated over `weeks_factor` weeks
  double split = 0;         // regular demand and bulk apart: the deseasonalised mean of the
                            // regular demand's last `level_days` trading days times the
                            // weekday factor, plus the bulk units per trading day over the last
                            // `bulk_days` days (without a bulk history, all is regular)
  int weeks_median = 4;
  int weeks_factor = 12;
  double alpha = 0.3;
  int level_days = 10;
  int bulk_days = 56;
};

// Forecasts `horizon` days following `history` (history[i] is day first_day + i), each day
// from what precedes it, feeding its own forecasts back for days beyond the history. Short
// histories degrade to what is available (the mean of the days known; 0 for none).
// `bulk_history` is empty or, day by day, the part of `history` that came in bulk orders.
std::vector<double> ForecastDaily(std::span<const double> history,
                                  std::span<const double> bulk_history, int32_t first_day,
                                  int horizon, const ForecastModel& model);
inline std::vector<double> ForecastDaily(std::span<const double> history, int32_t first_day,
                                         int horizon, const ForecastModel& model) {
  return ForecastDaily(history, {}, first_day, horizon, model);
}

// ---------------------------------------------------------------------------------------------
// The online brain.

enum class EventKind : uint8_t { kView = 0, kCart = 1, kPurchase = 2 };
std::string_view EventKindName(EventKind kind);  // "view", "cart", "purchase"
bool ParseEventKind(std::string_view name, EventKind* kind);

struct Event {
  std::string user;  // ids of 1-64 characters of [A-Za-z0-9_.:-] (common/ids.h)
  std::string item;  // a SKU
  EventKind kind = EventKind::kPurchase;
  int64_t time_ms = 0;   // ms since the Unix epoch, >= 0
  int64_t quantity = 1;  // units; >= 1
  // The center that took the order (for purchases; per-center demand), empty = unknown; else
  // 1-32 characters of [A-Za-z0-9_.:-]. (Its "= {}" lets lists of the five fields above
  // initialize an Event without -Wmissing-field-initializers.)
  std::string center = {};
};

// What the catalogue knows of an item; optional (an item first seen in an event has none).
struct ItemInfo {
  std::string category;      // empty = unknown
  int64_t price_cents = -1;  // < 0 = unknown
};

struct BrainOptions {
  // Half-life of the decayed counters of the profiles (popularity now, category affinity).
  std::chrono::milliseconds half_life = std::chrono::hours(24 * 7);
  // Items of a user's history kept for recommending (the most recent ones).
  size_t recent_items = 64;
  // Slots of a cold user's list given to exploration (a catalogue item nobody bought yet, else
  // one further down the popular list), to learn about items nobody has bought yet.
  size_t exploration_slots = 1;
  // The ranker (gradient-boosted trees) is trained when the log has at least this many users
  // with two steps or more in their sequences; below it the blend of the retrievers ranks
  // alone.
  size_t ranker_min_users = 200;
  uint64_t seed = 1;
};

struct Recommendation {
  std::string item;
  double score = 0;  // larger is better; comparable within one answer only
  // Short and human: "often bought after X", "bought together with X", "like your recent
  // items", "popular"; for cold users "popular now", "popular in C", "you like C", "explore".
  std::string reason;
};

struct TrainReport {
  size_t users = 0;      // users with at least one event
  size_t items = 0;      // items in the models
  size_t purchases = 0;  // purchase events among the events the models learned from
  bool ranker = false;   // whether a ranker was trained
  double seconds = 0;    // wall time of the whole retrain
};

struct DayForecast {
  int32_t day = 0;  // days since 1970-01-01
  double units = 0;
};

// One center's share of an item's demand (Brain::ForecastByCenter).
struct CenterForecast {
  std::string center;
  std::vector<DayForecast> days;
  double total_units = 0;  // the sum of `days`
};

// A user likely to buy an item next (Brain::Audience).
struct AudienceMember {
  std::string user;
  double score = 0;  // larger is more likely; comparable within one answer only
  // Short and human, from the strongest evidence: "put this in the cart", "viewed this",
  // "bought X, often followed by this", "bought X, often bought together with this",
  // "bought X, similar to this" (viewed / put in the cart instead of bought where that is the
  // evidence), "likes C" (the item's category).
  std::string reason;
};

// Thread safety: every method may be called from any thread at once. Observe and PutItem take
// an exclusive lock for a few microseconds; Recommend copies the user's state under a shared
// lock, ranks without it (on the models of that moment, which a concurrent Train cannot free)
// and names the items under a shared lock again; Forecast, ForecastByCenter and Audience hold a
// shared lock (Audience for its whole, bounded, work: well under a millisecond at a million
// items); Train builds new models without holding the lock and swaps them in at the end.
class Brain {
 public:
  explicit Brain(BrainOptions options = {});
  ~Brain();
  Brain(const Brain&) = delete;
  Brain& operator=(const Brain&) = delete;

  // Records the catalogue facts of an item (category, price), used for cold start and as
  // features. Errors: bad_field for a bad id or a category longer than 64 bytes.
  Status PutItem(std::string_view item, const ItemInfo& info);

  // Appends the event to the log and updates the profiles of its user, item and category at
  // once. Errors: bad_field naming the field for a bad id, a negative time, a quantity < 1 or
  // an unknown kind.
  Status Observe(const Event& event);

  // Up to `count` items for `user` at `now_ms`, best first, never an item the user already
  // bought. A user the models know is ranked from their recent items, including the events
  // observed since the last Train. A user never seen (or whose items the models do not know
  // yet) gets the popular items of the moment (decayed counts), items of the top categories (of
  // their own if they showed interest in some) and `exploration_slots` exploration items; lists
  // are topped up that way when the models find too few. Errors: bad_field for a bad id or a
  // count outside [1, 1000].
  Result<std::vector<Recommendation>> Recommend(std::string_view user, size_t count,
                                                int64_t now_ms) const;

  // Rebuilds the models from the whole log: each user's events in time order, consecutive
  // events on one item being one step (the same sequence the profiles keep for serving). The
  // ranker learns to predict each user's last step from models of everything before it.
  // Errors: only internal ones from the tree library.
  Result<TrainReport> Train();

  // Daily units of `item` for `days` days from `from_day` (days since the epoch), from its
  // purchases before from_day. An item without purchases gets the prior of its category (its
  // mean per item), else 0; an item never seen gets 0. Errors: bad_field for a bad id or days
  // outside [1, 366].
  Result<std::vector<DayForecast>> Forecast(std::string_view item, int32_t from_day,
                                            int days) const;

  // Daily units of `item` per center (the centers seen in its purchase events, or for an item
  // nobody bought yet in its category's, shared over the category's items), each forecast like
  // Forecast from that center's own daily units; sorted by center id. An item without such
  // purchases gets an empty list. Errors: as Forecast.
  Result<std::vector<CenterForecast>> ForecastByCenter(std::string_view item, int32_t from_day,
                                                       int days) const;

  // Up to `count` users most likely to buy `item` next (targeted marketing), best first (ties:
  // the user seen first), never a user who already bought it. Candidates come from the models,
  // not from a scan of all users: the recent users of `item` itself (viewed, carted), of the
  // items that lead to it (transitions), that are bought with it (kNN) or near it (embeddings),
  // and of its category; each piece of evidence weighs its model's strength times the event's
  // kind, halved every half-life since it happened. The cost is bounded whatever the number of
  // users (each item and category remembers its most recent users only). Before the first
  // Train only the item's own users and its category's are used. Errors: bad_field for a bad
  // id or a count outside [1, 10000]; not_found for an item the brain has never seen (neither
  // in an event nor in PutItem).
  Result<std::vector<AudienceMember>> Audience(std::string_view item, size_t count,
                                               int64_t now_ms) const;

  size_t event_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Evaluation (docs/BRAIN.md).

struct RecommendationEvalOptions {
  size_t users = 0;    // evaluate the first N users only; 0 = all
  int threads = 2;     // worker threads
  bool tune = true;    // search the hyper-parameters on validation (else use the defaults)
  bool ranker = true;  // train and evaluate the tree ranker
  std::function<void(std::string_view)> progress;  // optional log lines
};

struct ModelResult {
  std::string name;
  std::string description;
  RankMetrics validation;  // second-to-last item, models from everything before it
  RankMetrics test;        // last item, models from everything before it
};

struct RecommendationEvalReport {
  size_t users = 0;  // evaluated
  size_t items = 0;
  size_t interactions = 0;
  std::vector<ModelResult> models;  // popularity first, the ranked final last
  std::string chosen;               // the hyper-parameters validation chose, as text
  double retrain_seconds = 0;       // one full retrain with the chosen hyper-parameters
  double tune_seconds = 0;
  double eval_seconds = 0;
};

// Leave-last-out on `data`: each user's last item is the test target with everything before it
// as history, ranked over all items with the user's history items excluded (the target never
// is); ties count against the target (items scoring the same are placed before it). Errors:
// invalid_argument if a sequence has fewer than 3 items or there are no users.
Result<RecommendationEvalReport> EvaluateRecommendations(const SequenceData& data,
                                                         const RecommendationEvalOptions& options);

struct ForecastResult {
  std::string name;
  double units_validation = 0, units_test = 0;    // WAPE
  double orders_validation = 0, orders_test = 0;  // WAPE
};

struct ForecastEvalReport {
  int32_t test_first_day = 0, test_last_day = 0;
  int32_t validation_first_day = 0;
  std::vector<ForecastResult> models;         // the same-weekday-last-week baseline first
  ForecastModel chosen_units, chosen_orders;  // the blends validation chose
  int64_t bulk_units = 0;  // units from which an invoice is bulk, as validation chose; 0 = none
  std::string trees_units, trees_orders;                   // the tree configurations it chose
  double trees_weight_units = 0, trees_weight_orders = 0;  // the trees' share in the mix
  // The test day whose error weighs most in the blend's units WAPE, and how much of it
  // (|actual - forecast| of that day over the window's sum of |actual|).
  int32_t units_worst_day = 0;
  double units_worst_share = 0;
};

// Rolling one-day-ahead forecasts of the last `window_days` days of `demand` (each from the
// days before it), WAPE for units and orders; every choice (components, blends, trees and their
// share) is made on the three windows of as many days before them, and the trees are retrained
// every 7 days on all the days before. `quick` searches trees of depth 2 and 30 rounds only
// (for tests; the full search is 144 configurations). Errors: invalid_argument if the series is
// shorter than 4 windows plus 20 weeks, or its orders or bulk series differ in length.
Result<ForecastEvalReport> EvaluateForecasts(const DailyDemand& demand, int window_days = 28,
                                             bool quick = false);

// docs/BRAIN.md's generated section for the two reports.
std::string ReportMarkdown(const RecommendationEvalReport& recommendations,
                           const ForecastEvalReport& forecasts);

}  // namespace surge::brain
