// For tests only: a deliberately simple reference model of trade.h's rules, a random command
// generator built to make contention, and the loop that checks a Trade against the model.
//
// The model keeps master data, orders and remembered requests in std::map and std::vector, and
// derives everything else by scanning: stock counts and per-user holdings are sums over the
// orders, expiry is a scan of every order. It is slow and obviously right, which is the point.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "trade/trade.h"

namespace surge::trade::testing {

class Model {
 public:
  explicit Model(std::string prefix) : prefix_(std::move(prefix)) {}

  Reply Apply(const Command& command) {
    if (command.origin.has_value()) {
      const Origin& origin = *command.origin;
      if (OriginOk(origin)) {
        uint64_t& through = applied_[{origin.center, origin.kind}];
        if (origin.sequence <= through) return Reply{Status(), {}, true};  // changes nothing
        through = origin.sequence;                                         // whatever the reply
      } else {
        now_ = command.now_ms;
        ExpireDue();
        return Error(Code::kBadField);
      }
    }
    now_ = command.now_ms;
    ExpireDue();
    return std::visit([&](const auto& body) { return Handle(body); }, command.body);
  }

  static bool OriginOk(const Origin& origin) {
    return IdOk(origin.center) && origin.center.size() <= 32 && origin.kind >= 1 &&
           origin.kind <= 3 && origin.sequence >= 1;
  }
  uint64_t AppliedThrough(const std::string& center, uint8_t kind) const {
    const auto found = applied_.find({center, kind});
    return found == applied_.end() ? 0 : found->second;
  }
  const std::map<std::pair<std::string, uint8_t>, uint64_t>& applied() const { return applied_; }

  // Reads, shaped like Trade's.
  std::optional<CampaignView> Campaign(const std::string& id) const {
    const auto found = campaigns_.find(id);
    if (found == campaigns_.end()) return std::nullopt;
    return CampaignViewOf(id, found->second);
  }
  std::optional<InventoryView> Inventory(const std::string& sku) const {
    const auto found = products_.find(sku);
    if (found == products_.end() || !found->second.has_inventory) return std::nullopt;
    return InventoryView{sku, Counts(found->second.inventory_stock, sku, "")};
  }
  std::optional<ProductView> Product(const std::string& sku) const {
    const auto found = products_.find(sku);
    if (found == products_.end()) return std::nullopt;
    return found->second.view;
  }
  std::optional<UserView> User(const std::string& id) const {
    const auto found = users_.find(id);
    if (found == users_.end()) return std::nullopt;
    return UserView{id, found->second};
  }
  std::optional<MerchantView> Merchant(const std::string& id) const {
    const auto found = merchants_.find(id);
    if (found == merchants_.end()) return std::nullopt;
    return MerchantView{id, found->second};
  }
  // The order as GetOrder(now_ms) shows it (a due reservation shows as expired).
  OrderView Order(size_t index, int64_t now_ms) const {
    OrderView view = orders_[index];
    if (view.status == OrderStatus::kReserved && view.expires_at_ms <= now_ms) {
      view.status = OrderStatus::kExpired;
    }
    return view;
  }
  std::vector<OrderView> UserOrders(const std::string& user, int64_t now_ms) const {
    std::vector<OrderView> views;
    for (size_t i = 0; i < orders_.size(); ++i) {
      if (orders_[i].user == user) views.push_back(Order(i, now_ms));
    }
    return views;
  }
  std::optional<StockCounts> ActiveCampaignCounts(const std::string& sku, int64_t now_ms) const {
    const std::string campaign = ActiveCampaignOf(sku, now_ms);
    if (campaign.empty()) return std::nullopt;
    return Campaign(campaign)->counts;
  }
  std::optional<int64_t> NextExpiryMs() const {
    std::optional<int64_t> next;
    for (const OrderView& order : orders_) {
      if (order.status != OrderStatus::kReserved) continue;
      if (!next || order.expires_at_ms < *next) next = order.expires_at_ms;
    }
    return next;
  }
  bool KnowsRequest(const std::string& request_id) const { return requests_.count(request_id) > 0; }
  int64_t now_ms() const { return now_; }
  size_t order_count() const { return orders_.size(); }
  std::string OrderId(size_t index) const { return prefix_ + std::to_string(index + 1); }
  std::vector<std::string> CampaignIds() const { return Keys(campaigns_); }
  std::vector<std::string> Skus() const { return Keys(products_); }
  std::vector<std::string> UserIds() const { return Keys(users_); }
  std::vector<std::string> MerchantIds() const { return Keys(merchants_); }
  // The most campaigns any one user holds units of (to tell that a run reached many).
  size_t MostCampaignsHeld() const {
    std::map<std::string, std::set<std::string>> held;  // user -> campaigns
    for (const OrderView& order : orders_) {
      if (!Holds(order)) continue;
      for (const OrderItemView& item : order.items) {
        if (!item.campaign.empty()) held[order.user].insert(item.campaign);
      }
    }
    size_t most = 0;
    for (const auto& [user, campaigns] : held) most = std::max(most, campaigns.size());
    return most;
  }

