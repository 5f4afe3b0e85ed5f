// api: the HTTP API of API.md, served by a center. Decodes each request into a trade command or a
// read, hands it to the center, and encodes the reply as JSON. Every error is API.md's error body;
// malformed input never reaches the center.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "center/center.h"
#include "common/status.h"
#include "http/http.h"
#include "topology/topology.h"
#include "trade/trade.h"

namespace surge::api {

// Serves API.md's master-data, inventory, campaign, order and /healthz routes against `center`,
// which must outlive it. An unknown path answers 404 not_found, a known path with another method
// 405 method_not_allowed, an invalid id in the path 400 bad_field. Writes are decoded (nothing
// invalid reaches the center) and submitted; the reply is sent once durable: PUT 200 with the
// stored object, POST /v1/orders 201 with the order (the same body on an idempotent retry),
// pay/cancel 200 with the order. Reads run on the center's writer thread; when the center refuses
// a read (queue full or stopping) the answer is 503 overloaded with Retry-After: 1.
// /healthz answers {"status":"ok","center":<id>,"role":"primary","epoch":0}.
//
// With options.topology (a deployment of several centers, of which `center` is one: the caller
// checks that it names center.center_id()), a request that belongs to another center is answered
// 421 wrong_center, with "center" and "address" in the error object naming that center:
// master-data writes anywhere but at the master; POST /v1/orders (once its body decodes) and
// GET /v1/users/{id}/orders anywhere but at the user's home center; an order's pay, cancel and
// GET anywhere but at the center named in its id ("o.<center>.<n>"). GET /v1/topology serves the
// topology (topology::Topology::ToJson); without one it is 404 not_found.
// With options.shed_waited, a request that waited longer than that before the event loop took it
// (http::Request::waited_us: the loops are short of CPU) is answered 503 overloaded with
// Retry-After: 1 at once, without being decoded or queued, except /healthz and /v1/topology: when
// the loops fall behind, what they accept stays fast and the rest is shed cheaply.
// Thread safety: Handle may be called from any number of threads at once.
struct HandlerOptions {
  std::optional<topology::Topology> topology;
  std::chrono::milliseconds shed_waited{0};  // 0: never shed by waiting time
};
std::unique_ptr<http::Handler> NewCenterHandler(center::Center& center,
                                                HandlerOptions options = {});

// Decoders, one per command body, exposed for tests and fuzzing. `id` is the id taken from the
// path. bad_json for invalid JSON, bad_field naming the field for anything else: the path id
// ("sku (in the path): ..."), an unknown or duplicate field, a missing field ("<field> is
// required"), a wrong type or a value out of range ("items[2].quantity: expected an integer
// between 1 and 1000000"). A decoded command satisfies trade::ValidateBody:
//   ids (path ids too) are API.md ids (common/ids.h); name, category and region are strings of at
//   most trade::kNameLengthMax bytes; price_cents is 0..kPriceCentsMax; stock 0..kStockMax;
//   starts_at and ends_at 0..kTimeMsMax with starts_at < ends_at; per_user_limit 1..kStockMax;
//   reserve_ttl_ms 1..kReserveTtlMsMax; an order has 1..kItemsMax items, each with quantity
//   1..kQuantityMax, and no SKU twice.
// They parse with one json::Document per thread, so decoding allocates only the result.
Result<trade::PutMerchant> DecodePutMerchant(std::string_view id, std::string_view body);
Result<trade::PutProduct> DecodePutProduct(std::string_view sku, std::string_view body);
Result<trade::PutUser> DecodePutUser(std::string_view id, std::string_view body);
Result<trade::PutInventory> DecodePutInventory(std::string_view sku, std::string_view body);
Result<trade::PutCampaign> DecodePutCampaign(std::string_view id, std::string_view body);
// {"centers": [{"center": id, "units": int}, ...]}: 1..kDemandCentersMax entries, each center once.
Result<trade::PutDemand> DecodePutDemand(std::string_view sku, std::string_view body);
Result<trade::PlaceOrder> DecodePlaceOrder(std::string_view body);

// The body of POST /v1/orders/{id}/pay and /cancel: empty (or whitespace), or an empty object.
Status CheckEmptyBody(std::string_view body);

// Encoders of replies and views (the JSON shapes of API.md; times in integer ms):
//   order     {"order_id","request_id","user","status","total_cents","expires_at",
//              "items":[{"sku","quantity","price_cents","campaign" (only when bought in a sale)}]}
//   campaign  {"id","sku","stock","price_cents","starts_at","ends_at","per_user_limit",
//              "reserve_ttl_ms","available","reserved","sold"}; with `shared` (a center of a
//              multi-center deployment): at the master the totals over all centers plus
//              "unallocated" and "centers":[{"center","quota","available","reserved","sold"}];
//              at a sub-center the campaign's "stock", and "quota", "available", "reserved",
//              "sold" of this center, "unallocated" and "requested"
//   inventory {"sku","stock","available","reserved","sold"}
//   merchant  {"id","name"}; product {"sku","merchant","name","category","price_cents"};
//   user      {"id","region"}; a user's orders {"orders":[order...]}
std::string EncodeOrder(const trade::OrderView& order);
std::string EncodeCampaign(const trade::CampaignView& campaign, bool shared = false);
std::string EncodeInventory(const trade::InventoryView& inventory);
std::string EncodeMerchant(const trade::MerchantView& merchant);
std::string EncodeProduct(const trade::ProductView& product);
std::string EncodeUser(const trade::UserView& user);
std::string EncodeOrders(const std::vector<trade::OrderView>& orders);

// The HTTP response for a reply: its error (API.md's body; overloaded with Retry-After: 1), or
// `success_status` with the encoded value (an internal error if the reply holds no value).
http::Response EncodeReply(const trade::Reply& reply, int success_status, bool shared = false);

}  // namespace surge::api
