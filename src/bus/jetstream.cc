// The JetStream bus: records go to NATS JetStream, one file-backed stream per center and kind
// (naming and headers: jetstream.h).
//
// Publisher: one connection; records are published asynchronously with at most kPublishWindow
// awaiting their acknowledgement, and Publish returns once the server acknowledged them all. Each
// message expects the stream's last sequence to be the one the previous message of that stream
// got (Nats-Expected-Last-Sequence), so a stream never holds a record after a gap: if one message
// fails, every later one of that stream fails too, and the next Publish re-reads the streams and
// goes on from what they hold. A stream therefore holds its kind's records in increasing sequence,
// which is what a subscriber's start-position search relies on.
//
// Subscription: one thread with its own connection. To start after sequence `after` it binary
// searches the stream for the first message whose Surge-Sequence is beyond it (stream message gets
// by stream sequence: O(log n) requests; JetStream's sequences are not ours), then follows an
// ordered consumer from there (ephemeral, flow-controlled, heartbeats; the client restarts it
// itself after a gap). After a reconnect, or any error, it drops the consumer and starts again
// after the last record it delivered; anything at or below that sequence is skipped, so a record
// is never delivered twice within one subscription.
#include "bus/jetstream.h"

#include <nats/nats.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "bus/bus.h"
#include "common/assert.h"
#include "common/ids.h"
#include "common/log.h"

namespace surge::bus {
namespace jetstream {

std::string EncodeCenter(std::string_view center) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string encoded;
  encoded.reserve(center.size() + 8);
  for (const char c : center) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
      encoded += c;
    } else if (c == '_') {
      encoded += "__";
    } else if (c == '.') {
      encoded += "_d";
    } else if (c == ':') {
      encoded += "_c";
    } else {
      encoded += "_x";
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 15];
    }
  }
  return encoded;
}

std::string StreamName(std::string_view center, Kind kind) {
  return "surge_" + std::string(KindName(kind)) + "_" + EncodeCenter(center);
}

std::string Subject(std::string_view center, Kind kind) {
  return "surge." + std::string(KindName(kind)) + "." + EncodeCenter(center);
}

std::string MessageId(std::string_view center, Kind kind, uint64_t sequence) {
  return std::string(center) + "." + std::string(KindName(kind)) + "." + std::to_string(sequence);
}

}  // namespace jetstream

namespace {

using Clock = std::chrono::steady_clock;
using namespace jetstream;  // NOLINT(google-build-using-namespace): this file's own names

constexpr int64_t kConnectTimeoutMs = 2'000;
constexpr int64_t kReconnectWaitMs = 250;
constexpr int64_t kRequestWaitMs = 5'000;  // JetStream API requests and publish acknowledgements
constexpr size_t kPublishWindow = 4'096;   // asynchronous publishes awaiting their acknowledgement
constexpr int64_t kDuplicateWindowNs = 2LL * 60 * 1'000'000'000;  // the server's default
constexpr int64_t kConsumerHeartbeatNs = 1'000'000'000;
constexpr int kNextMessageWaitMs = 100;
constexpr jsErrCode kStreamNotFound = static_cast<jsErrCode>(10059);
constexpr jsErrCode kStreamNameInUse = static_cast<jsErrCode>(10058);
constexpr std::array<Kind, 3> kKinds = {Kind::kMasterData, Kind::kOrders, Kind::kQuota};
static_assert(kKinds.size() == kKindMax);

// "what: nats status text (the client's last error detail)".
Status NatsStatus(Code code, std::string_view what, natsStatus status,
                  jsErrCode js_error = static_cast<jsErrCode>(0)) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
  if (js_error != static_cast<jsErrCode>(0))
    message += " [jetstream error " + std::to_string(js_error) + "]";
  return Status(code, std::move(message));
}

Code CodeOf(natsStatus status) {
  switch (status) {
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_TIMEOUT:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
      return Code::kUnavailable;
    default:
      return Code::kIoError;
  }
}