 private:
  struct ModelProduct {
    ProductView view;
    bool has_inventory = false;
    int64_t inventory_stock = 0;
  };
  struct ModelCampaign {
    std::string sku;
    int64_t stock = 0;
    int64_t price_cents = 0;
    int64_t starts_at_ms = 0;
    int64_t ends_at_ms = 0;
    int64_t per_user_limit = 0;
    int64_t reserve_ttl_ms = 0;
  };
  struct Remembered {
    PlaceOrder body;
    Reply reply;  // for a success, the order index is in order_index
    size_t order_index = 0;
  };

  template <typename Map>
  static std::vector<std::string> Keys(const Map& map) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : map) keys.push_back(key);
    return keys;
  }

  static Reply Error(Code code) { return Reply{Status(code, "model"), {}, false}; }
  template <typename View>
  static Reply Value(View view) {
    return Reply{Status(), std::move(view), false};
  }

  // ---- Validation, written out plainly --------------------------------------------------

  static bool IdOk(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (const char c : id) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != ':' &&
          c != '-') {
        return false;
      }
    }
    return true;
  }
  static bool NameOk(const std::string& name) { return name.size() <= 256; }
  static bool In(int64_t value, int64_t low, int64_t high) { return value >= low && value <= high; }

  static bool Valid(const PutMerchant& b) { return IdOk(b.id) && NameOk(b.name); }
  static bool Valid(const PutUser& b) { return IdOk(b.id) && NameOk(b.region); }
  static bool Valid(const PutProduct& b) {
    return IdOk(b.sku) && IdOk(b.merchant) && NameOk(b.name) && NameOk(b.category) &&
           In(b.price_cents, 0, kPriceCentsMax);
  }
  static bool Valid(const PutInventory& b) { return IdOk(b.sku) && In(b.stock, 0, kStockMax); }
  static bool Valid(const PutCampaign& b) {
    return IdOk(b.id) && IdOk(b.sku) && In(b.stock, 0, kStockMax) &&
           In(b.price_cents, 0, kPriceCentsMax) && In(b.starts_at_ms, 0, kTimeMsMax) &&
           In(b.ends_at_ms, 0, kTimeMsMax) && b.starts_at_ms < b.ends_at_ms &&
           In(b.per_user_limit, 1, kStockMax) && In(b.reserve_ttl_ms, 1, kReserveTtlMsMax);
  }
  static bool Valid(const PlaceOrder& b) {
    if (!IdOk(b.request_id) || !IdOk(b.user)) return false;
    if (b.items.empty() || b.items.size() > kItemsMax) return false;
    for (size_t i = 0; i < b.items.size(); ++i) {
      if (!IdOk(b.items[i].sku) || !In(b.items[i].quantity, 1, kQuantityMax)) return false;
      for (size_t j = 0; j < i; ++j) {
        if (b.items[j].sku == b.items[i].sku) return false;
      }
    }
    return true;
  }
  static bool Valid(const PayOrder& b) { return IdOk(b.order_id); }
  static bool Valid(const CancelOrder& b) { return IdOk(b.order_id); }
  static bool Valid(const Tick&) { return true; }
  static bool Valid(const PutDemand& b) {
    if (!IdOk(b.sku) || b.centers.empty() || b.centers.size() > kDemandCentersMax) return false;
    for (size_t i = 0; i < b.centers.size(); ++i) {
      const CenterDemand& each = b.centers[i];
      if (!IdOk(each.center) || each.center.size() > 32 || !In(each.units, 0, kStockMax)) {
        return false;
      }
      for (size_t j = 0; j < i; ++j) {
        if (b.centers[j].center == each.center) return false;
      }
    }
    return true;
  }

  // ---- Derived counts ---------------------------------------------------------------------

  static bool Holds(const OrderView& order) {
    return order.status == OrderStatus::kReserved || order.status == OrderStatus::kPaid;
  }
  // Counts of a stock: a campaign's (campaign non-empty) or the regular inventory of `sku`.
  StockCounts Counts(int64_t stock, const std::string& sku, const std::string& campaign) const {
    StockCounts counts;
    counts.stock = stock;
    for (const OrderView& order : orders_) {
      if (!Holds(order)) continue;
      for (const OrderItemView& item : order.items) {
        if (campaign.empty() ? (item.campaign.empty() && item.sku == sku)
                             : item.campaign == campaign) {
          (order.status == OrderStatus::kReserved ? counts.reserved : counts.sold) += item.quantity;
        }
      }
    }
    counts.available = stock - counts.reserved - counts.sold;
    return counts;
  }
  int64_t Held(const std::string& user, const std::string& campaign) const {
    int64_t held = 0;
    for (const OrderView& order : orders_) {
      if (order.user != user || !Holds(order)) continue;
      for (const OrderItemView& item : order.items) {
        if (item.campaign == campaign) held += item.quantity;
      }
    }
    return held;
  }
  CampaignView CampaignViewOf(const std::string& id, const ModelCampaign& c) const {
    return CampaignView{id,
                        c.sku,
                        c.price_cents,
                        c.starts_at_ms,
                        c.ends_at_ms,
                        c.per_user_limit,
                        c.reserve_ttl_ms,
                        Counts(c.stock, "", id),
                        /*campaign_stock=*/c.stock};
  }
  std::string ActiveCampaignOf(const std::string& sku, int64_t now_ms) const {
    for (const auto& [id, c] : campaigns_) {
      if (c.sku == sku && c.starts_at_ms <= now_ms && now_ms < c.ends_at_ms) return id;
    }
    return "";
  }

  void ExpireDue() {
    for (OrderView& order : orders_) {
      if (order.status == OrderStatus::kReserved && order.expires_at_ms <= now_) {
        order.status = OrderStatus::kExpired;
      }
    }
  }

  // ---- Commands ---------------------------------------------------------------------------

  Reply Handle(const PutMerchant& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    merchants_[b.id] = b.name;
    return Value(MerchantView{b.id, b.name});
  }
  Reply Handle(const PutUser& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    users_[b.id] = b.region;
    return Value(UserView{b.id, b.region});
  }
  Reply Handle(const PutProduct& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    if (merchants_.count(b.merchant) == 0) return Error(Code::kNotFound);
    ModelProduct& product = products_[b.sku];
    product.view = ProductView{b.sku, b.merchant, b.name, b.category, b.price_cents};
    return Value(product.view);
  }
  Reply Handle(const PutInventory& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    const auto found = products_.find(b.sku);
    if (found == products_.end()) return Error(Code::kNotFound);
    const StockCounts now = Counts(0, b.sku, "");
    if (b.stock < now.reserved + now.sold) return Error(Code::kBadField);
    found->second.has_inventory = true;
    found->second.inventory_stock = b.stock;
    return Value(*Inventory(b.sku));
  }
  Reply Handle(const PutCampaign& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    if (products_.count(b.sku) == 0) return Error(Code::kNotFound);
    const auto existing = campaigns_.find(b.id);
    int64_t held_units = 0;
    if (existing != campaigns_.end()) {
      const StockCounts counts = Counts(existing->second.stock, "", b.id);
      held_units = counts.reserved + counts.sold;
      if (existing->second.sku != b.sku && held_units > 0) return Error(Code::kBadField);
    }
    for (const auto& [id, other] : campaigns_) {
      if (id != b.id && other.sku == b.sku && other.starts_at_ms < b.ends_at_ms &&
          b.starts_at_ms < other.ends_at_ms) {
        return Error(Code::kBadField);
      }
    }
    if (existing != campaigns_.end()) {
      if (b.stock < held_units) return Error(Code::kBadField);
      for (const auto& [user, region] : users_) {
        if (Held(user, b.id) > b.per_user_limit) return Error(Code::kBadField);
      }
    }
    campaigns_[b.id] =
        ModelCampaign{b.sku,        b.stock,          b.price_cents,   b.starts_at_ms,
                      b.ends_at_ms, b.per_user_limit, b.reserve_ttl_ms};
    return Value(*Campaign(b.id));
  }

  static bool SameBody(const PlaceOrder& a, const PlaceOrder& b) {
    return a.user == b.user && a.items == b.items;
  }

  Reply Handle(const PlaceOrder& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    const auto known = requests_.find(b.request_id);
    if (known != requests_.end()) {
      if (!SameBody(known->second.body, b)) return Error(Code::kRequestIdReused);
      Reply reply = known->second.reply;
      if (reply.status.ok()) {
        OrderView view = orders_[known->second.order_index];
        view.status = OrderStatus::kReserved;
        reply.value = view;
      }
      reply.replayed = true;
      return reply;
    }
    Remembered& remembered = requests_[b.request_id];
    remembered.body = b;
    remembered.reply = Reserve(b);
    if (remembered.reply.status.ok()) remembered.order_index = orders_.size() - 1;
    return remembered.reply;
  }

  Reply Reserve(const PlaceOrder& b) {
    if (users_.count(b.user) == 0) return Error(Code::kNotFound);
    OrderView order;
    order.order_id = OrderId(orders_.size());
    order.request_id = b.request_id;
    order.user = b.user;
    order.created_at_ms = now_;
    int64_t ttl_ms = -1;
    for (const OrderItem& wanted : b.items) {
      const auto product = products_.find(wanted.sku);
      if (product == products_.end()) return Error(Code::kNotFound);
      OrderItemView item{wanted.sku, wanted.quantity, 0, ActiveCampaignOf(wanted.sku, now_)};
      if (!item.campaign.empty()) {
        const ModelCampaign& c = campaigns_.at(item.campaign);
        if (wanted.quantity > Counts(c.stock, "", item.campaign).available) {
          return Error(Code::kSoldOut);
        }
        if (Held(b.user, item.campaign) + wanted.quantity > c.per_user_limit) {
          return Error(Code::kLimitExceeded);
        }
        item.price_cents = c.price_cents;
        ttl_ms = ttl_ms < 0 ? c.reserve_ttl_ms : std::min(ttl_ms, c.reserve_ttl_ms);
      } else if (product->second.has_inventory) {
        if (wanted.quantity > Counts(product->second.inventory_stock, wanted.sku, "").available) {
          return Error(Code::kSoldOut);
        }
        item.price_cents = product->second.view.price_cents;
      } else {
        bool has_campaign = false;
        for (const auto& [id, c] : campaigns_) has_campaign |= c.sku == wanted.sku;
        return Error(has_campaign ? Code::kCampaignNotActive : Code::kSoldOut);
      }
      order.total_cents += item.quantity * item.price_cents;
      order.items.push_back(item);
    }
    order.expires_at_ms = now_ + (ttl_ms < 0 ? kDefaultReserveTtlMs : ttl_ms);
    orders_.push_back(order);
    return Value(order);
  }

  // The index of an order id of ours, or nullopt.
  std::optional<size_t> OrderIndex(const std::string& order_id) const {
    for (size_t i = 0; i < orders_.size(); ++i) {
      if (OrderId(i) == order_id) return i;
    }
    return std::nullopt;
  }

  Reply Handle(const PayOrder& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    const auto index = OrderIndex(b.order_id);
    if (!index) return Error(Code::kNotFound);
    OrderView& order = orders_[*index];
    if (order.status == OrderStatus::kReserved) order.status = OrderStatus::kPaid;
    if (order.status != OrderStatus::kPaid) return Error(Code::kWrongState);
    return Value(order);
  }
  Reply Handle(const CancelOrder& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    const auto index = OrderIndex(b.order_id);
    if (!index) return Error(Code::kNotFound);
    OrderView& order = orders_[*index];
    if (order.status == OrderStatus::kReserved) order.status = OrderStatus::kCancelled;
    if (order.status != OrderStatus::kCancelled) return Error(Code::kWrongState);
    return Value(order);
  }
  Reply Handle(const Tick&) { return Reply{}; }
  // A single center has no centers to name: whatever the body, bad_field (center, if not another
  // field first).
  Reply Handle(const RequestQuota&) { return Error(Code::kBadField); }
  Reply Handle(const ReturnQuota&) { return Error(Code::kBadField); }
  Reply Handle(const CenterOrders&) { return Error(Code::kBadField); }
  // The product is looked up first; then its centers are unknown.
  Reply Handle(const PutDemand& b) {
    if (!Valid(b)) return Error(Code::kBadField);
    if (products_.count(b.sku) == 0) return Error(Code::kNotFound);
    return Error(Code::kBadField);
  }

  std::string prefix_;
  int64_t now_ = 0;
  std::map<std::string, std::string> merchants_;  // id -> name
  std::map<std::string, std::string> users_;      // id -> region
  std::map<std::string, ModelProduct> products_;
  std::map<std::string, ModelCampaign> campaigns_;
  std::vector<OrderView> orders_;
  std::map<std::string, Remembered> requests_;
  std::map<std::pair<std::string, uint8_t>, uint64_t> applied_;  // (center, kind) -> sequence
};

