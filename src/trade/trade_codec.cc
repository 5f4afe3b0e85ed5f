// The stateless parts of trade: validation of command bodies, the journal codec and fingerprints.
#include <algorithm>
#include <array>
#include <cstring>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "common/coding.h"
#include "common/ids.h"
#include "trade/trade.h"
#include "trade/trade_state.h"

namespace surge::trade {

using internal::Cat;

std::string_view OrderStatusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kReserved:
      return "reserved";
    case OrderStatus::kPaid:
      return "paid";
    case OrderStatus::kCancelled:
      return "cancelled";
    case OrderStatus::kExpired:
      return "expired";
  }
  return "unknown";
}

uint64_t PlaceOrderFingerprint(const PlaceOrder& order) {
  std::vector<uint64_t> sku_hashes;
  for (const OrderItem& item : order.items) sku_hashes.push_back(internal::HashId(item.sku));
  return internal::Fingerprint(order, internal::HashId(order.user), sku_hashes.data());
}

// ---- Validation ----------------------------------------------------------------------------

namespace {

using internal::IsIdFast;

Status BadField(std::string_view field, std::string_view expected) {
  return Status(Code::kBadField, Cat(field, " must be ", expected));
}

constexpr std::string_view kIdExpected = "1 to 64 characters of [A-Za-z0-9_.:-]";

Status CheckId(std::string_view field, std::string_view id) {
  if (!IsIdFast(id)) return BadField(field, kIdExpected);
  return Status::Ok();
}

Status CheckName(std::string_view field, std::string_view name) {
  if (name.size() > kNameLengthMax) return BadField(field, "at most 256 bytes long");
  return Status::Ok();
}

Status CheckRange(std::string_view field, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    return BadField(field, Cat("an integer from ", low, " to ", high));
  }
  return Status::Ok();
}

Status Validate(const PutMerchant& body) {
  SURGE_RETURN_IF_ERROR(CheckId("id", body.id));
  return CheckName("name", body.name);
}

Status Validate(const PutDemand& body) {
  SURGE_RETURN_IF_ERROR(CheckId("sku", body.sku));
  if (body.centers.empty() || body.centers.size() > kDemandCentersMax) {
    return BadField("centers", Cat("1 to ", kDemandCentersMax, " entries"));
  }
  for (size_t i = 0; i < body.centers.size(); ++i) {
    const CenterDemand& each = body.centers[i];
    if (!internal::IsCenterId(each.center)) {
      return BadField("centers.center", "1 to 32 characters of [A-Za-z0-9_.:-]");
    }
    SURGE_RETURN_IF_ERROR(CheckRange("centers.units", each.units, 0, kStockMax));
    for (size_t j = 0; j < i; ++j) {
      if (body.centers[j].center == each.center) {
        return Status(Code::kBadField, Cat("centers names center ", each.center, " twice"));
      }
    }
  }
  return Status::Ok();
}

Status Validate(const PutProduct& body) {
  SURGE_RETURN_IF_ERROR(CheckId("sku", body.sku));
  SURGE_RETURN_IF_ERROR(CheckId("merchant", body.merchant));
  SURGE_RETURN_IF_ERROR(CheckName("name", body.name));
  SURGE_RETURN_IF_ERROR(CheckName("category", body.category));
  return CheckRange("price_cents", body.price_cents, 0, kPriceCentsMax);
}

Status Validate(const PutUser& body) {
  SURGE_RETURN_IF_ERROR(CheckId("id", body.id));
  return CheckName("region", body.region);
}

Status Validate(const PutInventory& body) {
  SURGE_RETURN_IF_ERROR(CheckId("sku", body.sku));
  return CheckRange("stock", body.stock, 0, kStockMax);
}

Status Validate(const PutCampaign& body) {
  SURGE_RETURN_IF_ERROR(CheckId("id", body.id));
  SURGE_RETURN_IF_ERROR(CheckId("sku", body.sku));
  SURGE_RETURN_IF_ERROR(CheckRange("stock", body.stock, 0, kStockMax));
  SURGE_RETURN_IF_ERROR(CheckRange("price_cents", body.price_cents, 0, kPriceCentsMax));
  SURGE_RETURN_IF_ERROR(CheckRange("starts_at", body.starts_at_ms, 0, kTimeMsMax));
  SURGE_RETURN_IF_ERROR(CheckRange("ends_at", body.ends_at_ms, 0, kTimeMsMax));
  if (body.ends_at_ms <= body.starts_at_ms) return BadField("ends_at", "after starts_at");
  SURGE_RETURN_IF_ERROR(CheckRange("per_user_limit", body.per_user_limit, 1, kStockMax));
  return CheckRange("reserve_ttl_ms", body.reserve_ttl_ms, 1, kReserveTtlMsMax);
}

