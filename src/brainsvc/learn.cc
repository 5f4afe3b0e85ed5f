// What the brain learns besides posted events: the platform's order events and master data from
// the bus, and the synthetic catalogue of benchmarks.
#include <algorithm>
#include <string>

#include "brainsvc/service_internal.h"
#include "common/log.h"
#include "trade/trade.h"

namespace surge::brainsvc {
namespace {

constexpr size_t kCategoryLengthMax = 64;  // brain.h's bound; a longer one counts as unknown

// Each created order is a purchase of each of its items, by its user, at the center that took
// it. Payments, cancellations and expiries change no demand signal the brain uses.
void LearnOrders(const std::string& center, const bus::Record& record, LogRecord* out) {
  if (!trade::IsEventsRecord(record.payload)) return;
  Result<trade::EventsRecord> decoded = trade::DecodeEvents(record.payload);
  if (!decoded.ok()) {
    SURGE_LOG_WARNING("brain: order events %s/%llu do not decode, skipped: %s", center.c_str(),
                      static_cast<unsigned long long>(record.sequence),
                      decoded.status().ToString().c_str());
    return;
  }
  for (const trade::OrderEvent& event : decoded->events) {
    if (event.type != trade::OrderEventType::kCreated) continue;
    for (const trade::OrderItemView& item : event.order.items) {
      brain::Event purchase;
      purchase.user = event.order.user;
      purchase.item = item.sku;
      purchase.kind = brain::EventKind::kPurchase;
      purchase.time_ms = std::max<int64_t>(0, event.at_ms);
      purchase.quantity = item.quantity;
      purchase.center = center;
      if (LoggableEvent(purchase)) out->events.push_back(std::move(purchase));
    }
  }
}

// Products give their items a category and a price.
void LearnMasterData(const std::string& center, const bus::Record& record, LogRecord* out) {
  Result<trade::Command> command = trade::DecodeCommand(record.payload);
  if (!command.ok()) {
    SURGE_LOG_WARNING("brain: master data %s/%llu does not decode, skipped: %s", center.c_str(),
                      static_cast<unsigned long long>(record.sequence),
                      command.status().ToString().c_str());
    return;
  }
  const auto* product = std::get_if<trade::PutProduct>(&command->body);
  if (product == nullptr) return;
  brain::ItemInfo info;
  if (product->category.size() <= kCategoryLengthMax) info.category = product->category;
  info.price_cents = product->price_cents;
  if (LoggableItem(product->sku, info)) out->items.emplace_back(product->sku, std::move(info));
}

// A small deterministic generator (splitmix64), so that every start builds the same data.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t bound) { return Next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace

LogRecord LearnFromBusRecord(const std::string& center, const bus::Record& record) {
  LogRecord out;
  out.from_bus = true;
  out.center = center;
  out.kind = static_cast<uint8_t>(record.kind);
  out.sequence = record.sequence;
  if (record.kind == bus::Kind::kOrders) LearnOrders(center, record, &out);
  if (record.kind == bus::Kind::kMasterData) LearnMasterData(center, record, &out);
  return out;
}

// Items i0..i(N-1) in 100 categories. Users su0.. buy sequences of 10 items: each next item is
// near the previous one (a neighbour in id order within 50), or, one time in four, a popular one
// (an item among the first 1% ), so that transitions, co-occurrence and popularity all carry
// signal, as in a real catalogue.
Status LoadSynthetic(const Options& options, int64_t now_ms, brain::Brain& brain) {
  const size_t items = options.synthetic_items;
  if (items == 0) {
    if (options.synthetic_events > 0) {
      return Status(Code::kInvalidArgument, "synthetic events need synthetic items");
    }
    return Status::Ok();
  }
  Random random(options.synthetic_seed);
  for (size_t k = 0; k < items; ++k) {
    brain::ItemInfo info;
    info.category = "c" + std::to_string(k % 100);
    info.price_cents = static_cast<int64_t>(100 + random.Below(100'000));
    SURGE_RETURN_IF_ERROR(brain.PutItem("i" + std::to_string(k), info));
  }
  constexpr size_t kSequence = 10;
  constexpr int64_t kSpanMs = int64_t{30} * 86'400'000;
  const size_t popular = std::max<size_t>(1, items / 100);
  uint64_t current = 0;
  for (size_t e = 0; e < options.synthetic_events; ++e) {
    if (e % kSequence == 0 || random.Below(4) == 0) {
      current = random.Below(popular);
    } else {
      current = (current + 1 + random.Below(50)) % items;
    }
    brain::Event event;
    event.user = "su" + std::to_string(e / kSequence);
    event.item = "i" + std::to_string(current);
    event.kind = brain::EventKind::kPurchase;
    event.time_ms = std::max<int64_t>(
        0, now_ms - kSpanMs +
               static_cast<int64_t>(e) * kSpanMs / static_cast<int64_t>(options.synthetic_events));
    SURGE_RETURN_IF_ERROR(brain.Observe(event));
  }
  return Status::Ok();
}

}  // namespace surge::brainsvc