// ---- Generator ---------------------------------------------------------------------------

// Random commands over a small world, so that everything collides: 3 merchants, 5 SKUs, 8 users,
// 6 campaign ids, stocks of a handful of units, per-user limits of 1 to 3, reservations of tens of
// milliseconds with time advancing a few ms per command (so they expire), campaign windows that
// open and close around the current time, retries of earlier request ids with the same and with
// a different body, and pays and cancels of existing and unknown order ids. A few percent of the
// commands are malformed. With `campaigns` larger than the default, the world is wide instead: as
// many SKUs as campaign ids, 3 users, longer sales with more stock, and most pays (not cancels) aim
// at recent orders (before they expire), so that users come to hold units of many campaigns at
// once.
class Generator {
 public:
  Generator(uint64_t seed, std::string prefix, int campaigns = kCampaignsDefault)
      : random_(seed),
        prefix_(std::move(prefix)),
        campaigns_(campaigns),
        wide_(campaigns > kCampaignsDefault),
        skus_(wide_ ? campaigns : kSkusDefault),
        users_(wide_ ? 3 : kUsersDefault) {}

  Command Next() {
    now_ms_ += Advance();
    return Command{now_ms_, NextBody()};
  }
  // Pays and cancels aim at ids up to a little past this many orders.
  void set_order_count(size_t count) { order_count_ = static_cast<int64_t>(count); }

