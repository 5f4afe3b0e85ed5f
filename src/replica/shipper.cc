// The primary's side of journal shipping (replica.h).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "common/assert.h"
#include "common/coding.h"
#include "common/log.h"
#include "common/net.h"
#include "journal/journal.h"
#include "replica/connection.h"
#include "replica/replica.h"

namespace surge::replica {

namespace {
using SteadyClock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kHelloTimeout{2000};
// Catch-up sends the journal in batches of about this size.
constexpr size_t kCatchUpBytes = 4u << 20;
constexpr size_t kCatchUpRecords = 8192;
// How often a waiting ShipAndWait re-checks the lease and the standby's pace.
constexpr std::chrono::milliseconds kRecheck{10};
// A standby in sync hears from its primary at least this often (a batch, or "in sync" again when
// there is nothing to ship), so that it can tell a silent primary (a cut link, a frozen process)
// from an idle one: see kPrimarySilentAfter in receiver.cc.
constexpr std::chrono::milliseconds kKeepAliveEvery{200};
}  // namespace

struct Session {
  uint64_t id = 0;
  std::unique_ptr<Connection> connection;
  std::thread thread;
  bool done = false;
};

struct Shipper::Impl {
  Impl(Env& env_in, ShipperOptions options_in) : env(env_in), options(std::move(options_in)) {}

  void AcceptLoop();
  void RunSession(Session* session);
  // Sends the records after `after` through `through` from the journal. Sets `*pruned` when the
  // journal no longer holds the first of them (then nothing was sent).
  Status CatchUp(Session* session, uint64_t after, uint64_t through, bool* pruned);
  // Seeds a standby whose last record is `after` with the newest snapshot, which must lie beyond
  // it, and waits for its acknowledgement (replica.h, "Seeding"). `pruned` says why.
  Status SendSnapshot(Session* session, uint64_t after, const Status& pruned);
  Status SendAndAwaitAck(Session* session, uint64_t first,
                         std::span<const std::string_view> records);
  bool MayAcknowledge() const { return !options.may_acknowledge || options.may_acknowledge(); }
  void DropSession(Session* session);  // with mutex held

  Env& env;
  const ShipperOptions options;
  int listen_fd = -1;
  uint16_t port = 0;
  std::thread acceptor;

  mutable std::mutex mutex;
  std::condition_variable changed;
  bool closed = false;
  uint64_t durable = 0;  // the primary's own journal
  // The batch ShipAndWait is shipping (not durable at the primary yet). The views are the
  // caller's and stay valid while `inflight`; a standby catching up copies them under the mutex.
  bool inflight = false;
  uint64_t inflight_first = 0;
  std::vector<std::string_view> inflight_records;
  uint64_t inflight_sent_on = 0;  // the session it was sent on (0: none)
  SteadyClock::time_point inflight_sent_at;
  // The standby: the session of the last hello, in sync once caught up.
  Session* current = nullptr;
  bool in_sync = false;
  uint64_t acked = 0;  // what the current session acknowledged
  uint64_t next_session_id = 1;
  std::list<Session> sessions;
};

Shipper::Shipper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Shipper>> Shipper::Start(Env& env, ShipperOptions options,
                                                uint64_t durable_sequence) {
  auto impl = std::make_unique<Impl>(env, std::move(options));
  impl->durable = durable_sequence;
  SURGE_ASSIGN_OR_RETURN(const Listening listening,
                         ListenTcp(impl->options.host, impl->options.port));
  impl->listen_fd = listening.fd;
  impl->port = listening.port;
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->AcceptLoop(); });
  return std::unique_ptr<Shipper>(new Shipper(std::move(impl)));
}

Shipper::~Shipper() {
  Close();
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  for (Session& session : impl_->sessions) {
    if (session.thread.joinable()) session.thread.join();
  }
  close(impl_->listen_fd);
}

void Shipper::Close() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->closed) return;
  impl_->closed = true;
  impl_->in_sync = false;
  impl_->current = nullptr;
  for (Session& session : impl_->sessions) session.connection->Shutdown();
  (void)shutdown(impl_->listen_fd, SHUT_RDWR);
  impl_->changed.notify_all();
}

std::string Shipper::address() const {
  const bool ipv6 = impl_->options.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + impl_->options.host + "]" : impl_->options.host) + ":" +
         std::to_string(impl_->port);
}

bool Shipper::in_sync() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->in_sync;
}