// A decimal header value; corruption if missing or malformed.
Result<uint64_t> HeaderNumber(natsMsg* message, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(message, key, &value) != NATS_OK || value == nullptr) {
    return Status(Code::kCorruption, std::string("a message has no ") + key + " header");
  }
  const std::string_view text(value);
  uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status(Code::kCorruption, std::string("a message has a malformed ") + key +
                                         " header: " + std::string(text));
  }
  return number;
}

// One NATS connection with its JetStream context, reconnecting forever. Tracks whether it is
// connected and counts (re)connections, from the client's callbacks.
class Link {
 public:
  // retry_first: keep trying in the background when the server cannot be reached now (a
  // subscription); otherwise fail with unavailable (a publisher, the bus's probe).
  static Result<std::unique_ptr<Link>> Open(const std::string& url, bool retry_first,
                                            jsPubAckHandler on_ack = nullptr,
                                            void* ack_closure = nullptr) {
    std::unique_ptr<Link> link(new Link(url));
    natsOptions* options = nullptr;
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK) status = natsOptions_SetURL(options, url.c_str());
    if (status == NATS_OK) status = natsOptions_SetTimeout(options, kConnectTimeoutMs);
    if (status == NATS_OK) status = natsOptions_SetMaxReconnect(options, -1);
    if (status == NATS_OK) status = natsOptions_SetReconnectWait(options, kReconnectWaitMs);
    if (status == NATS_OK) status = natsOptions_SetDisconnectedCB(options, OnDown, link.get());
    if (status == NATS_OK) status = natsOptions_SetReconnectedCB(options, OnUp, link.get());
    if (status == NATS_OK) status = natsOptions_SetClosedCB(options, OnClosed, link.get());
    if (status == NATS_OK && retry_first) {
      status = natsOptions_SetRetryOnFailedConnect(options, true, OnUp, link.get());
    }
    if (status == NATS_OK) {
      status = natsConnection_Connect(&link->connection_, options);
      if (status == NATS_OK) {
        link->connected_ = true;
        link->epoch_.fetch_add(1);
      } else if (status == NATS_NOT_YET_CONNECTED && retry_first) {
        status = NATS_OK;  // connects in the background; OnUp says when
      }
    }
    natsOptions_Destroy(options);
    if (status != NATS_OK) {
      if (link->connection_ == nullptr) link->closed_ = true;  // no callback will come
      return NatsStatus(Code::kUnavailable, "cannot reach NATS at " + url, status);
    }
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = kRequestWaitMs;
    js_options.PublishAsync.AckHandler = on_ack;
    js_options.PublishAsync.AckHandlerClosure = ack_closure;
    js_options.PublishAsync.MaxPending = 4 * kPublishWindow;  // our own window is the limit
    status = natsConnection_JetStream(&link->js_, link->connection_, &js_options);
    if (status != NATS_OK)
      return NatsStatus(Code::kInternal, "creating a JetStream context", status);
    return link;
  }

  ~Link() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (connection_ != nullptr) {
      natsConnection_Close(connection_);
      // The callbacks refer to this object: wait for the last one (closed) before going.
      std::unique_lock lock(mutex_);
      closed_changed_.wait_for(lock, std::chrono::seconds(10), [&] { return closed_; });
      lock.unlock();
      natsConnection_Destroy(connection_);
    }
  }

  jsCtx* js() const { return js_; }
  const std::string& url() const { return url_; }
  bool connected() const { return connected_.load(); }
  // Changes each time the connection is (re)established.
  uint64_t epoch() const { return epoch_.load(); }
  Status Unreachable() const {
    return Status(Code::kUnavailable, "cannot reach NATS at " + url_ + ": disconnected");
  }

 private:
  explicit Link(std::string url) : url_(std::move(url)) {}
  static void OnDown(natsConnection*, void* closure) {
    static_cast<Link*>(closure)->connected_ = false;
  }
  static void OnUp(natsConnection*, void* closure) {
    auto* link = static_cast<Link*>(closure);
    link->connected_ = true;
    link->epoch_.fetch_add(1);
  }
  static void OnClosed(natsConnection*, void* closure) {
    auto* link = static_cast<Link*>(closure);
    std::lock_guard lock(link->mutex_);
    link->connected_ = false;
    link->closed_ = true;
    link->closed_changed_.notify_all();
  }

  const std::string url_;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> epoch_{0};
  std::mutex mutex_;
  std::condition_variable closed_changed_;
  bool closed_ = false;
};