  // Master data so that orders can succeed from the start.
  std::vector<Command> Setup() {
    std::vector<Command> commands;
    for (int m = 0; m < 2; ++m) commands.push_back(At(PutMerchant{Merchant(m), "merchant"}));
    for (int s = 0; s < skus_; ++s) commands.push_back(At(RandomProduct(s)));
    for (int u = 0; u < users_; ++u) commands.push_back(At(PutUser{User(u), "region"}));
    for (int c = 0; c < campaigns_; ++c) commands.push_back(At(RandomCampaign(c)));
    for (int s = 0; s < skus_; s += 2) commands.push_back(At(PutInventory{Sku(s), Pick(0, 8)}));
    return commands;
  }

 private:
  static constexpr int kSkusDefault = 5;
  static constexpr int kUsersDefault = 8;
  static constexpr int kCampaignsDefault = 6;

  int64_t Pick(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random_);
  }
  bool Chance(int percent) { return Pick(0, 99) < percent; }
  Command At(Body body) const { return Command{now_ms_, std::move(body)}; }

  static std::string Merchant(int64_t m) { return "m" + std::to_string(m); }
  static std::string Sku(int64_t s) { return "s" + std::to_string(s); }
  static std::string User(int64_t u) { return "u" + std::to_string(u); }
  static std::string CampaignId(int64_t c) { return "c" + std::to_string(c); }

  int64_t Advance() {
    const int64_t roll = Pick(0, 99);
    if (roll < 40) return 0;
    if (roll < 97) return Pick(1, 4);
    return Pick(20, 80);
  }

  PutProduct RandomProduct(int64_t s) {
    // Merchant m2 never exists: not_found.
    return PutProduct{Sku(s), Merchant(Chance(5) ? 2 : Pick(0, 1)), "product", "category",
                      Pick(1, 50) * 100};
  }

  PutCampaign RandomCampaign(int64_t c) {
    PutCampaign campaign;
    campaign.id = CampaignId(c);
    // Mostly a fixed SKU per campaign id, sometimes another one (moving a campaign is only
    // allowed while it holds no units), sometimes an unknown SKU.
    campaign.sku = Chance(85) ? Sku(c % skus_) : Sku(Chance(90) ? Pick(0, skus_ - 1) : 7);
    campaign.stock = Pick(0, 12);
    campaign.price_cents = Pick(1, 30) * 10;
    campaign.starts_at_ms = std::max<int64_t>(0, now_ms_ + Pick(-100, 150));
    campaign.ends_at_ms = campaign.starts_at_ms + Pick(1, 300);
    campaign.per_user_limit = Pick(1, 3);
    campaign.reserve_ttl_ms = Pick(5, 60);
    if (wide_) {  // longer sales with more stock: more of them are open at once
      campaign.stock = Pick(0, 40);
      campaign.ends_at_ms = campaign.starts_at_ms + Pick(1, 3'000);
    }
    if (Chance(3)) campaign.ends_at_ms = campaign.starts_at_ms;  // malformed window
    if (Chance(2)) campaign.per_user_limit = 0;                  // malformed limit
    return campaign;
  }

  PlaceOrder RandomOrder() {
    PlaceOrder order;
    order.request_id = "r" + std::to_string(next_request_++);
    order.user = User(Chance(3) ? 9 : Pick(0, users_ - 1));  // u9 never exists
    const int64_t count = Chance(80) ? 1 : Pick(2, 3);
    for (int64_t i = 0; i < count; ++i) {
      order.items.push_back(OrderItem{Sku(Chance(3) ? 8 : Pick(0, skus_ - 1)), Pick(1, 3)});
    }
    if (Chance(2)) order.items[0].quantity = Chance(50) ? 0 : kQuantityMax + 1;
    if (Chance(2)) order.request_id = "bad id";
    return order;
  }

  Body RetryOrder() {
    const PlaceOrder& earlier = sent_[static_cast<size_t>(Pick(0, sent_.size() - 1))];
    if (Chance(75)) return earlier;
    PlaceOrder changed = earlier;
    if (Chance(50)) {
      changed.user = User(Pick(0, users_ - 1));
    } else {
      changed.items[0].quantity = Pick(1, 3);
    }
    return changed;
  }

  // `recent`: in a wide world, mostly one of the last few orders.
  std::string RandomOrderId(bool recent) {
    if (Chance(5)) return Chance(50) ? "zz.1" : prefix_ + "0";  // not ours, non-canonical
    if (recent && wide_ && Chance(70)) {
      return prefix_ +
             std::to_string(Pick(std::max<int64_t>(1, order_count_ - 8), order_count_ + 1));
    }
    return prefix_ + std::to_string(Pick(1, order_count_ + 2));
  }

  Body NextBody() {
    const int64_t roll = Pick(0, 99);
    if (roll < 45) {
      PlaceOrder order = RandomOrder();
      sent_.push_back(order);
      return order;
    }
    if (roll < 55 && !sent_.empty()) return RetryOrder();
    if (roll < 70) return PayOrder{RandomOrderId(/*recent=*/true)};
    if (roll < 80) return CancelOrder{RandomOrderId(/*recent=*/false)};
    if (roll < 88) return RandomCampaign(Pick(0, campaigns_ - 1));
    if (roll < 91) return PutInventory{Sku(Pick(0, skus_)), Pick(0, 10)};
    if (roll < 93) return RandomProduct(Pick(0, skus_ - 1));
    if (roll < 95) return PutUser{User(Pick(0, users_ - 1)), "region" + std::to_string(Pick(0, 3))};
    if (roll < 96) return PutMerchant{Merchant(Pick(0, 1)), "renamed"};
    return Tick{};
  }

  std::mt19937_64 random_;
  std::string prefix_;
  int campaigns_;
  bool wide_;
  int skus_;
  int users_;
  int64_t now_ms_ = 1'000;
  int64_t next_request_ = 0;
  int64_t order_count_ = 0;
  std::vector<PlaceOrder> sent_;
};