void Shipper::LocallyDurable(uint64_t sequence) {
  std::lock_guard lock(impl_->mutex);
  SURGE_ASSERT(sequence >= impl_->durable);
  impl_->durable = sequence;
}

Status Shipper::ShipAndWait(uint64_t first_sequence, std::span<const std::string_view> records) {
  SURGE_ASSERT(!records.empty());
  Impl& impl = *impl_;
  const uint64_t last = first_sequence + records.size() - 1;
  std::unique_lock lock(impl.mutex);
  SURGE_ASSERT_MSG(!impl.inflight && first_sequence == impl.durable + 1,
                   "ShipAndWait: one batch at a time, right after what is durable");
  impl.inflight = true;
  impl.inflight_first = first_sequence;
  impl.inflight_records.assign(records.begin(), records.end());
  impl.inflight_sent_on = 0;
  const auto finish = [&](Status status) {
    impl.inflight = false;
    impl.inflight_records.clear();
    return status;
  };
  for (;;) {
    if (impl.closed) return finish(Status(Code::kUnavailable, "the standby link is closed"));
    if (!impl.MayAcknowledge()) {
      return finish(Status(Code::kUnavailable, "the primary's lease is running out"));
    }
    if (impl.in_sync && impl.acked >= last) break;
    Session* session = impl.current;
    if (impl.in_sync && session != nullptr && impl.inflight_sent_on != session->id) {
      std::string frame;
      wire::AppendBatch(impl.options.epoch, first_sequence, records, &frame);
      // Sent with the mutex held: the session's thread only reads acknowledgements meanwhile.
      const Status sent = session->connection->Send(frame, impl.options.ack_timeout);
      if (!sent.ok()) {
        SURGE_LOG_WARNING("center %s: dropping the standby: %s", impl.options.center.c_str(),
                          sent.ToString().c_str());
        impl.DropSession(session);
        continue;
      }
      impl.inflight_sent_on = session->id;
      impl.inflight_sent_at = SteadyClock::now();
    } else if (impl.in_sync && session != nullptr &&
               SteadyClock::now() - impl.inflight_sent_at > impl.options.ack_timeout) {
      SURGE_LOG_WARNING("center %s: the standby did not acknowledge in %lld ms; dropping it",
                        impl.options.center.c_str(),
                        static_cast<long long>(impl.options.ack_timeout.count()));
      impl.DropSession(session);
      continue;
    }
    impl.changed.wait_for(lock, kRecheck);
  }
  // Acknowledged by the standby; the lease must still cover the answer the caller gives next.
  if (!impl.MayAcknowledge()) {
    return finish(Status(Code::kUnavailable, "the primary's lease is running out"));
  }
  return finish(Status::Ok());
}

void Shipper::Impl::DropSession(Session* session) {
  session->connection->Shutdown();
  if (current == session) {
    current = nullptr;
    in_sync = false;
  }
  changed.notify_all();
}

void Shipper::Impl::AcceptLoop() {
  for (;;) {
    pollfd entry{listen_fd, POLLIN, 0};
    const int ready = poll(&entry, 1, 100);
    {
      std::lock_guard lock(mutex);
      if (closed) return;
    }
    if (ready <= 0) continue;
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex);
    if (closed) {
      close(fd);
      return;
    }
    // Finished sessions go now, so that reconnections do not pile up threads.
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (it->done && it->thread.joinable()) {
        it->thread.join();
        it = sessions.erase(it);
      } else {
        ++it;
      }
    }
    Session& session = sessions.emplace_back();
    session.id = next_session_id++;
    session.connection = std::make_unique<Connection>(fd);
    Session* raw = &session;
    session.thread = std::thread([this, raw] { RunSession(raw); });
  }
}

