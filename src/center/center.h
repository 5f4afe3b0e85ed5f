// center: the engine loop of one center.
//
// Requests enter a bounded intake queue. One writer thread takes a batch (it closes at
// batch_records_max commands, or batch_wait after its first command, whichever comes first; and
// whatever arrived while the previous batch was being synced is taken at once), stamps each command
// with the time, appends the batch to the journal, makes it durable with one fdatasync, applies it
// to the trade state machine, and only then answers each request. Nothing is acknowledged before
// it is durable.
//
// Overload control, in front of the queue:
//   - a full queue answers overloaded at once (the API layer adds Retry-After). The queue is full
//     at intake_capacity requests, or earlier: at as many as the writer drains in max_queue_delay
//     (its drain rate is measured over the time it is busy, so it is what the center can take, not
//     what it is offered). Under any overload an admitted request then waits about
//     max_queue_delay at most, and the rest is shed at once instead of queueing for seconds;
//     it also answers overloaded before recording the request id, so that shed requests cost no
//     memory;
//   - an order for a campaign that is sold out answers sold_out at once without entering the
//     queue, unless its request id was seen before (then it goes through the queue so that a retry
//     gets its original answer).
//
// Early sold_out is NOT remembered. It is answered from a set of sold-out SKUs that the writer
// publishes after each batch (a SKU whose active campaign has available == 0, flagged until the
// campaign ends or the next reservation may expire), for a PlaceOrder whose request id this center
// never admitted to its queue. Nothing is reserved or journaled, so the answer is not an
// idempotency record: if stock returns later (a cancellation, an expired reservation, a campaign
// update), a retry of the same request id may succeed. It never creates a second order for one
// request id: an id that was admitted once (or is known from recovery) always goes through the
// queue, so a retry of a request that made an order gets that order back, even after the sell-out.
// The early answer is always sold_out, even where the state machine would have answered another
// error first (an unknown user, a per-user limit). overloaded and unavailable are not remembered
// either.
//
// Reads run on the writer thread between batches, against state that is wholly durable: the reads
// of a batch run before that batch's writes are applied, and need not wait for its sync.
//
// Time: each batch's commands are stamped with max(previous stamp, env.WallNowMs()), so command
// time never decreases even if the wall clock steps back. When no write arrived for tick_interval
// and a reservation is due, the writer journals a trade::Tick so that the expiry is durable.
//
// Durability failure: if a commit fails, every request of that batch is answered unavailable and
// the center enters a failed state for good: Submit answers unavailable at once and Read returns
// false (reads already queued still run: the state they see is durable). Nothing is ever
// acknowledged after a durability failure; the process should be restarted (recovery then decides
// what was durable).
//
// Bounds: intake_capacity counts requests waiting in the queue (Submit and Read alike); the writer
// swaps out everything waiting at once and commits it in consecutive batches of at most
// batch_records_max, so at most about twice intake_capacity requests are ever unanswered.
//
// Snapshots: once the journal says one is due, the writer serializes the state and writes it
// synchronously between batches: a pause in intake once per snapshot_every_records records, as long
// as serializing and syncing the whole state takes (measured: ~0.2-0.5 s at 1M orders, ~1.1 s at
// 3M; logged at info level each time).
//
// Several centers (Options::centers): the trade state machine keeps quotas and the allocation
// table (trade.h, "Centers and quotas"), and records order events. The writer journals each
// batch's order events as one record of their own (trade::EncodeEvents) in the next commit, or
// alone within 5 ms when no command follows, and before every snapshot; at
// recovery it journals again the events of the commands after the last such record, so that
// every order event is journaled exactly once. Every 10 ms or so it journals the quota
// commands the state asks for (trade::Trade::QuotaCommands): requests to the master when a
// campaign runs low, returns when one has ended.
//
// Hot standby: a center runs as a primary with a standby (another process, another data
// directory) that holds the same journal. The primary (Options::standby_link set) ships each
// batch's records to it FIRST and makes them durable locally only once the standby has: so the
// primary's journal is always a prefix of its standby's, a failed primary rejoins as a standby by
// catching up (and by dropping, with journal::Options::keep_through, a tail nobody acknowledged),
// never by undoing what the other acknowledged. The primary answers nothing that is not durable on
// both. When shipping fails (no standby in sync before the link gives up, or the link was fenced by
// a newer primary) the batch is answered unavailable and the center enters the failed state: a
// primary that cannot ship steps down.
// A center opened with Options::standby takes no commands: its journal grows only by
// AppendShipped (the primary's records, byte for byte, same sequences), each batch applied once
// durable, so its state is warm and its state hash equals the primary's at the same position.
// It snapshots like a primary (at the first batch after one is due that leaves no order event
// pending, as it cannot journal events itself), inside AppendShipped: the primary waits for that
// batch's acknowledgement as long as the snapshot takes.
// Promote makes it a primary: it journals the order events the old primary had not journaled yet,
// starts its writer and takes commands.
//
// Open creates data_dir, keeps the journal and snapshots in data_dir/journal, recovers (newest
// snapshot + journal tail) and refuses to start on corruption (the error names the file and byte
// offset, or the record that does not decode) or on a recovered state that breaks an invariant.
// Order ids are "o.<center_id>.<n>". Stop drains the queue, syncs and joins the writer.
//
// Thread safety: Submit, Read, Stop and stats may be called from any thread, except that Stop must
// not be called from a Done or a ReadFunction (they run on the writer thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "common/env.h"
#include "common/status.h"
#include "trade/trade.h"