// ---- The check ---------------------------------------------------------------------------

inline std::string Describe(const Command& command) {
  std::ostringstream out;
  out << "@" << command.now_ms << " ";
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PutMerchant>) out << "PutMerchant " << b.id;
        if constexpr (std::is_same_v<T, PutUser>) out << "PutUser " << b.id;
        if constexpr (std::is_same_v<T, PutProduct>)
          out << "PutProduct " << b.sku << " " << b.merchant;
        if constexpr (std::is_same_v<T, PutInventory>)
          out << "PutInventory " << b.sku << " " << b.stock;
        if constexpr (std::is_same_v<T, PutCampaign>) {
          out << "PutCampaign " << b.id << " sku=" << b.sku << " stock=" << b.stock << " ["
              << b.starts_at_ms << "," << b.ends_at_ms << ") limit=" << b.per_user_limit
              << " ttl=" << b.reserve_ttl_ms;
        }
        if constexpr (std::is_same_v<T, PlaceOrder>) {
          out << "PlaceOrder " << b.request_id << " user=" << b.user;
          for (const OrderItem& item : b.items) out << " " << item.sku << "x" << item.quantity;
        }
        if constexpr (std::is_same_v<T, PayOrder>) out << "PayOrder " << b.order_id;
        if constexpr (std::is_same_v<T, CancelOrder>) out << "CancelOrder " << b.order_id;
        if constexpr (std::is_same_v<T, Tick>) out << "Tick";
        if constexpr (std::is_same_v<T, RequestQuota> || std::is_same_v<T, ReturnQuota>) {
          out << (std::is_same_v<T, RequestQuota> ? "RequestQuota " : "ReturnQuota ") << b.campaign
              << " center=" << b.center << " units=" << b.units;
        }
        if constexpr (std::is_same_v<T, PutDemand>) {
          out << "PutDemand " << b.sku;
          for (const CenterDemand& each : b.centers) out << " " << each.center << "=" << each.units;
        }
        if constexpr (std::is_same_v<T, CenterOrders>) {
          out << "CenterOrders center=" << b.center;
          for (const CampaignDelta& d : b.deltas) {
            out << " " << d.campaign << ":" << d.reserved << "/" << d.sold;
          }
        }
      },
      command.body);
  if (command.origin.has_value()) {
    out << " origin=" << command.origin->center << "/" << int{command.origin->kind} << "/"
        << command.origin->sequence;
  }
  return out.str();
}

