// The center's HTTP handler: what a center does with each route that route/route.h matches
// (shedding, placement, and the hand-off of decoded commands and reads to the center). Runs on the
// http server's event-loop threads and never blocks: writes are answered from the center's writer
// thread once durable, reads from the writer thread too.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "api/api.h"
#include "api/placement.h"
#include "json/json.h"
#include "route/route.h"

namespace surge::api {
namespace {

using route::IsRead;
using route::Match;
using route::Resource;

void SendError(http::Responder& responder, const Status& status) {
  http::Response response = http::ErrorResponse(status);
  if (status.code() == Code::kOverloaded) response.retry_after_s = 1;
  responder.Send(std::move(response));
}

http::Response Ok(std::string body) {
  http::Response response;
  response.body = std::move(body);
  return response;
}

// Encodes a read's result: 200 with `encode(value)`, or its error.
template <typename T, typename Encode>
http::Response ReadResponse(const Result<T>& result, Encode encode) {
  if (!result.ok()) return http::ErrorResponse(result.status());
  return Ok(encode(result.value()));
}

// Responders are move-only and center callbacks are std::function (copyable): share it.
using SharedResponder = std::shared_ptr<http::Responder>;

class CenterHandler final : public http::Handler {
 public:
  CenterHandler(center::Center& center, std::optional<Placement> placement,
                std::chrono::milliseconds shed_waited)
      : center_(center),
        placement_(std::move(placement)),
        shed_waited_us_(
            std::chrono::duration_cast<std::chrono::microseconds>(shed_waited).count()) {}

  void Handle(const http::Request& request, http::Responder responder) override {
    const Result<Match> match = route::MatchRequest(request.method, request.path);
    if (!match.ok()) return SendError(responder, match.status());
    if (shed_waited_us_ > 0 && request.waited_us > shed_waited_us_ &&
        match->resource != Resource::kHealth && match->resource != Resource::kTopology) {
      SendError(responder, Status(Code::kOverloaded, "center " + center_.center_id() +
                                                         " is overloaded (the request waited " +
                                                         std::to_string(request.waited_us / 1000) +
                                                         " ms before it could be read)"));
      return;
    }
    const Status path_id = route::CheckPathId(*match);
    if (!path_id.ok()) return SendError(responder, path_id);
    if (placement_.has_value()) {
      if (const topology::Center* owner = OwnerOf(*match, request.method)) {
        responder.Send(WrongCenter(*owner, WhyElsewhere(*match, *owner)));
        return;
      }
    }
    if (IsRead(request.method)) {
      HandleRead(*match, std::move(responder));
    } else {
      HandleWrite(*match, request.body, std::move(responder));
    }
  }

 private:
  // The center a request belongs to when that is another one (see Placement); null when it is
  // this one, or when only the body can tell (an order's user: see PlaceOrderAt).
  const topology::Center* OwnerOf(const Match& match, std::string_view method) const {
    switch (match.resource) {
      case Resource::kMerchant:
      case Resource::kProduct:
      case Resource::kUser:
      case Resource::kInventory:
      case Resource::kCampaign:
      case Resource::kDemand:
        // Reads of master data are served by every center (it is replicated to all).
        return IsRead(method) ? nullptr : placement_->MasterDataOwner();
      case Resource::kOrder:
      case Resource::kOrderPay:
      case Resource::kOrderCancel:
        return placement_->OrderOwner(match.id);
      case Resource::kUserOrders:
        return placement_->HomeOf(match.id);
      case Resource::kOrders:
      case Resource::kHealth:
      case Resource::kTopology:
        break;
    }
    return nullptr;
  }

  static std::string WhyElsewhere(const Match& match, const topology::Center& owner) {
    switch (match.resource) {
      case Resource::kOrder:
      case Resource::kOrderPay:
      case Resource::kOrderCancel:
        return "order " + std::string(match.id) + " was made by another center";
      case Resource::kUserOrders:
        return "the orders of user " + std::string(match.id) +
               " are kept at the user's home center";
      default:
        return owner.is_master ? "master data is written at the master center"
                               : "this request is served by another center";
    }
  }

  // Decodes the write, then submits it; the reply is sent from the writer thread.
  void HandleWrite(const Match& match, std::string_view body, http::Responder responder) {
    switch (match.resource) {
      case Resource::kOrders:
        return PlaceOrderAt(DecodePlaceOrder(body), std::move(responder));
      case Resource::kMerchant:
        return Submit(DecodePutMerchant(match.id, body), 200, std::move(responder));
      case Resource::kProduct:
        return Submit(DecodePutProduct(match.id, body), 200, std::move(responder));
      case Resource::kUser:
        return Submit(DecodePutUser(match.id, body), 200, std::move(responder));
      case Resource::kInventory:
        return Submit(DecodePutInventory(match.id, body), 200, std::move(responder));
      case Resource::kCampaign:
        return Submit(DecodePutCampaign(match.id, body), 200, std::move(responder));
      case Resource::kDemand:
        return Submit(DecodePutDemand(match.id, body), 200, std::move(responder));
      case Resource::kOrderPay:
      case Resource::kOrderCancel: {
        const Status empty = CheckEmptyBody(body);
        if (!empty.ok()) return SendError(responder, empty);
        trade::Body command;
        if (match.resource == Resource::kOrderPay) {
          command = trade::PayOrder{std::string(match.id)};
        } else {
          command = trade::CancelOrder{std::string(match.id)};
        }
        return SubmitBody(std::move(command), 200, std::move(responder));
      }
      case Resource::kOrder:
      case Resource::kUserOrders:
      case Resource::kHealth:
      case Resource::kTopology:
        break;
    }
    SURGE_ASSERT_MSG(false, "a write on a read-only route passed the method check");
  }

