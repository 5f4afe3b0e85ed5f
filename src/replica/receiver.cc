// The standby's side of journal shipping (replica.h).
#include <sys/socket.h>

#include "common/assert.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/net.h"
#include "journal/journal.h"
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
// Before its first frame after the welcome, a primary that must seed this standby reads its whole
// snapshot (hundreds of MB, maybe from disk): it gets as long as a welcome does.
constexpr std::chrono::milliseconds kFirstFrameSilentAfter = kWelcomeTimeout;

// A snapshot arriving in chunks (replica.h, "Seeding").
struct IncomingSnapshot {
  bool active = false;
  uint64_t sequence = 0;
  uint64_t bytes = 0;
  uint32_t crc32c = 0;  // announced
  uint32_t crc32c_so_far = 0;
  std::string state;
};

// Checks a snapshot header against what this standby holds and accepts, and starts taking it.
Status BeginSnapshot(const wire::Frame& frame, uint64_t last, uint64_t bytes_max,
                     IncomingSnapshot* incoming) {
  if (incoming->active) {
    return Status(Code::kCorruption, "the primary began a snapshot within a snapshot");
  }
  if (frame.sequence <= last) {
    return Status(Code::kCorruption,
                  "the primary sent a snapshot after record " + std::to_string(frame.sequence) +
                      " to a standby holding records through " + std::to_string(last));
  }
  if (frame.snapshot_bytes > bytes_max) {
    return Status(Code::kInvalidArgument,
                  "the primary's snapshot after record " + std::to_string(frame.sequence) +
                      " has " + std::to_string(frame.snapshot_bytes) +
                      " bytes, more than this standby takes (snapshot_bytes_max " +
                      std::to_string(bytes_max) + ")");
  }
  *incoming = IncomingSnapshot{};
  incoming->active = true;
  incoming->sequence = frame.sequence;
  incoming->bytes = frame.snapshot_bytes;
  incoming->crc32c = frame.snapshot_crc32c;
  // Bounded by snapshot_bytes_max above; reserving spares the copies of a growing string.
  incoming->state.reserve(frame.snapshot_bytes);
  return Status::Ok();
}

// Sets `*complete` once every byte arrived; corruption if they do not match the checksum.
Status CheckComplete(const IncomingSnapshot& incoming, bool* complete) {
  *complete = incoming.state.size() == incoming.bytes;
  if (*complete && incoming.crc32c_so_far != incoming.crc32c) {
    return Status(Code::kCorruption, "the primary's snapshot after record " +
                                         std::to_string(incoming.sequence) +
                                         " does not match its checksum");
  }
  return Status::Ok();
}

// Appends a chunk; ok with `*complete` once the whole state arrived and its checksum matches.
Status TakeChunk(const wire::Frame& frame, IncomingSnapshot* incoming, bool* complete) {
  if (!incoming->active || frame.sequence != incoming->state.size() ||
      frame.chunk.size() > incoming->bytes - incoming->state.size()) {
    return Status(Code::kCorruption,
                  "the primary sent a snapshot chunk of " + std::to_string(frame.chunk.size()) +
                      " bytes at offset " + std::to_string(frame.sequence) + " where " +
                      (incoming->active ? "offset " + std::to_string(incoming->state.size()) +
                                              " of " + std::to_string(incoming->bytes) + " bytes"
                                        : std::string("no snapshot")) +
                      " was expected");
  }
  incoming->state.append(frame.chunk);
  incoming->crc32c_so_far = Crc32c(frame.chunk, incoming->crc32c_so_far);
  return CheckComplete(*incoming, complete);
}

// Hands a whole snapshot to the caller to install (Resync), and tells the primary it arrived.
Status TakeSnapshot(Connection& connection, const std::string& center, const std::string& primary,
                    IncomingSnapshot incoming, Resync* resync) {
  SURGE_LOG_INFO("center %s: standby received the snapshot after record %llu (%llu bytes) from %s",
                 center.c_str(), static_cast<unsigned long long>(incoming.sequence),
                 static_cast<unsigned long long>(incoming.bytes), primary.c_str());
  resync->snapshot_sequence = incoming.sequence;
  resync->snapshot = std::move(incoming.state);
  // The snapshot is whole and verified whether or not the primary hears this: install it anyway.
  std::string out;
  wire::AppendAck(resync->snapshot_sequence, &out);
  (void)connection.Send(out, kAckSendTimeout);
  return Status(Code::kWrongState,
                "the primary at " + primary +
                    " no longer holds the records this standby needs; it sent its snapshot after "
                    "record " +
                    std::to_string(resync->snapshot_sequence) + " to install");
}

// Tells the primary why this standby stops (an error frame), and returns `why`.
Status Refuse(Connection& connection, const Status& why) {
  std::string out;
  wire::AppendError(why, &out);
  (void)connection.Send(out, kAckSendTimeout);
  return why;
}