inline std::string Describe(const Reply& reply) {
  std::ostringstream out;
  out << reply.status.ToString() << (reply.replayed ? " (replayed)" : "");
  if (const auto* order = std::get_if<OrderView>(&reply.value)) {
    out << " order " << order->order_id << " " << OrderStatusName(order->status)
        << " total=" << order->total_cents << " expires=" << order->expires_at_ms
        << " items=" << order->items.size();
  }
  return out.str();
}

// Checks that the reads of `trade` agree with the model's at `now_ms`; returns the first
// difference, or "".
inline std::string CompareReads(const Trade& trade, const Model& model, int64_t now_ms) {
  for (const std::string& id : model.CampaignIds()) {
    const auto got = trade.GetCampaign(id);
    if (!got.ok() || *got != *model.Campaign(id)) return "campaign " + id + " differs";
  }
  for (const std::string& sku : model.Skus()) {
    const auto product = trade.GetProduct(sku);
    if (!product.ok() || *product != *model.Product(sku)) return "product " + sku + " differs";
    const auto inventory = trade.GetInventory(sku);
    const auto expected = model.Inventory(sku);
    if (inventory.ok() != expected.has_value() || (expected && *inventory != *expected)) {
      return "inventory of " + sku + " differs";
    }
    if (trade.ActiveCampaignCounts(sku, now_ms) != model.ActiveCampaignCounts(sku, now_ms)) {
      return "active campaign counts of " + sku + " differ";
    }
  }
  for (const std::string& id : model.UserIds()) {
    const auto user = trade.GetUser(id);
    if (!user.ok() || *user != *model.User(id)) return "user " + id + " differs";
    const auto orders = trade.GetUserOrders(id, now_ms);
    if (!orders.ok() || *orders != model.UserOrders(id, now_ms)) return "orders of " + id;
  }
  for (const std::string& id : model.MerchantIds()) {
    const auto merchant = trade.GetMerchant(id);
    if (!merchant.ok() || *merchant != *model.Merchant(id)) return "merchant " + id + " differs";
  }
  for (size_t i = 0; i < model.order_count(); ++i) {
    const auto order = trade.GetOrder(model.OrderId(i), now_ms);
    if (!order.ok() || *order != model.Order(i, now_ms)) return "order " + model.OrderId(i);
  }
  if (trade.GetOrder(model.OrderId(model.order_count()), now_ms).ok()) return "phantom order";
  return "";
}