// What a stream holds, as far as the bus cares.
struct StreamState {
  uint64_t first = 0;     // JetStream sequence of the first message held
  uint64_t last = 0;      // JetStream sequence of the last message ever stored (0: none)
  uint64_t messages = 0;  // how many it holds
};

// The stream of (center, kind), created (file-backed) if it does not exist.
Result<StreamState> EnsureStream(jsCtx* js, const std::string& center, Kind kind) {
  const std::string name = StreamName(center, kind);
  jsStreamInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus status = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &js_error);
  if (status == NATS_NOT_FOUND || js_error == kStreamNotFound) {
    const std::string subject = Subject(center, kind);
    const char* subjects[] = {subject.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Retention = js_LimitsPolicy;
    config.Duplicates = kDuplicateWindowNs;
    config.AllowDirect = true;
    js_error = static_cast<jsErrCode>(0);
    status = js_AddStream(&info, js, &config, nullptr, &js_error);
    if (status != NATS_OK && js_error == kStreamNameInUse) {  // created meanwhile by another
      js_error = static_cast<jsErrCode>(0);
      status = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &js_error);
    }
  }
  if (status != NATS_OK) {
    return NatsStatus(CodeOf(status), "stream " + name, status, js_error);
  }
  StreamState state{info->State.FirstSeq, info->State.LastSeq, info->State.Msgs};
  jsStreamInfo_Destroy(info);
  return state;
}

// The message at JetStream sequence `sequence` of `stream` (the caller destroys it).
Result<natsMsg*> GetMessage(jsCtx* js, const std::string& stream, uint64_t sequence) {
  natsMsg* message = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus status = js_GetMsg(&message, js, stream.c_str(), sequence, nullptr, &js_error);
  if (status != NATS_OK) {
    return NatsStatus(CodeOf(status),
                      "reading message " + std::to_string(sequence) + " of stream " + stream,
                      status, js_error);
  }
  return message;
}

struct MessageDeleter {
  void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
};
using MessagePtr = std::unique_ptr<natsMsg, MessageDeleter>;

// ---------------------------------------------------------------------------------------------
// Publisher

class JetStreamPublisher final : public Publisher {
 public:
  static Result<std::unique_ptr<Publisher>> Open(const std::string& url,
                                                 const std::string& center) {
    std::unique_ptr<JetStreamPublisher> publisher(new JetStreamPublisher(center));
    SURGE_ASSIGN_OR_RETURN(publisher->link_,
                           Link::Open(url, /*retry_first=*/false, OnAck, publisher.get()));
    SURGE_ASSIGN_OR_RETURN(publisher->last_published_, publisher->ReadStreams());
    return std::unique_ptr<Publisher>(std::move(publisher));
  }

  ~JetStreamPublisher() override {
    // Acknowledgements still on their way refer to this object: wait for them (bounded by
    // their own timeout), then close the connection before the members go.
    std::unique_lock lock(mutex_);
    acked_.wait_for(lock, std::chrono::milliseconds(2 * kRequestWaitMs),
                    [&] { return outstanding_.empty(); });
    lock.unlock();
    link_.reset();
  }

  Status Publish(std::span<const Record> records) override;

  uint64_t last_published() const override {
    std::lock_guard lock(mutex_);
    return last_published_;
  }
  std::string address() const override { return link_->url(); }

