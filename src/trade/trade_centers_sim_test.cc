// A randomized run of a whole deployment's trade state: a master and two sub-centers, each a
// Trade with its own journal (a vector of encoded records with sequences), connected the way the
// bus connects them:
//   - the master's records of master data, quota and CenterOrders (stream kind 1) are re-applied
//     at every sub with origin {master, 1, sequence};
//   - a sub's own RequestQuota and ReturnQuota (kind 3) are applied at the master with origin
//     {sub, 3, sequence}, and so come back to every sub through the master's stream;
//   - a sub's order events (kind 2, an events record per command that made some) become a
//     CenterOrders at the master with origin {sub, 2, sequence}.
// Deliveries come late (at random) and sometimes twice (a stream rewound a little, as after a
// reconnection); now and then a center restarts from its snapshot. Random orders, payments,
// cancellations, returns and master-data changes happen at every center, and each center takes
// the quota commands it is told to. Checked at every step: the invariants, the sum of the centers'
// quotas never above the stock, and identical allocation tables wherever the master's stream is
// fully delivered; at the end, once everything is delivered: the master's per-center view equals
// each center's own counts, and nothing sold beyond the stock.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "trade/trade.h"
#include "trade/trade_model_testing.h"
#include "trade/trade_state.h"

namespace surge::trade {
namespace {

constexpr uint8_t kMasterData = 1;
constexpr uint8_t kOrders = 2;
constexpr uint8_t kQuota = 3;
constexpr uint8_t kUnpublished = 0;

const std::vector<std::string> kCenterIds = {"m", "s1", "s2"};
const std::vector<std::string> kCampaigns = {"c0", "c1", "c2"};
constexpr int kUsers = 12;

struct Record {
  uint64_t sequence = 0;
  uint8_t kind = kUnpublished;
  std::string payload;    // an encoded command, or an events record
  Code code = Code::kOk;  // what the command was answered here
};

// One center: its Trade and its journal.
class Center {
 public:
  Center(const std::string& id, size_t index, int64_t up_front_percent)
      : id_(id), index_(index), up_front_percent_(up_front_percent) {
    Start();
  }

  // Applies a command and journals it; a sub also journals the events it made.
  Reply Apply(const Command& command) {
    const Reply reply = trade_->Apply(command);
    Journal(PublishedKind(command), [&](std::string* out) { EncodeCommand(command, out); });
    journal_.back().code = reply.status.code();
    std::vector<OrderEvent> events;
    trade_->TakeEvents(&events);
    if (!events.empty() && !is_master()) {
      const uint64_t through = journal_.back().sequence;
      Journal(kOrders, [&](std::string* out) { EncodeEvents(through, events, out); });
    }
    return reply;
  }
  // A restart: a new Trade from this one's snapshot.
  void Restart() {
    const std::string snapshot = trade_->Snapshot();
    Start();
    ASSERT_TRUE(trade_->Restore(snapshot).ok());
  }

  const std::string& id() const { return id_; }
  size_t index() const { return index_; }
  bool is_master() const { return index_ == 0; }
  Trade& trade() const { return *trade_; }
  const std::vector<Record>& journal() const { return journal_; }

 private:
  void Start() {
    Options options;
    options.order_id_prefix = "o." + id_ + ".";
    options.center = id_;
    options.master = kCenterIds[0];
    options.centers = kCenterIds;
    options.up_front_percent = up_front_percent_;
    options.record_events = true;
    trade_ = Trade::Create(options);
  }
  uint8_t PublishedKind(const Command& command) const {
    const Body& body = command.body;
    const bool quota =
        std::holds_alternative<RequestQuota>(body) || std::holds_alternative<ReturnQuota>(body);
    if (is_master()) {
      const bool order =
          std::holds_alternative<PlaceOrder>(body) || std::holds_alternative<PayOrder>(body) ||
          std::holds_alternative<CancelOrder>(body) || std::holds_alternative<Tick>(body);
      return order ? kUnpublished : kMasterData;
    }
    return quota && !command.origin.has_value() ? kQuota : kUnpublished;
  }
  template <typename Write>
  void Journal(uint8_t kind, Write write) {
    Record& record = journal_.emplace_back();
    record.sequence = journal_.size();
    record.kind = kind;
    write(&record.payload);
  }

