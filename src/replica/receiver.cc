// The standby's side of journal shipping (replica.h).
#include <sys/socket.h>

#include "common/log.h"
#include "common/net.h"
#include "replica/connection.h"
#include "replica/replica.h"

namespace surge::replica {
namespace {
constexpr std::chrono::milliseconds kWelcomeTimeout{5000};
// How often a quiet link checks whether Close was called (Close also shuts the socket down).
constexpr std::chrono::milliseconds kIdleCheck{100};
constexpr std::chrono::milliseconds kAckSendTimeout{2000};
// A primary says something at least every 200 ms (shipper.cc, kKeepAliveEvery). Silence this long
// means the link or the primary is gone even though no error came (a link taken down drops
// packets without a word): the receiver ends, and its node connects again to whoever holds the
// lease then. Long enough for a primary delayed by a loaded machine; short beside a lease.
constexpr std::chrono::milliseconds kPrimarySilentAfter{1500};
}  // namespace

Receiver::Receiver(ReceiverOptions options, center::Center& standby)
    : options_(std::move(options)), standby_(standby) {}

Receiver::~Receiver() { Close(); }

void Receiver::Close() {
  closed_.store(true, std::memory_order_release);
  const int fd = fd_.load(std::memory_order_acquire);
  if (fd >= 0) (void)shutdown(fd, SHUT_RDWR);
}

Status Receiver::Run(uint64_t* keep_through) {
  const std::string primary = options_.primary_host + ":" + std::to_string(options_.primary_port);
  SURGE_ASSIGN_OR_RETURN(const int fd, ConnectTcp(options_.primary_host, options_.primary_port,
                                                  options_.connect_timeout));
  Connection connection(fd);
  fd_.store(fd, std::memory_order_release);
  struct Forget {
    std::atomic<int>& fd;
    ~Forget() { fd.store(-1, std::memory_order_release); }
  } forget{fd_};
  if (closed_.load(std::memory_order_acquire)) {
    return Status(Code::kUnavailable, "the receiver was closed");
  }
  const uint64_t last = standby_.durable_sequence();
  std::string out;
  wire::AppendHello(options_.epoch, last, options_.center, &out);
  SURGE_RETURN_IF_ERROR(connection.Send(out, kWelcomeTimeout));
  SURGE_ASSIGN_OR_RETURN(wire::Frame welcome, connection.Receive(kWelcomeTimeout));
  if (welcome.type == wire::Type::kError) {
    return Status(welcome.error, "primary at " + primary + ": " + std::string(welcome.message));
  }
  if (welcome.type != wire::Type::kWelcome || welcome.epoch != options_.epoch) {
    return Status(Code::kWrongState, "the primary at " + primary + " is not center " +
                                         options_.center + "'s at epoch " +
                                         std::to_string(options_.epoch));
  }
  if (welcome.sequence < last) {
    *keep_through = welcome.sequence;
    return Status(Code::kWrongState,
                  "this standby holds records " + std::to_string(welcome.sequence + 1) + ".." +
                      std::to_string(last) + " that its primary does not: they must go");
  }
  auto heard_at = std::chrono::steady_clock::now();
  for (;;) {
    bool quiet = false;
    Result<wire::Frame> got = connection.Receive(kIdleCheck, &quiet);
    if (closed_.load(std::memory_order_acquire)) {
      return Status(Code::kUnavailable, "the receiver was closed");
    }
    const auto now = std::chrono::steady_clock::now();
    if (!got.ok()) {
      if (!quiet) return got.status().Annotate("following the primary at " + primary);
      if (now - heard_at < kPrimarySilentAfter) continue;
      return Status(Code::kIoError, "the primary at " + primary + " has been silent for " +
                                        std::to_string(kPrimarySilentAfter.count()) + " ms");
    }
    heard_at = now;
    switch (got->type) {
      case wire::Type::kBatch: {
        if (got->epoch != options_.epoch) {
          return Status(Code::kWrongState, "a batch of epoch " + std::to_string(got->epoch) +
                                               " from a primary of epoch " +
                                               std::to_string(options_.epoch));
        }
        const Status appended = standby_.AppendShipped(got->sequence, got->records);
        if (!appended.ok()) {
          out.clear();
          wire::AppendError(appended, &out);
          (void)connection.Send(out, kAckSendTimeout);
          return appended;
        }
        out.clear();
        wire::AppendAck(got->sequence + got->records.size() - 1, &out);
        SURGE_RETURN_IF_ERROR(connection.Send(out, kAckSendTimeout));
        break;
      }
      case wire::Type::kInSync:
        if (!in_sync_.exchange(true)) {
          SURGE_LOG_INFO("center %s: standby in sync with %s at sequence %llu",
                         options_.center.c_str(), primary.c_str(),
                         static_cast<unsigned long long>(got->sequence));
        }
        break;
      case wire::Type::kError:
        return Status(got->error, "primary at " + primary + ": " + std::string(got->message));
      default:
        return Status(Code::kCorruption,
                      "the primary sent a " + std::string(wire::TypeName(got->type)));
    }
  }
}

}  // namespace surge::replica
