// bus: the data bus between centers.
//
// Every center publishes records of its journal, each with its journal sequence and a kind. A
// stream is the records of one kind published by one center, in sequence order: sequences
// increase within a stream, with gaps where the journal holds records of other kinds or records
// that are not published at all. A consumer follows one stream from a position: catch-up, then
// live. The flows of ARCHITECTURE.md: master data (kMasterData) from the master down to every
// center; order events (kOrders) from every center up to the master's global view; quota requests
// and grants (kQuota) between the master and the centers.
//
// The delivery contract (bus_contract_test runs it against every implementation):
//   - in order, each once: a subscription delivers its stream's records in increasing sequence,
//     never one twice;
//   - complete: every record published with a sequence beyond `after` is delivered, none skipped;
//   - de-duplicated: publishing again a sequence that was already published (a publisher that
//     restarts and re-sends what it is not sure went out) delivers nothing new;
//   - resumable: a consumer remembers, durably and together with what it applied (e.g. in its
//     own journal), the sequence of the last record it applied, and subscribes after it when it
//     restarts. Records delivered but not yet remembered when a consumer dies are delivered
//     again to the next subscription; since the consumer resumes after what it remembered,
//     it applies nothing twice.
//   - live: a subscription survives the publisher going away and coming back (and, for
//     JetStream, the server restarting): it reconnects and resumes after the last record it
//     delivered, reporting the outage in status() meanwhile.
//
// Two implementations of one interface:
//   embedded (NewEmbeddedBus): the publishing center serves its streams over TCP on its bus
//     address (topology's `bus`): catch-up is read from the center's journal files, live records
//     come from what the center publishes; the kind filter runs on the serving side.
//   JetStream (NewJetStreamBus): records go to NATS JetStream, one stream per center and kind,
//     with the center and sequence as the message id (the server de-duplicates re-sends).
//
// Thread safety: Bus, Publisher and Subscription may be used from any thread. Deliver callbacks
// of one subscription run on that subscription's own thread, one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace surge::bus {

enum class Kind : uint8_t {
  kMasterData = 1,
  kOrders = 2,
  kQuota = 3,
};
inline constexpr uint8_t kKindMax = 3;

// "master_data", "orders", "quota": used in stream and subject names.
std::string_view KindName(Kind kind);

struct StreamId {
  std::string center;  // a center id of the topology
  Kind kind = Kind::kMasterData;
};

struct Record {
  uint64_t sequence = 0;  // the publishing center's journal sequence, >= 1
  Kind kind = Kind::kMasterData;
  std::string_view payload;  // at most kPayloadBytesMax bytes
};
inline constexpr size_t kPayloadBytesMax = 1 << 20;

// The publishing side of one center.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Publishes records that are already durable in the center's journal, in increasing sequence
  // order across calls (asserted). Records whose sequence is not beyond last_published() are
  // re-sends and are skipped (ok). Returns once the bus holds them (embedded: at once, since the
  // journal already does; JetStream: once the server acknowledged each), or an error (then
  // nothing after the first failed record counts as published: publish it again later).
  virtual Status Publish(std::span<const Record> records) = 0;
  // The last sequence published (0 before any). A JetStream publisher starts from what the server
  // already holds, so that a restarted center knows where to resume.
  virtual uint64_t last_published() const = 0;
  // Where subscribers reach it: the embedded publisher's HOST:PORT (with the port it got when
  // asked for port 0); the JetStream server's URL.
  virtual std::string address() const = 0;
};

// Reads the records of a center's journal with sequence in [from, through] that the publisher
// would publish, in order: the embedded publisher's catch-up source. not_found if `from` is older
// than the oldest record still kept. `visit` returns false to stop early.
using History = std::function<Status(uint64_t from, uint64_t through,
                                     const std::function<bool(const Record&)>& visit)>;

struct PublisherOptions {
  std::string center;
  // Embedded only: where to serve the center's streams (HOST:PORT, port 0: any free port), and
  // where catch-up reads what was published before the live window.
  std::string listen;
  History history;
  // Embedded only: the journal sequence through which everything is already published (the
  // center's durable sequence when it opens the publisher): subscribers behind it are served from
  // `history`, and Publish continues after it.
  uint64_t published_through = 0;
  // Embedded only: how many recent records are kept in memory for live subscribers; older ones
  // are read through `history`.
  size_t live_window_records = 65'536;
};

class Subscription {
 public:
  // Stops delivering; returns once no Deliver callback runs any more.
  virtual ~Subscription() = default;
  // The sequence of the last record delivered (the subscription's `after` before any).
  virtual uint64_t delivered_through() const = 0;
  // Ok while connected and following; otherwise what went wrong last (it keeps retrying). A
  // stream whose records before `after` are gone (not_found) stays failed: the consumer must
  // start over from a snapshot.
  virtual Status status() const = 0;
};

using Deliver = std::function<void(const Record& record)>;

class Bus {
 public:
  virtual ~Bus() = default;
  virtual Result<std::unique_ptr<Publisher>> OpenPublisher(const PublisherOptions& options) = 0;
  // Delivers the records of `stream` with a sequence beyond `after`, in order, to `deliver`.
  virtual Result<std::unique_ptr<Subscription>> Subscribe(const StreamId& stream, uint64_t after,
                                                          Deliver deliver) = 0;
};

// The JetStream bus, on the NATS server at `url` ("nats://127.0.0.1:4222"). Streams are created
// on first use, one per center and kind, file-backed; a center id is encoded into stream and
// subject names so that its '.' and ':' stay plain characters. Each message carries its sequence
// in a header and "<center>.<kind>.<sequence>" as its message id, so the server drops a re-send.
// unavailable if the server cannot be reached or has no JetStream. `knows_center`, when given,
// says which centers exist (the topology): Subscribe refuses (not_found) any other, as the
// embedded bus does; without it every valid center id is accepted. Subscribe creates a stream
// that does not exist yet, so a subscriber may start before the center's first publisher.
// Publisher::last_published() of a freshly opened JetStream publisher is a sequence through which
// the server holds every record of the center: it may be a little behind the newest record the
// server holds (by the records that were still in flight when that one was sent); re-sending
// those is harmless, Publish skips what a stream already holds.
Result<std::unique_ptr<Bus>> NewJetStreamBus(
    const std::string& url, std::function<bool(std::string_view center)> knows_center = nullptr);

// The embedded bus. `address_of` maps a center id to the HOST:PORT its publisher serves on
// (topology's bus address); nullopt for a center it does not know (Subscribe fails).
std::unique_ptr<Bus> NewEmbeddedBus(
    std::function<std::optional<std::string>(std::string_view center)> address_of);

}  // namespace surge::bus