namespace surge::center {

// The primary's link to its hot standby (implemented by replica::Shipper).
class StandbyLink {
 public:
  virtual ~StandbyLink() = default;
  // Sends journal records first_sequence, first_sequence + 1, ... to the standby and waits until
  // it made them durable. Blocks while no standby is in sync (one that connects catches up first).
  // An error (the link was closed or fenced, the primary's lease is running out) means the
  // records must never be acknowledged nor made durable here.
  virtual Status ShipAndWait(uint64_t first_sequence,
                             std::span<const std::string_view> records) = 0;
  // The primary's own journal made everything through `sequence` durable (after ShipAndWait).
  virtual void LocallyDurable(uint64_t sequence) = 0;
};

struct Options {
  std::string data_dir;
  std::string center_id = "c1";     // 1 to 32 characters of an id (common/ids.h)
  size_t intake_capacity = 65'536;  // requests waiting for the writer; more answer overloaded
  // The longest an admitted request should wait in the queue (see Overload control); 0: no bound
  // but intake_capacity.
  std::chrono::milliseconds max_queue_delay{50};
  size_t batch_records_max = 4'096;
  std::chrono::microseconds batch_wait{200};
  uint64_t snapshot_every_records = 1'000'000;
  uint64_t segment_bytes_max = 64ULL << 20;
  // A sizing hint for the sale: the state and the set of admitted request ids are allocated for
  // this many orders up front (about 150 bytes each), at start and on recovery, so that taking
  // them costs no rehash and no page fault. 0: everything grows on demand.
  size_t expected_orders = 0;
  // How often the writer checks for due reservations when no command arrives.
  std::chrono::milliseconds tick_interval{100};

  // A center of a multi-center deployment (see "Several centers" above): the master's id and
  // every center's, in topology order (trade::Options). Empty `centers`: a center alone.
  std::string master;
  std::vector<std::string> centers;
  // The share of a new campaign's stock split evenly over the centers up front, in percent; the
  // rest is granted to the centers that run low (trade::Options::up_front_percent). The same at
  // every center of a deployment.
  int64_t up_front_percent = 50;

  // Hot standby (see above): the primary's link to its standby (must outlive the center), or
  // nullptr for a center without one. `standby`: open as a standby instead of a primary.
  StandbyLink* standby_link = nullptr;
  bool standby = false;
  // Recovery keeps the journal only through this sequence (journal::Options::keep_through): a
  // standby whose new primary does not hold its tail.
  uint64_t keep_through = UINT64_MAX;
};

struct Stats {
  uint64_t commands_applied = 0;
  uint64_t batches_committed = 0;
  uint64_t reads_served = 0;
  uint64_t rejected_overloaded = 0;
  uint64_t rejected_sold_out_early = 0;
  uint64_t queue_depth = 0;
  uint64_t queue_admit_limit = 0;  // the queue depth at which requests are shed now
  uint64_t drain_rate_per_s = 0;   // commands the writer takes per second of busy time (estimate)
  uint64_t last_sequence = 0;
  uint64_t recovered_records = 0;
  // trade::StateHash() as of the last refresh on the writer thread: after recovery, when it stops,
  // and when the writer is idle for a tick_interval but at most every 10 s (hashing serializes
  // the whole state, too costly for the hot path). For a current hash, Read and call StateHash.
  uint64_t state_hash = 0;
  // Commands applied from other centers' bus streams (Follow), and events records journaled.
  uint64_t replicated_applied = 0;
  uint64_t events_records = 0;
};

// Called exactly once per submitted command: on the writer thread once the command is durable and
// applied, or on the submitting thread if it is answered without entering the queue.
using Done = std::function<void(trade::Reply reply)>;
// Runs on the writer thread with the state and the current time; must not block or keep
// references to the state past its return.
using ReadFunction = std::function<void(const trade::Trade& state, int64_t now_ms)>;

class Center {
 public:
  static Result<std::unique_ptr<Center>> Open(Env& env, const Options& options);
  virtual ~Center() = default;