  // An order is placed at its user's home center only; the body is decoded (and refused if bad)
  // first, wherever it arrived.
  void PlaceOrderAt(Result<trade::PlaceOrder> decoded, http::Responder responder) {
    if (decoded.ok() && placement_.has_value()) {
      if (const topology::Center* home = placement_->HomeOf(decoded->user)) {
        responder.Send(WrongCenter(
            *home, "user " + decoded->user + "'s orders are placed at the user's home center"));
        return;
      }
    }
    Submit(std::move(decoded), 201, std::move(responder));
  }

  template <typename Command>
  void Submit(Result<Command> decoded, int success_status, http::Responder responder) {
    if (!decoded.ok()) return SendError(responder, decoded.status());
    SubmitBody(trade::Body(std::move(decoded).value()), success_status, std::move(responder));
  }

  void SubmitBody(trade::Body body, int success_status, http::Responder responder) {
    auto shared = std::make_shared<http::Responder>(std::move(responder));
    // The reply is encoded on the connection's event loop, not here on the center's writer:
    // the writer is one thread for the whole center, the loops are one per core.
    center_.Submit(std::move(body), [shared = std::move(shared), success_status,
                                     multi = placement_.has_value()](trade::Reply reply) {
      shared->SendRendered([reply = std::move(reply), success_status, multi] {
        return EncodeReply(reply, success_status, multi);
      });
    });
  }

  void HandleRead(const Match& match, http::Responder responder) {
    if (match.resource == Resource::kHealth) return responder.Send(Health());
    if (match.resource == Resource::kTopology) {
      if (!placement_.has_value()) {
        return SendError(
            responder, Status(Code::kNotFound, "this center runs alone, without a topology file"));
      }
      return responder.Send(Ok(placement_->topology().ToJson()));
    }
    std::string id(match.id);
    switch (match.resource) {
      case Resource::kMerchant:
        return Read(std::move(responder), [id](const trade::Trade& state, int64_t) {
          return ReadResponse(state.GetMerchant(id), EncodeMerchant);
        });
      case Resource::kProduct:
        return Read(std::move(responder), [id](const trade::Trade& state, int64_t) {
          return ReadResponse(state.GetProduct(id), EncodeProduct);
        });
      case Resource::kUser:
        return Read(std::move(responder), [id](const trade::Trade& state, int64_t) {
          return ReadResponse(state.GetUser(id), EncodeUser);
        });
      case Resource::kInventory:
        return Read(std::move(responder), [id](const trade::Trade& state, int64_t) {
          return ReadResponse(state.GetInventory(id), EncodeInventory);
        });
      case Resource::kCampaign:
        return Read(std::move(responder), [id, multi = placement_.has_value()](
                                              const trade::Trade& state, int64_t) {
          return ReadResponse(state.GetCampaign(id), [multi](const trade::CampaignView& campaign) {
            return EncodeCampaign(campaign, multi);
          });
        });
      case Resource::kOrder:
        return Read(std::move(responder), [id](const trade::Trade& state, int64_t now_ms) {
          return ReadResponse(state.GetOrder(id, now_ms), EncodeOrder);
        });
      case Resource::kUserOrders:
        return Read(std::move(responder), [id](const trade::Trade& state, int64_t now_ms) {
          return ReadResponse(state.GetUserOrders(id, now_ms), EncodeOrders);
        });
      case Resource::kOrders:
      case Resource::kOrderPay:
      case Resource::kOrderCancel:
      case Resource::kHealth:
      case Resource::kTopology:
      case Resource::kDemand:
        break;
    }
    SURGE_ASSERT_MSG(false, "a read on a write-only route passed the method check");
  }

  // Runs `read` (Response(const Trade&, int64_t now_ms)) on the writer thread and sends its
  // response; answers overloaded when the center's queue is full, unavailable when it has failed
  // (a durability failure: it will not come back by retrying here).
  template <typename ReadToResponse>
  void Read(http::Responder responder, ReadToResponse read) {
    auto shared = std::make_shared<http::Responder>(std::move(responder));
    const bool accepted =
        center_.Read([shared, read = std::move(read)](const trade::Trade& state, int64_t now_ms) {
          shared->Send(read(state, now_ms));
        });
    if (!accepted && center_.failed()) {
      SendError(*shared, Status(Code::kUnavailable,
                                "the center stopped after a storage failure; see its log"));
    } else if (!accepted) {
      SendError(*shared,
                Status(Code::kOverloaded, "the center is busy or stopping; retry in a second"));
    }
  }

  http::Response Health() const {
    std::string body;
    json::Writer writer(&body);
    writer.BeginObject();
    writer.Field("status", "ok");
    writer.Field("center", center_.center_id());
    writer.Field("role", "primary");
    writer.Field("epoch", int64_t{0});
    writer.EndObject();
    return Ok(std::move(body));
  }

  center::Center& center_;
  const std::optional<Placement> placement_;
  const int64_t shed_waited_us_;  // 0: never
};

}  // namespace

std::unique_ptr<http::Handler> NewCenterHandler(center::Center& center, HandlerOptions options) {
  std::optional<Placement> placement;
  if (options.topology.has_value()) {
    placement.emplace(std::move(*options.topology), center.center_id());
  }
  return std::make_unique<CenterHandler>(center, std::move(placement), options.shed_waited);
}

}  // namespace surge::api