// The hot path of every order: no allocation unless the body is bad.
Status Validate(const PlaceOrder& body) {
  if (!internal::IsIdString(body.request_id)) return BadField("request_id", kIdExpected);
  if (!internal::IsIdString(body.user)) return BadField("user", kIdExpected);
  const size_t count = body.items.size();
  if (count == 0 || count > kItemsMax) return BadField("items", "a list of 1 to 64 items");
  for (size_t i = 0; i < count; ++i) {
    const OrderItem& item = body.items[i];
    if (!internal::IsIdString(item.sku)) return BadField(Cat("items[", i, "].sku"), kIdExpected);
    if (item.quantity < 1 || item.quantity > kQuantityMax) {
      SURGE_RETURN_IF_ERROR(
          CheckRange(Cat("items[", i, "].quantity"), item.quantity, 1, kQuantityMax));
    }
    for (size_t j = 0; j < i; ++j) {
      if (body.items[j].sku == item.sku) {
        return BadField(Cat("items[", i, "].sku"),
                        Cat("different from items[", j, "].sku (", item.sku, ")"));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status internal::ValidatePlaceOrder(const PlaceOrder& body) { return Validate(body); }

namespace {

Status Validate(const PayOrder& body) { return CheckId("order_id", body.order_id); }
Status Validate(const CancelOrder& body) { return CheckId("order_id", body.order_id); }
Status Validate(const Tick&) { return Status::Ok(); }

Status CheckCenter(std::string_view field, std::string_view id) {
  if (!internal::IsCenterId(id)) return BadField(field, "1 to 32 characters of [A-Za-z0-9_.:-]");
  return Status::Ok();
}

Status ValidateQuota(std::string_view campaign, std::string_view center, int64_t units) {
  SURGE_RETURN_IF_ERROR(CheckId("campaign", campaign));
  SURGE_RETURN_IF_ERROR(CheckCenter("center", center));
  return CheckRange("units", units, 1, kStockMax);
}
Status Validate(const RequestQuota& b) { return ValidateQuota(b.campaign, b.center, b.units); }
Status Validate(const ReturnQuota& b) { return ValidateQuota(b.campaign, b.center, b.units); }

Status Validate(const CenterOrders& body) {
  SURGE_RETURN_IF_ERROR(CheckCenter("center", body.center));
  if (body.deltas.size() > internal::kCenterOrdersDeltasMax) {
    return BadField("deltas", Cat("a list of at most ", internal::kCenterOrdersDeltasMax));
  }
  absl::flat_hash_map<std::string_view, size_t> seen;  // campaign -> first delta naming it
  for (size_t i = 0; i < body.deltas.size(); ++i) {
    const CampaignDelta& delta = body.deltas[i];
    SURGE_RETURN_IF_ERROR(CheckId(Cat("deltas[", i, "].campaign"), delta.campaign));
    SURGE_RETURN_IF_ERROR(
        CheckRange(Cat("deltas[", i, "].reserved"), delta.reserved, -kStockMax, kStockMax));
    SURGE_RETURN_IF_ERROR(
        CheckRange(Cat("deltas[", i, "].sold"), delta.sold, -kStockMax, kStockMax));
    const auto [first, added] = seen.try_emplace(delta.campaign, i);
    if (!added) {
      return BadField(Cat("deltas[", i, "].campaign"), Cat("different from deltas[", first->second,
                                                           "].campaign (", delta.campaign, ")"));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateBody(const Body& body) {
  return std::visit([](const auto& typed) { return Validate(typed); }, body);
}

// ---- Codec ---------------------------------------------------------------------------------

namespace {

// Version 1: a command without an origin. Version 2: with one, right after now_ms. (Each command
// has one encoding, and journals written before origins existed read the same.)
constexpr uint8_t kCommandFormatVersion = 1;
constexpr uint8_t kCommandWithOriginFormatVersion = 2;

// Integers are written as unsigned varints: ValidateBody keeps every one of them non-negative.
void PutInt(Encoder& encoder, int64_t value) {
  SURGE_ASSERT(value >= 0);
  encoder.Varint(static_cast<uint64_t>(value));
}

void EncodeBody(Encoder& e, const PutMerchant& b) {
  e.String(b.id);
  e.String(b.name);
}
void EncodeBody(Encoder& e, const PutProduct& b) {
  e.String(b.sku);
  e.String(b.merchant);
  e.String(b.name);
  e.String(b.category);
  PutInt(e, b.price_cents);
}
void EncodeBody(Encoder& e, const PutUser& b) {
  e.String(b.id);
  e.String(b.region);
}
void EncodeBody(Encoder& e, const PutInventory& b) {
  e.String(b.sku);
  PutInt(e, b.stock);
}
void EncodeBody(Encoder& e, const PutCampaign& b) {
  e.String(b.id);
  e.String(b.sku);
  PutInt(e, b.stock);
  PutInt(e, b.price_cents);
  PutInt(e, b.starts_at_ms);
  PutInt(e, b.ends_at_ms);
  PutInt(e, b.per_user_limit);
  PutInt(e, b.reserve_ttl_ms);
}
void EncodeBody(Encoder& e, const PlaceOrder& b) {
  e.String(b.request_id);
  e.String(b.user);
  e.Varint(b.items.size());
  for (const OrderItem& item : b.items) {
    e.String(item.sku);
    PutInt(e, item.quantity);
  }
}
void EncodeBody(Encoder& e, const PayOrder& b) { e.String(b.order_id); }
void EncodeBody(Encoder& e, const CancelOrder& b) { e.String(b.order_id); }
void EncodeBody(Encoder&, const Tick&) {}
void EncodeBody(Encoder& e, const RequestQuota& b) {
  e.String(b.campaign);
  e.String(b.center);
  PutInt(e, b.units);
}
void EncodeBody(Encoder& e, const ReturnQuota& b) {
  e.String(b.campaign);
  e.String(b.center);
  PutInt(e, b.units);
}
void EncodeBody(Encoder& e, const PutDemand& b) {
  e.String(b.sku);
  e.Varint(b.centers.size());
  for (const CenterDemand& each : b.centers) {
    e.String(each.center);
    PutInt(e, each.units);
  }
}
void EncodeBody(Encoder& e, const CenterOrders& b) {
  e.String(b.center);
  e.Varint(b.deltas.size());
  for (const CampaignDelta& delta : b.deltas) {
    e.String(delta.campaign);
    e.SignedVarint(delta.reserved);
    e.SignedVarint(delta.sold);
  }
}

// Reads an integer written by PutInt; anything above INT64_MAX fails (the range checks of
// ValidateBody come after).
bool GetInt(Decoder& decoder, int64_t* value) {
  uint64_t raw = 0;
  if (!decoder.Varint(&raw) || raw > static_cast<uint64_t>(INT64_MAX)) return false;
  *value = static_cast<int64_t>(raw);
  return true;
}

bool GetId(Decoder& d, std::string* id) { return d.String(id, kIdLengthMax); }
bool GetName(Decoder& d, std::string* name) { return d.String(name, kNameLengthMax); }

bool DecodeBody(Decoder& d, PutMerchant* b) { return GetId(d, &b->id) && GetName(d, &b->name); }
bool DecodeBody(Decoder& d, PutProduct* b) {
  return GetId(d, &b->sku) && GetId(d, &b->merchant) && GetName(d, &b->name) &&
         GetName(d, &b->category) && GetInt(d, &b->price_cents);
}
bool DecodeBody(Decoder& d, PutUser* b) { return GetId(d, &b->id) && GetName(d, &b->region); }
bool DecodeBody(Decoder& d, PutInventory* b) { return GetId(d, &b->sku) && GetInt(d, &b->stock); }
bool DecodeBody(Decoder& d, PutCampaign* b) {
  return GetId(d, &b->id) && GetId(d, &b->sku) && GetInt(d, &b->stock) &&
         GetInt(d, &b->price_cents) && GetInt(d, &b->starts_at_ms) && GetInt(d, &b->ends_at_ms) &&
         GetInt(d, &b->per_user_limit) && GetInt(d, &b->reserve_ttl_ms);
}
bool DecodeBody(Decoder& d, PlaceOrder* b) {
  uint64_t count = 0;
  if (!GetId(d, &b->request_id) || !GetId(d, &b->user) || !d.Varint(&count)) return false;
  if (count > kItemsMax) return false;
  b->items.resize(count);
  for (OrderItem& item : b->items) {
    if (!GetId(d, &item.sku) || !GetInt(d, &item.quantity)) return false;
  }
  return true;
}
bool DecodeBody(Decoder& d, PayOrder* b) { return GetId(d, &b->order_id); }
bool DecodeBody(Decoder& d, CancelOrder* b) { return GetId(d, &b->order_id); }
bool DecodeBody(Decoder&, Tick*) { return true; }
bool GetCenter(Decoder& d, std::string* id) { return d.String(id, internal::kCenterIdLengthMax); }
bool DecodeBody(Decoder& d, RequestQuota* b) {
  return GetId(d, &b->campaign) && GetCenter(d, &b->center) && GetInt(d, &b->units);
}
bool DecodeBody(Decoder& d, ReturnQuota* b) {
  return GetId(d, &b->campaign) && GetCenter(d, &b->center) && GetInt(d, &b->units);
}
bool DecodeBody(Decoder& d, CenterOrders* b) {
  uint64_t count = 0;
  if (!GetCenter(d, &b->center) || !d.Varint(&count)) return false;
  // Each delta takes at least three bytes: no huge allocation for a short input.
  if (count > internal::kCenterOrdersDeltasMax || count > d.remaining()) return false;
  b->deltas.resize(count);
  for (CampaignDelta& delta : b->deltas) {
    if (!GetId(d, &delta.campaign) || !d.SignedVarint(&delta.reserved) ||
        !d.SignedVarint(&delta.sold)) {
      return false;
    }
  }
  return true;
}

bool DecodeBody(Decoder& d, PutDemand* b) {
  uint64_t count = 0;
  if (!GetId(d, &b->sku) || !d.Varint(&count)) return false;
  // Each entry takes at least three bytes: no huge allocation for a short input.
  if (count > kDemandCentersMax || count > d.remaining()) return false;
  b->centers.resize(count);
  for (CenterDemand& each : b->centers) {
    if (!GetCenter(d, &each.center) || !GetInt(d, &each.units)) return false;
  }
  return true;
}

bool DecodeOrigin(Decoder& d, Origin* origin) {
  return GetCenter(d, &origin->center) && d.U8(&origin->kind) && d.Varint(&origin->sequence);
}

template <size_t kIndex = 0>
bool DecodeBodyOfKind(Decoder& decoder, size_t kind, Body* body) {
  if constexpr (kIndex < std::variant_size_v<Body>) {
    if (kind == kIndex) return DecodeBody(decoder, &body->emplace<kIndex>());
    return DecodeBodyOfKind<kIndex + 1>(decoder, kind, body);
  } else {
    return false;  // unknown kind
  }
}

Status Corrupt(std::string_view what) {
  return Status(Code::kCorruption, Cat("trade command: ", what));
}

}  // namespace

void EncodeCommand(const Command& command, std::string* out) {
  SURGE_ASSERT(command.now_ms >= 0 && command.now_ms <= kTimeMsMax);
  const Status valid = ValidateBody(command.body);
  SURGE_ASSERT_MSG(valid.ok(), valid.message().c_str());
  const std::optional<Origin>& origin = command.origin;
  if (origin.has_value()) {
    const Status valid_origin = internal::ValidateOrigin(*origin);
    SURGE_ASSERT_MSG(valid_origin.ok(), valid_origin.message().c_str());
  }
  Encoder encoder(out);
  encoder.U8(origin.has_value() ? kCommandWithOriginFormatVersion : kCommandFormatVersion);
  encoder.U8(static_cast<uint8_t>(command.body.index()));
  PutInt(encoder, command.now_ms);
  if (origin.has_value()) {
    encoder.String(origin->center);
    encoder.U8(origin->kind);
    encoder.Varint(origin->sequence);
  }
  std::visit([&](const auto& body) { EncodeBody(encoder, body); }, command.body);
}

Result<Command> DecodeCommand(std::string_view bytes) {
  Decoder decoder(bytes);
  uint8_t version = 0;
  uint8_t kind = 0;
  Command command;
  if (!decoder.U8(&version)) return Corrupt("empty");
  if (version != kCommandFormatVersion && version != kCommandWithOriginFormatVersion) {
    return Corrupt(Cat("unknown format version ", version));
  }
  if (!decoder.U8(&kind) || !GetInt(decoder, &command.now_ms)) return Corrupt("truncated header");
  if (version == kCommandWithOriginFormatVersion) {
    if (!DecodeOrigin(decoder, &command.origin.emplace())) return Corrupt("truncated origin");
    const Status valid = internal::ValidateOrigin(*command.origin);
    if (!valid.ok()) return Corrupt(Cat("malformed origin: ", valid.message()));
  }
  if (kind >= std::variant_size_v<Body>) return Corrupt(Cat("unknown kind ", kind));
  if (!DecodeBodyOfKind(decoder, kind, &command.body)) return Corrupt("truncated or bad field");
  if (!decoder.done()) return Corrupt(Cat(decoder.remaining(), " trailing bytes"));
  if (command.now_ms > kTimeMsMax) return Corrupt("now_ms out of range");
  const Status valid = ValidateBody(command.body);
  if (!valid.ok()) return Corrupt(Cat("malformed body: ", valid.message()));
  return command;
}

}  // namespace surge::trade
