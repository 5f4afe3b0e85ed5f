// api: the HTTP API of API.md, served by a center. Decodes each request into a trade command or a
// read, hands it to the center, and encodes the reply as JSON. Every error is API.md's error body;
// malformed input never reaches the center.
#pragma once

#include <memory>
#include <string_view>

#include "center/center.h"
#include "common/status.h"
#include "http/http.h"
#include "trade/trade.h"

namespace surge::api {

// Serves API.md's master-data, inventory, campaign, order and /healthz routes against `center`,
// which must outlive it.
std::unique_ptr<http::Handler> NewCenterHandler(center::Center& center);

// Decoders, one per command body, exposed for tests and fuzzing. `id` is the id taken from the
// path. bad_json for invalid JSON, bad_field naming the field for anything else.
Result<trade::PutMerchant> DecodePutMerchant(std::string_view id, std::string_view body);
Result<trade::PutProduct> DecodePutProduct(std::string_view sku, std::string_view body);
Result<trade::PutUser> DecodePutUser(std::string_view id, std::string_view body);
Result<trade::PutInventory> DecodePutInventory(std::string_view sku, std::string_view body);
Result<trade::PutCampaign> DecodePutCampaign(std::string_view id, std::string_view body);
Result<trade::PlaceOrder> DecodePlaceOrder(std::string_view body);

// Encoders of replies and views (the JSON shapes of API.md).
std::string EncodeOrder(const trade::OrderView& order);
std::string EncodeCampaign(const trade::CampaignView& campaign);

}  // namespace surge::api