 private:
  explicit JetStreamPublisher(std::string center) : center_(std::move(center)) {
    for (const Kind kind : kKinds) {
      const size_t i = static_cast<size_t>(kind) - 1;
      streams_[i] = StreamName(center_, kind);
      subjects_[i] = Subject(center_, kind);
    }
  }
  static size_t Index(Kind kind) { return static_cast<size_t>(kind) - 1; }

  // Creates the center's streams if needed and reads where each stands: its last JetStream
  // sequence, its last record's sequence. Returns the largest Surge-Published-Through of the
  // streams' last messages (what a fresh publisher resumes after).
  Result<uint64_t> ReadStreams();
  Status SendOne(const Record& record, uint64_t published_through);
  static void OnAck(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure);
  // Waits until every message sent is acknowledged or failed (or times out on it).
  void AwaitAcks(std::unique_lock<std::mutex>& lock);

  const std::string center_;
  std::array<std::string, kKindMax> streams_;
  std::array<std::string, kKindMax> subjects_;
  std::unique_ptr<Link> link_;
  std::mutex publish_mutex_;  // one Publish at a time

  // Used by Publish only (under publish_mutex_).
  std::array<uint64_t, kKindMax> stream_last_{};  // JetStream sequence of each stream's last
  std::array<uint64_t, kKindMax> record_last_{};  // sequence of each stream's last record
  bool resync_ = false;  // a publish failed: re-read the streams before going on

  mutable std::mutex mutex_;  // shared with the acknowledgement callback
  std::condition_variable acked_;
  uint64_t last_published_ = 0;
  std::set<uint64_t> outstanding_;  // sequences sent and not yet acknowledged
  uint64_t first_failed_ = std::numeric_limits<uint64_t>::max();
  Status failure_;
  bool duplicate_ = false;
};

Result<uint64_t> JetStreamPublisher::ReadStreams() {
  uint64_t through = 0;
  for (const Kind kind : kKinds) {
    const size_t i = Index(kind);
    SURGE_ASSIGN_OR_RETURN(const StreamState state, EnsureStream(link_->js(), center_, kind));
    stream_last_[i] = state.last;
    if (state.messages == 0) continue;  // record_last_ stays what it was (0 when fresh)
    SURGE_ASSIGN_OR_RETURN(natsMsg * got, GetMessage(link_->js(), streams_[i], state.last));
    const MessagePtr message(got);
    SURGE_ASSIGN_OR_RETURN(record_last_[i], HeaderNumber(message.get(), kSequenceHeader));
    SURGE_ASSIGN_OR_RETURN(const uint64_t published_through,
                           HeaderNumber(message.get(), kPublishedThroughHeader));
    through = std::max(through, published_through);
  }
  return through;
}