  // Queues a write command; `done` (required) is called exactly once with its reply. Answered at
  // once on the calling thread: bad_field for a body that fails trade::ValidateBody (it would
  // change nothing and is not remembered), overloaded (queue full), unavailable (stopping or
  // failed), and the early sold_out described above.
  virtual void Submit(trade::Body body, Done done) = 0;
  // Queues a command that another center journaled first (`origin`, see trade::Origin): applied
  // exactly once however often it is submitted. Never shed for overload (the caller bounds what
  // it has in flight) and never answered early; unavailable when stopping or failed. Commands of
  // one origin stream must be submitted in sequence order, from one thread.
  virtual void SubmitReplicated(trade::Origin origin, trade::Body body, Done done) = 0;
  // Queues `read` to run on the writer thread. Returns false (and does not run `read`) when the
  // queue is full, the center is stopping, or it is in the failed state.
  virtual bool Read(ReadFunction read) = 0;
  // Stops intake (later submissions answer unavailable), answers everything queued, commits and
  // joins the writer. Idempotent.
  virtual void Stop() = 0;

  // True once a commit failed (see "Durability failure" above): from then on Submit answers
  // unavailable and Read returns false. Lets a caller tell that apart from a full queue.
  virtual bool failed() const = 0;

  // Publishes to the data bus, from a thread of its own, every record the center journals whose
  // PublishedKind has one: first those after publisher->last_published() (read back from the
  // journal), then each batch once it is durable. A slow or failing bus never stalls the center:
  // what the publisher misses is read back from the journal and published again (re-sends are
  // skipped by the bus). `publisher` must outlive the center; Stop publishes what is durable (if
  // the bus takes it) before returning. At most one publisher; unavailable if the center is
  // stopping or failed.
  virtual Status AttachPublisher(bus::Publisher& publisher) = 0;

  // Follows, through `bus`, the streams this center applies (multi-center only): at a
  // sub-center the master's master data (with its quota grants and returns); at the master every
  // other center's order events (its global view) and quota requests and returns. Each stream
  // resumes after what the state says was applied (trade::Trade::AppliedThrough), so a restart
  // applies nothing twice and misses nothing; a subscription that fails is retried. `bus` must
  // outlive the center; Stop stops following. invalid_argument for a center alone.
  virtual Status Follow(bus::Bus& bus) = 0;

  // Standby only: appends `records` (journal records first_sequence, ... of the primary, which
  // must follow on from this journal's last) to the journal, makes them durable, then applies
  // them, before returning. corruption for a gap or a record that does not decode (nothing of the
  // batch is then applied); wrong_state on a primary. One caller at a time.
  virtual Status AppendShipped(uint64_t first_sequence,
                               std::span<const std::string_view> records) = 0;
  // Standby only: becomes a primary (see above), shipping to `link` if not null.
  // wrong_state if it is not a standby.
  virtual Status Promote(StandbyLink* link) = 0;
  virtual bool standby() const = 0;
  // The last journal sequence made durable (a standby: shipped and durable).
  virtual uint64_t durable_sequence() const = 0;

  virtual const std::string& center_id() const = 0;
  virtual Stats stats() const = 0;
};

// What a center publishes of its journal, by role (`at_master`: the master, or a center alone):
//   kMasterData, at the master: master-data commands (merchants, products, users, inventory,
//     campaigns) and the quota requests and returns it applied (its own and, with an origin, the
//     other centers'), so that every center keeps the same allocation table;
//   kQuota, at a sub-center: its own quota requests and returns;
//   kOrders, everywhere: the records of order events (trade::EncodeEvents).
// Commands a sub-center applied from the master's stream are not published again.
std::optional<bus::Kind> PublishedKindOf(const trade::Command& command, bool at_master);
// The same for a journal record; nullopt for one that does not decode.
std::optional<bus::Kind> PublishedKind(std::string_view journal_payload, bool at_master);
// The history an embedded bus publisher serves catch-up from: the published records of the
// journal in `journal_dir` (journal::ReadDurable).
bus::History JournalHistory(Env& env, std::string journal_dir, bool at_master);

}  // namespace surge::center