// One standby connection: hello, welcome, catch-up, then acknowledgements until it ends.
void Shipper::Impl::RunSession(Session* session) {
  const auto end = [&](const Status& why) {
    std::lock_guard lock(mutex);
    if (!why.ok() && !closed) {
      SURGE_LOG_WARNING("center %s: standby session %llu ended: %s", options.center.c_str(),
                        static_cast<unsigned long long>(session->id), why.ToString().c_str());
    }
    if (current == session) DropSession(session);
    session->connection->Shutdown();
    session->done = true;
  };
  Result<wire::Frame> hello = session->connection->Receive(kHelloTimeout);
  if (!hello.ok() || hello->type != wire::Type::kHello) {
    end(hello.ok() ? Status(Code::kCorruption, "the standby's first frame is no hello")
                   : hello.status());
    return;
  }
  if (hello->center != options.center || hello->epoch != options.epoch) {
    const Status refused(Code::kWrongState, "this is center " + options.center + " at epoch " +
                                                std::to_string(options.epoch) + ", not " +
                                                std::string(hello->center) + " at epoch " +
                                                std::to_string(hello->epoch));
    std::string frame;
    wire::AppendError(refused, &frame);
    (void)session->connection->Send(frame, kHelloTimeout);
    end(refused);
    return;
  }
  const uint64_t standby_last = hello->sequence;
  uint64_t caught_up = 0;
  {
    std::lock_guard lock(mutex);
    if (closed) return end(Status::Ok());
    // The newest hello wins: a restarted standby replaces its old, maybe half-dead, connection.
    if (current != nullptr) DropSession(current);
    current = session;
    acked = standby_last;
    caught_up = durable;
  }
  std::string frame;
  wire::AppendWelcome(options.epoch, caught_up, &frame);
  Status status = session->connection->Send(frame, kHelloTimeout);
  if (!status.ok()) return end(status);
  if (standby_last > caught_up) {
    return end(Status::Ok());  // it drops its tail beyond caught_up and comes back
  }
  // Catch up with the journal, then with the batch in flight, until nothing is left; then it is
  // in sync. The journal's end can move meanwhile only if an earlier standby acknowledged a batch.
  uint64_t through = standby_last;
  for (;;) {
    std::vector<std::string> pending;
    uint64_t pending_first = 0;
    {
      std::lock_guard lock(mutex);
      if (closed || current != session) return end(Status::Ok());
      if (durable > through) {
        caught_up = durable;
      } else if (inflight && inflight_sent_on != session->id && inflight_first == through + 1) {
        pending.assign(inflight_records.begin(), inflight_records.end());
        pending_first = inflight_first;
        inflight_sent_on = session->id;
        inflight_sent_at = SteadyClock::now();
      } else {
        in_sync = true;
        acked = std::max(acked, through);
        changed.notify_all();
        break;
      }
    }
    if (pending.empty()) {
      bool pruned = false;
      status = CatchUp(session, through, caught_up, &pruned);
      // Seeded or not, this session is over: the standby installs the snapshot and comes back.
      if (pruned) return end(SendSnapshot(session, through, status));
      through = caught_up;
    } else {
      const std::vector<std::string_view> views(pending.begin(), pending.end());
      status = SendAndAwaitAck(session, pending_first, views);
      through = pending_first + pending.size() - 1;
    }
    if (!status.ok()) return end(status);
  }
  frame.clear();
  wire::AppendInSync(through, &frame);
  status = session->connection->Send(frame, options.ack_timeout);
  if (!status.ok()) return end(status);
  SURGE_LOG_INFO("center %s: standby in sync at sequence %llu (epoch %llu)", options.center.c_str(),
                 static_cast<unsigned long long>(through),
                 static_cast<unsigned long long>(options.epoch));
  // From here ShipAndWait sends; this thread takes the acknowledgements, and says "in sync" again
  // whenever the link was quiet for kKeepAliveEvery.
  for (;;) {
    bool quiet = false;
    Result<wire::Frame> got = session->connection->Receive(kKeepAliveEvery, &quiet);
    if (!got.ok() && quiet) {
      std::lock_guard lock(mutex);  // ShipAndWait sends with it held: one writer at a time
      if (closed || current != session) return end(Status::Ok());
      frame.clear();
      wire::AppendInSync(acked, &frame);
      status = session->connection->Send(frame, options.ack_timeout);
      if (!status.ok()) return end(status);
      continue;
    }
    if (!got.ok()) return end(got.status());
    if (got->type != wire::Type::kAck) {
      return end(got->type == wire::Type::kError
                     ? Status(got->error, std::string(got->message))
                     : Status(Code::kCorruption,
                              "the standby sent a " + std::string(wire::TypeName(got->type))));
    }
    std::lock_guard lock(mutex);
    if (current != session) return end(Status::Ok());
    acked = std::max(acked, got->sequence);
    changed.notify_all();
  }
}