Status JetStreamPublisher::Publish(std::span<const Record> records) {
  for (size_t i = 0; i < records.size(); ++i) {
    SURGE_ASSERT(records[i].sequence > 0 &&
                 (i == 0 || records[i].sequence > records[i - 1].sequence));
    SURGE_ASSERT(records[i].kind >= Kind::kMasterData && records[i].kind <= Kind::kQuota);
    if (records[i].payload.size() > kPayloadBytesMax) {
      return Status(Code::kInvalidArgument, "record " + std::to_string(records[i].sequence) +
                                                " has a payload over " +
                                                std::to_string(kPayloadBytesMax) + " bytes");
    }
  }
  std::lock_guard publishing(publish_mutex_);
  if (resync_) {
    SURGE_RETURN_IF_ERROR(ReadStreams().status().Annotate("re-reading the streams"));
    resync_ = false;
  }
  std::unique_lock lock(mutex_);
  first_failed_ = std::numeric_limits<uint64_t>::max();
  failure_ = Status::Ok();
  uint64_t sent_through = last_published_;  // every record up to here is stored or in flight
  for (const Record& record : records) {
    if (record.sequence <= last_published_ || record.sequence <= record_last_[Index(record.kind)]) {
      if (outstanding_.empty()) sent_through = std::max(sent_through, record.sequence);
      continue;  // a re-send of what the stream already holds
    }
    acked_.wait(lock, [&] { return outstanding_.size() < kPublishWindow || !failure_.ok(); });
    if (!failure_.ok()) break;
    const uint64_t through = outstanding_.empty() ? sent_through : *outstanding_.begin() - 1;
    outstanding_.insert(record.sequence);  // before the acknowledgement can come
    lock.unlock();
    Status sent = SendOne(record, through);
    lock.lock();
    if (!sent.ok()) {
      outstanding_.erase(record.sequence);
      first_failed_ = std::min(first_failed_, record.sequence);
      if (failure_.ok()) failure_ = std::move(sent);
      break;
    }
    sent_through = record.sequence;
  }
  AwaitAcks(lock);
  if (duplicate_) {
    duplicate_ = false;
    resync_ = true;
  }
  if (failure_.ok()) {
    if (!records.empty()) last_published_ = std::max(last_published_, records.back().sequence);
    return Status::Ok();
  }
  // Everything before the first failure was acknowledged; nothing after it counts.
  last_published_ = std::max(last_published_, first_failed_ - 1);
  resync_ = true;
  return failure_.Annotate("publishing to NATS at " + link_->url());
}

Status JetStreamPublisher::SendOne(const Record& record, uint64_t published_through) {
  const size_t i = Index(record.kind);
  natsMsg* message = nullptr;
  natsStatus status = natsMsg_Create(&message, subjects_[i].c_str(), nullptr, record.payload.data(),
                                     static_cast<int>(record.payload.size()));
  const std::string sequence = std::to_string(record.sequence);
  if (status == NATS_OK) status = natsMsgHeader_Set(message, kSequenceHeader, sequence.c_str());
  if (status == NATS_OK) {
    status = natsMsgHeader_Set(message, kPreviousHeader, std::to_string(record_last_[i]).c_str());
  }
  if (status == NATS_OK) {
    status = natsMsgHeader_Set(message, kPublishedThroughHeader,
                               std::to_string(published_through).c_str());
  }
  const std::string id = MessageId(center_, record.kind, record.sequence);
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = id.c_str();
  options.MaxWait = kRequestWaitMs;
  // The stream must end where our previous message to it did: no record after a gap.
  if (stream_last_[i] == 0) {
    options.ExpectNoMessage = true;
  } else {
    options.ExpectLastSeq = stream_last_[i];
  }
  if (status == NATS_OK) status = js_PublishMsgAsync(link_->js(), &message, &options);
  natsMsg_Destroy(message);  // no-op when the library took it
  if (status != NATS_OK) {
    return NatsStatus(CodeOf(status), "record " + sequence + " to " + streams_[i], status);
  }
  ++stream_last_[i];
  record_last_[i] = record.sequence;
  return Status::Ok();
}

void JetStreamPublisher::OnAck(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error,
                               void* closure) {
  auto* self = static_cast<JetStreamPublisher*>(closure);
  const Result<uint64_t> sequence = HeaderNumber(message, kSequenceHeader);
  SURGE_ASSERT(sequence.ok());  // we set it
  Status failed;
  if (ack == nullptr || error != nullptr) {
    const std::string what = "record " + std::to_string(*sequence) + " was not stored";
    failed = error == nullptr
                 ? Status(Code::kUnavailable, what)
                 : (error->ErrText != nullptr
                        ? Status(CodeOf(error->Err), what + ": " + error->ErrText +
                                                         " [jetstream error " +
                                                         std::to_string(error->ErrCode) + "]")
                        : NatsStatus(CodeOf(error->Err), what, error->Err, error->ErrCode));
  }
  natsMsg_Destroy(message);
  std::lock_guard lock(self->mutex_);
  self->outstanding_.erase(*sequence);
  if (!failed.ok()) {
    self->first_failed_ = std::min(self->first_failed_, *sequence);
    if (self->failure_.ok()) self->failure_ = std::move(failed);
  } else if (ack->Duplicate) {
    self->duplicate_ = true;  // the stream did not grow as predicted: re-read it next time
  }
  self->acked_.notify_all();
}