  std::string id_;
  size_t index_;
  int64_t up_front_percent_;
  std::unique_ptr<Trade> trade_;
  std::vector<Record> journal_;
};

// A consumer's subscription to one stream of another center: the position of the next journal
// record to look at.
struct Subscription {
  size_t consumer = 0;
  size_t producer = 0;
  uint8_t kind = 0;
  size_t next = 0;
};

struct Tally {
  std::map<std::string, size_t> counts;
  void Add(const std::string& what) { ++counts[what]; }
};

class Deployment {
 public:
  Deployment(uint64_t seed, int64_t up_front_percent) : random_(seed) {
    for (size_t i = 0; i < kCenterIds.size(); ++i) {
      centers_.emplace_back(kCenterIds[i], i, up_front_percent);
    }
    for (size_t sub = 1; sub < centers_.size(); ++sub) {
      subscriptions_.push_back({sub, 0, kMasterData, 0});
      subscriptions_.push_back({0, sub, kQuota, 0});
      subscriptions_.push_back({0, sub, kOrders, 0});
    }
  }

  void SetUp() {
    AtMaster(PutMerchant{"acme", "Acme"});
    for (size_t c = 0; c < kCampaigns.size(); ++c) {
      AtMaster(PutProduct{Sku(c), "acme", "Product", "things", 1000});
    }
    AtMaster(PutInventory{Sku(0), 30});
    for (int u = 0; u < kUsers; ++u) AtMaster(PutUser{User(u), "region"});
    // c0 runs all along, c1 ends half-way (so subs return what is left), c2 opens later.
    AtMaster(PutCampaign{"c0", Sku(0), 40, 500, 0, 1'000'000, 4, 40});
    AtMaster(PutCampaign{"c1", Sku(1), 25, 500, 0, 1'500, 3, 60});
    AtMaster(PutCampaign{"c2", Sku(2), 31, 500, 1'000, 1'000'000, 4, 30});
  }

  // One random step; returns a description of the first broken check, or "".
  std::string Step() {
    now_ms_ += Pick(0, 3);
    Center& center = centers_[static_cast<size_t>(Pick(0, 2))];
    const int64_t roll = Pick(0, 99);
    if (roll < 45) {
      Order(center);
    } else if (roll < 65) {
      Settle(center);
    } else if (roll < 70) {
      ReturnSome(center);
    } else if (roll < 73) {
      ChangeMasterData();
    } else if (roll < 74) {
      center.Restart();
      tally_.Add("restarts");
    } else {
      Apply(center, Tick{});
    }
    for (Center& each : centers_) TakeQuotaCommands(each);
    for (Subscription& subscription : subscriptions_) MaybeDeliver(subscription);
    return Check();
  }

  // Delivers everything (after expiring every reservation), until nothing is left in flight.
  void Quiesce() {
    now_ms_ += 1'000;
    for (Center& center : centers_) Apply(center, Tick{});
    bool delivered = true;
    while (delivered) {
      delivered = false;
      for (Subscription& subscription : subscriptions_) delivered |= Deliver(subscription);
    }
  }

  std::string CheckQuiescent() const;
  std::string Check() const;
  const Tally& tally() const { return tally_; }

 private:
  int64_t Pick(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random_);
  }
  static std::string Sku(size_t c) { return "sku" + std::to_string(c); }
  static std::string User(int64_t u) { return "u" + std::to_string(u); }

  Reply Apply(Center& center, Body body, std::optional<Origin> origin = std::nullopt) {
    return center.Apply(Command{now_ms_, std::move(body), std::move(origin)});
  }
  void AtMaster(Body body) { EXPECT_TRUE(Apply(centers_[0], std::move(body)).status.ok()); }

  void Order(Center& center) {
    PlaceOrder order{"r" + std::to_string(next_request_++), User(Pick(0, kUsers - 1)), {}};
    order.items.push_back({Sku(static_cast<size_t>(Pick(0, 2))), Pick(1, 2)});
    if (Pick(0, 3) == 0 && order.items[0].sku != Sku(0)) order.items.push_back({Sku(0), 1});
    const Reply reply = Apply(center, std::move(order));
    tally_.Add(std::string("order ") + std::string(CodeName(reply.status.code())));
  }
  // Pays or cancels one of the center's orders.
  void Settle(Center& center) {
    const uint64_t count = center.trade().order_count();
    if (count == 0) return;
    const std::string id = "o." + center.id() + "." + std::to_string(Pick(1, count));
    const bool pay = Pick(0, 2) > 0;
    const Reply reply = pay ? Apply(center, PayOrder{id}) : Apply(center, CancelOrder{id});
    if (reply.status.ok()) tally_.Add(pay ? "pays" : "cancels");
  }
  // A center hands back part of what it has available (making units to grant elsewhere).
  void ReturnSome(Center& center) {
    const std::string& campaign = kCampaigns[static_cast<size_t>(Pick(0, 2))];
    const auto view = center.trade().GetCampaign(campaign);
    if (!view.ok() || view->counts.available == 0) return;
    const int64_t units = Pick(1, view->counts.available);
    const Reply reply = Apply(center, ReturnQuota{campaign, center.id(), units});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    tally_.Add("own returns");
  }
  // The master raises or lowers a campaign's stock (lowering may be refused), or adds regular
  // stock.
  void ChangeMasterData() {
    const size_t c = static_cast<size_t>(Pick(0, 2));
    if (Pick(0, 3) == 0) {
      Apply(centers_[0], PutInventory{Sku(0), 30 + Pick(0, 5) * (now_ms_ / 100)});
      return;
    }
    const CampaignView view = *centers_[0].trade().GetCampaign(kCampaigns[c]);
    PutCampaign put{view.id,
                    view.sku,
                    view.campaign_stock + Pick(-4, 6),
                    view.price_cents,
                    view.starts_at_ms,
                    view.ends_at_ms,
                    view.per_user_limit,
                    view.reserve_ttl_ms};
    put.stock = std::max<int64_t>(0, put.stock);
    const Reply reply = Apply(centers_[0], put);
    tally_.Add(reply.status.ok() ? "stock changes" : "stock changes refused");
  }
  void TakeQuotaCommands(Center& center) {
    for (Body& body : center.trade().QuotaCommands(now_ms_)) {
      tally_.Add(std::holds_alternative<RequestQuota>(body) ? "requests" : "end-of-sale returns");
      const Reply reply = Apply(center, std::move(body));
      EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    }
  }

  void MaybeDeliver(Subscription& subscription) {
    const int64_t roll = Pick(0, 99);
    if (roll < 3) {
      subscription.next -= std::min<size_t>(subscription.next, Pick(1, 4));  // redelivery
    } else if (roll < 40) {
      for (int64_t i = Pick(1, 3); i > 0; --i) Deliver(subscription);
    }
  }
  // Delivers the subscription's next record, if any; false if there is none.
  bool Deliver(Subscription& subscription);
  Command Translate(const Subscription& subscription, const Record& record) const;

  std::mt19937_64 random_;
  std::vector<Center> centers_;
  std::vector<Subscription> subscriptions_;
  int64_t now_ms_ = 0;
  uint64_t next_request_ = 0;
  Tally tally_;
};

// What the consumer applies for a record of the producer's stream.
Command Deployment::Translate(const Subscription& subscription, const Record& record) const {
  const Center& producer = centers_[subscription.producer];
  const Origin origin{producer.id(), subscription.kind, record.sequence};
  if (subscription.kind == kOrders) {
    const auto events = DecodeEvents(record.payload);
    SURGE_ASSERT(events.ok());
    return Command{now_ms_, CenterOrders{producer.id(), CampaignDeltas(events->events)}, origin};
  }
  auto command = DecodeCommand(record.payload);
  SURGE_ASSERT(command.ok());
  // The consumer journals it at its own time, with the origin of this stream.
  return Command{now_ms_, std::move(command->body), origin};
}

bool Deployment::Deliver(Subscription& subscription) {
  const std::vector<Record>& journal = centers_[subscription.producer].journal();
  while (subscription.next < journal.size() &&
         journal[subscription.next].kind != subscription.kind) {
    ++subscription.next;
  }
  if (subscription.next == journal.size()) return false;
  const Record& record = journal[subscription.next++];
  Center& consumer = centers_[subscription.consumer];
  const Command command = Translate(subscription, record);
  const Origin& origin = *command.origin;
  if (origin.sequence <= consumer.trade().AppliedThrough(origin.center, origin.kind)) {
    // Delivered again: the Trade must change nothing; the consumer journals nothing.
    const uint64_t hash = consumer.trade().StateHash();
    const Reply reply = consumer.trade().Apply(command);
    EXPECT_TRUE(reply.status.ok() && reply.replayed);
    EXPECT_EQ(consumer.trade().StateHash(), hash);
    tally_.Add("redeliveries");
    return true;
  }
  const Reply reply = consumer.Apply(command);
  tally_.Add(std::string("delivered ") + std::string(CodeName(reply.status.code())));
  // Every center answers the master's commands as the master did; the master takes every
  // request, return and report of a sub.
  const Code expected = subscription.kind == kMasterData ? record.code : Code::kOk;
  EXPECT_EQ(reply.status.code(), expected) << reply.status.ToString();
  return true;
}

// The allocation table of a campaign at a center, as comparable values.
std::vector<int64_t> Table(const Center& center, const std::string& campaign) {
  const internal::State& state = internal::StateOf(center.trade());
  const uint32_t index = state.campaign_ids.Find(campaign);
  if (index == internal::kNoIndex) return {};
  const internal::Allocation& table = state.allocations[index];
  std::vector<int64_t> values = {table.stock, table.unallocated};
  values.insert(values.end(), table.allocated.begin(), table.allocated.end());
  for (const internal::CenterUnits& units : table.reported) {
    values.push_back(units.reserved);
    values.push_back(units.sold);
  }
  return values;
}

std::string Deployment::Check() const {
  for (const Center& center : centers_) {
    const Status invariants = center.trade().CheckInvariants();
    if (!invariants.ok()) return center.id() + ": " + invariants.ToString();
  }
  for (const std::string& campaign : kCampaigns) {
    const auto master = centers_[0].trade().GetCampaign(campaign);
    if (!master.ok()) continue;
    int64_t quotas = 0;
    for (const Center& center : centers_) {
      const auto view = center.trade().GetCampaign(campaign);
      if (view.ok()) quotas += view->counts.stock;
    }
    if (quotas > master->campaign_stock) {
      return "the quotas of " + campaign + " sum to " + std::to_string(quotas) +
             ", more than its stock " + std::to_string(master->campaign_stock);
    }
  }
  for (const Subscription& subscription : subscriptions_) {
    if (subscription.kind != kMasterData) continue;
    // Everything of the master's stream delivered (the rest of its journal is unpublished).
    const std::vector<Record>& journal = centers_[0].journal();
    const bool behind =
        std::any_of(journal.begin() + static_cast<ptrdiff_t>(subscription.next), journal.end(),
                    [](const Record& r) { return r.kind == kMasterData; });
    if (behind) continue;
    for (const std::string& campaign : kCampaigns) {
      if (Table(centers_[subscription.consumer], campaign) != Table(centers_[0], campaign)) {
        return "the table of " + campaign + " differs at " + centers_[subscription.consumer].id();
      }
    }
  }
  return "";
}

std::string Deployment::CheckQuiescent() const {
  for (const std::string& campaign : kCampaigns) {
    const CampaignView master = *centers_[0].trade().GetCampaign(campaign);
    int64_t sold = 0;
    for (const Center& center : centers_) {
      const StockCounts own = center.trade().GetCampaign(campaign)->counts;
      const CenterQuotaView expected{center.id(), own.stock, own.available, own.reserved, own.sold};
      if (master.centers[center.index()] != expected) {
        return "the master's view of " + center.id() + " in " + campaign + " differs: quota " +
               std::to_string(master.centers[center.index()].quota) + " vs " +
               std::to_string(own.stock) + ", sold " +
               std::to_string(master.centers[center.index()].sold) + " vs " +
               std::to_string(own.sold);
      }
      if (own.reserved != 0) return "a reservation outlived its expiry";
      sold += own.sold;
    }
    if (sold > master.campaign_stock) return "oversold " + campaign;
  }
  return Check();
}

TEST(TradeCentersSimTest, QuotasNeverOversellAndEveryCenterAgrees) {
  Tally total;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    // Half the runs split only half of each new stock up front: more of it goes by request.
    Deployment deployment(seed, seed % 2 == 0 ? 50 : 100);
    deployment.SetUp();
    for (int step = 0; step < 4'000; ++step) {
      const std::string failure = deployment.Step();
      ASSERT_EQ(failure, "") << "seed " << seed << ", step " << step;
    }
    deployment.Quiesce();
    ASSERT_EQ(deployment.CheckQuiescent(), "") << "seed " << seed;
    for (const auto& [what, count] : deployment.tally().counts) total.counts[what] += count;
  }
  for (const auto& [what, count] : total.counts) std::printf("%-28s %zu\n", what.c_str(), count);
  // The run must reach every flow, or agreeing proves little.
  for (const char* what :
       {"order ok", "order sold_out", "order limit_exceeded", "order campaign_not_active", "pays",
        "cancels", "own returns", "requests", "end-of-sale returns", "redeliveries",
        "stock changes", "stock changes refused", "restarts", "delivered ok"}) {
    EXPECT_GT(total.counts[what], 5u) << what;
  }
}

}  // namespace
}  // namespace surge::trade