Status Shipper::Impl::SendAndAwaitAck(Session* session, uint64_t first,
                                      std::span<const std::string_view> records) {
  std::string frame;
  wire::AppendBatch(options.epoch, first, records, &frame);
  SURGE_RETURN_IF_ERROR(session->connection->Send(frame, options.ack_timeout));
  const uint64_t last = first + records.size() - 1;
  SURGE_ASSIGN_OR_RETURN(const wire::Frame ack, session->connection->Receive(options.ack_timeout));
  if (ack.type == wire::Type::kError) return Status(ack.error, std::string(ack.message));
  if (ack.type != wire::Type::kAck || ack.sequence != last) {
    return Status(Code::kCorruption, "the standby answered a batch through " +
                                         std::to_string(last) + " with a " +
                                         std::string(wire::TypeName(ack.type)) + " of " +
                                         std::to_string(ack.sequence));
  }
  return Status::Ok();
}

Status Shipper::Impl::CatchUp(Session* session, uint64_t after, uint64_t through, bool* pruned) {
  *pruned = false;
  if (through <= after) return Status::Ok();
  uint64_t visited = 0;
  std::vector<std::string> chunk;
  size_t chunk_bytes = 0;
  uint64_t chunk_first = after + 1;
  Status sent = Status::Ok();
  const auto flush = [&] {
    const std::vector<std::string_view> views(chunk.begin(), chunk.end());
    sent = SendAndAwaitAck(session, chunk_first, views);
    chunk_first += chunk.size();
    chunk.clear();
    chunk_bytes = 0;
    return sent.ok();
  };
  const Status read =
      journal::ReadDurable(env, options.journal_dir, after + 1, through, options.record_bytes_max,
                           [&](uint64_t, std::string_view payload) {
                             ++visited;
                             chunk.emplace_back(payload);
                             chunk_bytes += payload.size();
                             if (chunk.size() < kCatchUpRecords && chunk_bytes < kCatchUpBytes)
                               return true;
                             return flush();
                           });
  SURGE_RETURN_IF_ERROR(sent);
  if (read.code() == Code::kNotFound && visited == 0) *pruned = true;
  if (!read.ok()) {
    return read.Annotate("reading the journal for a standby that needs records " +
                         std::to_string(after + 1) + ".." + std::to_string(through));
  }
  if (!chunk.empty() && !flush()) return sent;
  return Status::Ok();
}

Status Shipper::Impl::SendSnapshot(Session* session, uint64_t after, const Status& pruned) {
  Result<journal::StoredSnapshot> snapshot = journal::ReadNewestSnapshot(env, options.journal_dir);
  if (!snapshot.ok())
    return pruned.Annotate("no snapshot to seed it with: " + snapshot.status().ToString());
  if (snapshot->sequence <= after) {
    return pruned.Annotate("and the newest snapshot, after record " +
                           std::to_string(snapshot->sequence) +
                           ", is not beyond the standby's last");
  }
  const std::string_view state = snapshot->state;
  if (state.size() > wire::kSnapshotBytesMax) {
    return Status(Code::kInvalidArgument, "the snapshot after record " +
                                              std::to_string(snapshot->sequence) + " has " +
                                              std::to_string(state.size()) +
                                              " bytes, more than the shipping protocol carries");
  }
  SURGE_LOG_INFO(
      "center %s: seeding the standby (its last record %llu is no longer in the "
      "journal) with the snapshot after record %llu, %zu bytes",
      options.center.c_str(), static_cast<unsigned long long>(after),
      static_cast<unsigned long long>(snapshot->sequence), state.size());
  std::string frame;
  wire::AppendSnapshot(options.epoch, snapshot->sequence, state.size(), Crc32c(state), &frame);
  SURGE_RETURN_IF_ERROR(session->connection->Send(frame, options.ack_timeout));
  for (size_t offset = 0; offset < state.size(); offset += wire::kSnapshotChunkBytesMax) {
    frame.clear();
    wire::AppendSnapshotChunk(options.epoch, offset,
                              state.substr(offset, wire::kSnapshotChunkBytesMax), &frame);
    SURGE_RETURN_IF_ERROR(session->connection->Send(frame, options.ack_timeout));
  }
  SURGE_ASSIGN_OR_RETURN(const wire::Frame ack, session->connection->Receive(options.ack_timeout));
  if (ack.type == wire::Type::kError) return Status(ack.error, std::string(ack.message));
  if (ack.type != wire::Type::kAck || ack.sequence != snapshot->sequence) {
    return Status(Code::kCorruption, "the standby answered the snapshot after record " +
                                         std::to_string(snapshot->sequence) + " with a " +
                                         std::string(wire::TypeName(ack.type)) + " of " +
                                         std::to_string(ack.sequence));
  }
  return Status::Ok();
}

}  // namespace surge::replica