void JetStreamPublisher::AwaitAcks(std::unique_lock<std::mutex>& lock) {
  // Each message times out on its own after kRequestWaitMs; this is a backstop.
  const auto deadline = Clock::now() + std::chrono::milliseconds(3 * kRequestWaitMs);
  if (acked_.wait_until(lock, deadline, [&] { return outstanding_.empty(); })) return;
  // Take back what is still pending: no callback will come for those.
  lock.unlock();
  natsMsgList pending{};
  if (js_PublishAsyncGetPendingList(&pending, link_->js()) == NATS_OK)
    natsMsgList_Destroy(&pending);
  lock.lock();
  first_failed_ = std::min(first_failed_, *outstanding_.begin());
  if (failure_.ok()) failure_ = Status(Code::kUnavailable, "no acknowledgement from the server");
  outstanding_.clear();
}

// ---------------------------------------------------------------------------------------------
// Subscription

class JetStreamSubscription final : public Subscription {
 public:
  JetStreamSubscription(std::unique_ptr<Link> link, StreamId stream, uint64_t after,
                        Deliver deliver)
      : link_(std::move(link)),
        stream_(std::move(stream)),
        name_(StreamName(stream_.center, stream_.kind)),
        subject_(Subject(stream_.center, stream_.kind)),
        deliver_(std::move(deliver)),
        delivered_(after) {
    thread_ = std::thread([this] { Run(); });
  }

  ~JetStreamSubscription() override {
    stop_ = true;
    thread_.join();
    // The connection closes first: its reader thread is gone before the consumer's subscription
    // is freed. (Freeing it while the reader may still be handing it a message hung a test in
    // libnats 3.4, the reader blocked on the freed subscription's lock.)
    link_.reset();
    if (stopped_subscription_ != nullptr) natsSubscription_Destroy(stopped_subscription_);
    for (natsSubscription* subscription : retired_) natsSubscription_Destroy(subscription);
  }

  uint64_t delivered_through() const override { return delivered_.load(); }
  Status status() const override {
    std::lock_guard lock(mutex_);
    if (status_.ok() && !link_->connected()) return link_->Unreachable();
    return status_;
  }