struct ModelCheckOptions {
  uint64_t seed = 1;
  size_t commands = 10'000;
  // Every this many commands: compare every read, and replace the Trade by one restored from its
  // snapshot (which must have the same StateHash).
  size_t full_check_every = 500;
  int campaigns = 6;  // campaign ids of the generator
  // Percent of the commands given an origin (random streams, sequences mostly new, sometimes
  // repeated or malformed), to check that each origin sequence applies once.
  int origin_percent = 0;
};

struct ModelCheckResult {
  std::string failure;  // "" when the Trade agreed with the model on everything
  std::map<Code, size_t> replies_by_code;
  size_t replayed = 0;
  std::map<OrderStatus, size_t> orders_by_status;  // at the end
  size_t most_campaigns_held = 0;                  // by one user, at any full check
};

// Gives some commands an origin, from a few streams: mostly the stream's next sequences, sometimes
// one already applied (which must change nothing), sometimes a malformed origin.
class OriginStamper {
 public:
  OriginStamper(uint64_t seed, int percent)
      : random_(seed ^ 0x6f726967696eULL), percent_(percent) {}

  void Stamp(const Model& model, Command* command) {
    if (percent_ == 0 || Pick(0, 99) >= percent_) return;
    Origin origin{Pick(0, 1) == 0 ? "c1" : "center-2", static_cast<uint8_t>(Pick(1, 3)), 0};
    const uint64_t through = model.AppliedThrough(origin.center, origin.kind);
    const int64_t roll = Pick(0, 99);
    if (roll < 70) {
      origin.sequence = through + static_cast<uint64_t>(Pick(1, 3));
    } else if (roll < 94) {
      origin.sequence =
          through == 0 ? 1 : static_cast<uint64_t>(Pick(1, static_cast<int64_t>(through)));
    } else if (roll < 97) {
      origin.kind = Pick(0, 1) == 0 ? 0 : 4;
    } else {
      origin.center = Pick(0, 1) == 0 ? "bad center" : std::string(33, 'c');
    }
    command->origin = std::move(origin);
  }