// Appends a shipped batch to the standby and acknowledges it.
Status AppendAndAcknowledge(Connection& connection, center::Center& standby,
                            const wire::Frame& batch) {
  const Status appended = standby.AppendShipped(batch.sequence, batch.records);
  if (!appended.ok()) return Refuse(connection, appended);
  std::string out;
  wire::AppendAck(batch.sequence + batch.records.size() - 1, &out);
  return connection.Send(out, kAckSendTimeout);
}

// A Receiver's session with its primary, past the welcome.
struct Session {
  const ReceiverOptions& options;
  center::Center& standby;
  const std::atomic<bool>& closed;  // Receiver::Close was called
  std::atomic<bool>& in_sync;
  Connection& connection;
  const std::string& primary;  // host:port, for messages
};

// After the welcome: batches, "in sync" and snapshots until the session ends.
Status Follow(const Session& session, Resync* resync) {
  const ReceiverOptions& options = session.options;
  center::Center& standby = session.standby;
  Connection& connection = session.connection;
  const std::string& primary = session.primary;
  IncomingSnapshot incoming;
  auto heard_at = std::chrono::steady_clock::now();
  std::chrono::milliseconds silent_after = kFirstFrameSilentAfter;
  for (;;) {
    bool quiet = false;
    Result<wire::Frame> got = connection.Receive(kIdleCheck, &quiet);
    if (session.closed.load(std::memory_order_acquire)) {
      return Status(Code::kUnavailable, "the receiver was closed");
    }
    const auto now = std::chrono::steady_clock::now();
    if (!got.ok()) {
      if (!quiet) return got.status().Annotate("following the primary at " + primary);
      if (now - heard_at < silent_after) continue;
      return Status(Code::kIoError, "the primary at " + primary + " has been silent for " +
                                        std::to_string(silent_after.count()) + " ms");
    }
    heard_at = now;
    silent_after = kPrimarySilentAfter;
    const wire::Frame& frame = *got;
    const bool snapshot_frame =
        frame.type == wire::Type::kSnapshot || frame.type == wire::Type::kSnapshotChunk;
    if ((frame.type == wire::Type::kBatch || snapshot_frame) && frame.epoch != options.epoch) {
      return Status(Code::kWrongState, "a " + std::string(wire::TypeName(frame.type)) +
                                           " of epoch " + std::to_string(frame.epoch) +
                                           " from a primary of epoch " +
                                           std::to_string(options.epoch));
    }
    if (incoming.active && !snapshot_frame && frame.type != wire::Type::kError) {
      return Status(Code::kCorruption, "the primary sent a " +
                                           std::string(wire::TypeName(frame.type)) +
                                           " in the middle of a snapshot");
    }
    bool complete = false;
    Status status = Status::Ok();
    switch (frame.type) {
      case wire::Type::kBatch:
        status = AppendAndAcknowledge(connection, standby, frame);
        break;
      case wire::Type::kInSync:
        if (!session.in_sync.exchange(true)) {
          SURGE_LOG_INFO("center %s: standby in sync with %s at sequence %llu",
                         options.center.c_str(), primary.c_str(),
                         static_cast<unsigned long long>(frame.sequence));
        }
        break;
      case wire::Type::kSnapshot:
        status =
            BeginSnapshot(frame, standby.durable_sequence(), options.snapshot_bytes_max, &incoming);
        if (status.ok()) status = CheckComplete(incoming, &complete);
        break;
      case wire::Type::kSnapshotChunk:
        status = TakeChunk(frame, &incoming, &complete);
        break;
      case wire::Type::kError:
        return Status(frame.error, "primary at " + primary + ": " + std::string(frame.message));
      default:
        return Status(Code::kCorruption,
                      "the primary sent a " + std::string(wire::TypeName(frame.type)));
    }
    if (!status.ok()) return Refuse(connection, status);
    if (complete) {
      return TakeSnapshot(connection, options.center, primary, std::move(incoming), resync);
    }
  }
}

}  // namespace

Status InstallSnapshot(Env& env, const std::string& data_dir, const Resync& resync) {
  SURGE_ASSERT(resync.must_install());
  return journal::InstallSnapshot(env, JoinPath(data_dir, "journal"), resync.snapshot_sequence,
                                  resync.snapshot);
}

Receiver::Receiver(ReceiverOptions options, center::Center& standby)
    : options_(std::move(options)), standby_(standby) {}

Receiver::~Receiver() { Close(); }

void Receiver::Close() {
  closed_.store(true, std::memory_order_release);
  const int fd = fd_.load(std::memory_order_acquire);
  if (fd >= 0) (void)shutdown(fd, SHUT_RDWR);
}

Status Receiver::Run(Resync* resync) {
  *resync = Resync{};
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
    resync->keep_through = welcome.sequence;
    return Status(Code::kWrongState,
                  "this standby holds records " + std::to_string(welcome.sequence + 1) + ".." +
                      std::to_string(last) + " that its primary does not: they must go");
  }
  return Follow(Session{options_, standby_, closed_, in_sync_, connection, primary}, resync);
}

}  // namespace surge::replica