 private:
  void Run();
  // Finds where to start and subscribes an ordered consumer there.
  Result<natsSubscription*> Start();
  // Frees a subscription Run is done with. Only once its connection is closed (as in the
  // destructor): freed while the connection's reader may still hand it a message, libnats 3.4
  // used freed memory (a crash in natsConn_processMsg, seen about once in 15 runs of the bus
  // contract test), and unsubscribing an ordered consumer first reads freed memory too
  // (AddressSanitizer). So the subscription goes on a connection of its own from then on.
  void Retire(natsSubscription* subscription);
  // The JetStream sequence of the first message beyond delivered_ (state.last + 1 if none).
  Result<uint64_t> FindStart(const StreamState& state);
  // Delivers until stopped, reconnected or failed; returns why it stopped (ok when stopped).
  Status Follow(natsSubscription* subscription, uint64_t epoch);
  Status DeliverOne(natsMsg* message);
  void SetStatus(Status status) {
    std::lock_guard lock(mutex_);
    status_ = std::move(status);
  }
  void Sleep(std::chrono::milliseconds duration) {
    const auto until = Clock::now() + duration;
    while (!stop_ && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::unique_ptr<Link> link_;
  const StreamId stream_;
  const std::string name_;
  const std::string subject_;
  const Deliver deliver_;
  std::atomic<uint64_t> delivered_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  Status status_ = Status(Code::kUnavailable, "connecting");
  natsSubscription* stopped_subscription_ = nullptr;  // Run's last, at stop
  std::vector<natsSubscription*> retired_;  // left on link_ when no new connection could be made
  std::thread thread_;
};

void JetStreamSubscription::Run() {
  while (!stop_) {
    if (!link_->connected()) {
      SetStatus(link_->Unreachable());
      Sleep(std::chrono::milliseconds(20));
      continue;
    }
    const uint64_t epoch = link_->epoch();
    Result<natsSubscription*> started = Start();
    Status ended = started.ok() ? Follow(*started, epoch) : started.status();
    if (started.ok()) {
      if (stop_) {
        stopped_subscription_ = *started;  // freed once the connection is closed
        return;
      }
      Retire(*started);
    }
    if (ended.ok()) continue;  // stopped, or reconnected: start again after what was delivered
    SURGE_LOG_WARNING("bus: following %s: %s", name_.c_str(), ended.ToString().c_str());
    const bool final = ended.code() == Code::kNotFound || ended.code() == Code::kCorruption;
    SetStatus(std::move(ended));
    if (final) {  // the consumer must start over from a snapshot (bus.h): wait for the end
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return;
    }
    Sleep(std::chrono::milliseconds(200));
  }
}

void JetStreamSubscription::Retire(natsSubscription* subscription) {
  Result<std::unique_ptr<Link>> fresh = Link::Open(link_->url(), /*retry_first=*/true);
  if (!fresh.ok()) {
    // Keep following on this connection; the subscription is freed with it, at the end.
    SURGE_LOG_WARNING("bus: following %s: %s", name_.c_str(), fresh.status().ToString().c_str());
    retired_.push_back(subscription);
    return;
  }
  std::unique_ptr<Link> old;
  {
    std::lock_guard lock(mutex_);  // status() reads link_
    old = std::exchange(link_, std::move(fresh).value());
  }
  old.reset();  // closes the connection: its reader thread is gone
  natsSubscription_Destroy(subscription);
}

Result<natsSubscription*> JetStreamSubscription::Start() {
  SURGE_ASSIGN_OR_RETURN(const StreamState state,
                         EnsureStream(link_->js(), stream_.center, stream_.kind));
  SURGE_ASSIGN_OR_RETURN(const uint64_t start, FindStart(state));
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = name_.c_str();
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = start;
  options.Config.Heartbeat = kConsumerHeartbeatNs;
  natsSubscription* subscription = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_SubscribeSync(&subscription, link_->js(), subject_.c_str(), nullptr, &options, &js_error);
  if (status != NATS_OK) {
    return NatsStatus(CodeOf(status), "consuming stream " + name_, status, js_error);
  }
  natsSubscription_SetPendingLimits(subscription, 1 << 16, 256 << 20);
  SetStatus(Status::Ok());
  return subscription;
}

Result<uint64_t> JetStreamSubscription::FindStart(const StreamState& state) {
  const uint64_t after = delivered_.load();
  if (state.messages == 0) return state.last + 1;
  // The stream holds its records in increasing sequence (see the publisher): binary search for
  // the first whose sequence is beyond `after`, in [first, last + 1).
  uint64_t low = state.first;
  uint64_t high = state.last + 1;
  while (low < high) {
    const uint64_t middle = low + (high - low) / 2;
    SURGE_ASSIGN_OR_RETURN(natsMsg * got, GetMessage(link_->js(), name_, middle));
    const MessagePtr message(got);
    SURGE_ASSIGN_OR_RETURN(const uint64_t sequence, HeaderNumber(message.get(), kSequenceHeader));
    if (sequence > after) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

Status JetStreamSubscription::Follow(natsSubscription* subscription, uint64_t epoch) {
  while (!stop_) {
    if (link_->epoch() != epoch) return Status::Ok();  // reconnected: the consumer may be gone
    natsMsg* message = nullptr;
    const natsStatus status = natsSubscription_NextMsg(&message, subscription, kNextMessageWaitMs);
    if (status == NATS_TIMEOUT) continue;
    if (status != NATS_OK) {
      return link_->connected() ? NatsStatus(CodeOf(status), "consuming stream " + name_, status)
                                : link_->Unreachable();
    }
    const MessagePtr owned(message);
    SURGE_RETURN_IF_ERROR(DeliverOne(message));
  }
  return Status::Ok();
}

Status JetStreamSubscription::DeliverOne(natsMsg* message) {
  const auto corrupt = [&](const Status& status) { return status.Annotate("stream " + name_); };
  const Result<uint64_t> sequence = HeaderNumber(message, kSequenceHeader);
  if (!sequence.ok()) return corrupt(sequence.status());
  const uint64_t delivered = delivered_.load();
  if (*sequence <= delivered) return Status::Ok();  // seen already (a restarted consumer)
  const Result<uint64_t> previous = HeaderNumber(message, kPreviousHeader);
  if (!previous.ok()) return corrupt(previous.status());
  if (*previous > delivered) {
    return Status(Code::kNotFound, "stream " + name_ + ": records after " +
                                       std::to_string(delivered) + " up to " +
                                       std::to_string(*previous) + " are gone from JetStream");
  }
  const int length = natsMsg_GetDataLength(message);
  if (length < 0 || static_cast<size_t>(length) > kPayloadBytesMax) {
    return Status(Code::kCorruption, "stream " + name_ + ": record " + std::to_string(*sequence) +
                                         " has a payload of " + std::to_string(length) + " bytes");
  }
  deliver_(Record{*sequence, stream_.kind,
                  std::string_view(natsMsg_GetData(message), static_cast<size_t>(length))});
  delivered_.store(*sequence);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------

class JetStreamBus final : public Bus {
 public:
  JetStreamBus(std::string url, std::function<bool(std::string_view)> knows_center)
      : url_(std::move(url)), knows_center_(std::move(knows_center)) {}

  Result<std::unique_ptr<Publisher>> OpenPublisher(const PublisherOptions& options) override {
    if (!IsValidId(options.center)) {
      return Status(Code::kInvalidArgument, "not a valid center id: '" + options.center + "'");
    }
    return JetStreamPublisher::Open(url_, options.center);
  }

  Result<std::unique_ptr<Subscription>> Subscribe(const StreamId& stream, uint64_t after,
                                                  Deliver deliver) override {
    if (!IsValidId(stream.center)) {
      return Status(Code::kInvalidArgument, "not a valid center id: '" + stream.center + "'");
    }
    if (stream.kind < Kind::kMasterData || stream.kind > Kind::kQuota) {
      return Status(Code::kInvalidArgument, "not a record kind");
    }
    if (knows_center_ && !knows_center_(stream.center)) {
      return Status(Code::kNotFound, "unknown center '" + stream.center + "'");
    }
    SURGE_ASSIGN_OR_RETURN(std::unique_ptr<Link> link, Link::Open(url_, /*retry_first=*/true));
    return std::unique_ptr<Subscription>(
        new JetStreamSubscription(std::move(link), stream, after, std::move(deliver)));
  }

 private:
  const std::string url_;
  const std::function<bool(std::string_view)> knows_center_;
};

}  // namespace

Result<std::unique_ptr<Bus>> NewJetStreamBus(
    const std::string& url, std::function<bool(std::string_view center)> knows_center) {
  // Reach the server once now, so that a wrong URL or a server without JetStream shows at once.
  SURGE_ASSIGN_OR_RETURN(const std::unique_ptr<Link> probe, Link::Open(url, false));
  jsAccountInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus status = js_GetAccountInfo(&info, probe->js(), nullptr, &js_error);
  if (status != NATS_OK) {
    return NatsStatus(Code::kUnavailable, "NATS at " + url + " has no JetStream", status, js_error);
  }
  jsAccountInfo_Destroy(info);
  return std::unique_ptr<Bus>(new JetStreamBus(url, std::move(knows_center)));
}

}  // namespace surge::bus