 private:
  int64_t Pick(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random_);
  }
  std::mt19937_64 random_;
  int percent_;
};

// Runs the generator's commands through a Trade and the Model, comparing every reply, the
// invariants and the expiry after each command. Commands that pass ValidateBody also go through
// EncodeCommand/DecodeCommand first. Returns "" or a description of the first divergence.
inline std::string RunModelCheckInto(const ModelCheckOptions& options, ModelCheckResult* result) {
  const std::string prefix = "o.t.";
  std::unique_ptr<Trade> trade = Trade::Create(Options{prefix});
  Model model(prefix);
  Generator generator(options.seed, prefix, options.campaigns);
  std::vector<Command> commands = generator.Setup();
  OriginStamper stamper(options.seed, options.origin_percent);
  size_t applied = 0;
  const auto fail = [&](const Command& command, const std::string& what) {
    return "seed " + std::to_string(options.seed) + ", command " + std::to_string(applied) + " (" +
           Describe(command) + "): " + what;
  };
  while (applied < options.commands + commands.size()) {
    Command command = applied < commands.size() ? commands[applied] : generator.Next();
    stamper.Stamp(model, &command);
    Command applied_command = command;
    if (ValidateBody(command.body).ok() &&
        (!command.origin.has_value() || Model::OriginOk(*command.origin))) {
      std::string bytes;
      EncodeCommand(command, &bytes);
      auto decoded = DecodeCommand(bytes);
      if (!decoded.ok() || *decoded != command) return fail(command, "codec round trip");
      applied_command = std::move(*decoded);
    }
    const Reply got = trade->Apply(applied_command);
    const Reply expected = model.Apply(command);
    ++applied;
    generator.set_order_count(model.order_count());
    ++result->replies_by_code[expected.status.code()];
    result->replayed += expected.replayed ? 1 : 0;
    if (got.status.code() != expected.status.code() || got.replayed != expected.replayed ||
        got.value != expected.value) {
      return fail(command, "got " + Describe(got) + ", expected " + Describe(expected));
    }
    if (!got.status.ok() && got.status.message().empty()) return fail(command, "no message");
    const Status invariants = trade->CheckInvariants();
    if (!invariants.ok()) return fail(command, invariants.ToString());
    if (trade->NextExpiryMs() != model.NextExpiryMs()) return fail(command, "next expiry");
    if (trade->order_count() != model.order_count()) return fail(command, "order count");
    if (trade->last_now_ms() != model.now_ms()) return fail(command, "last_now_ms");
    for (const auto& [stream, through] : model.applied()) {
      if (trade->AppliedThrough(stream.first, stream.second) != through) {
        return fail(command, "AppliedThrough of " + stream.first);
      }
    }
    if (const auto* order = std::get_if<PlaceOrder>(&command.body)) {
      if (trade->KnowsRequest(order->request_id) != model.KnowsRequest(order->request_id)) {
        return fail(command, "KnowsRequest");
      }
    }
    if (applied % options.full_check_every == 0) {
      result->most_campaigns_held =
          std::max(result->most_campaigns_held, model.MostCampaignsHeld());
      const std::string difference = CompareReads(*trade, model, command.now_ms);
      if (!difference.empty()) return fail(command, difference);
      std::unique_ptr<Trade> restored = Trade::Create(Options{prefix});
      const Status status = restored->Restore(trade->Snapshot());
      if (!status.ok()) return fail(command, "restore: " + status.ToString());
      if (restored->StateHash() != trade->StateHash()) return fail(command, "state hash");
      trade = std::move(restored);
    }
  }
  for (size_t i = 0; i < model.order_count(); ++i) {
    ++result->orders_by_status[model.Order(i, 0).status];
  }
  return "";
}

inline ModelCheckResult RunModelCheck(const ModelCheckOptions& options) {
  ModelCheckResult result;
  result.failure = RunModelCheckInto(options, &result);
  return result;
}

}  // namespace surge::trade::testing
