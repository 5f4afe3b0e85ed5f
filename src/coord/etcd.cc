// The etcd coordinator: etcd's v3 API through its JSON gateway (grpc-gateway), over http's
// blocking client. What the gateway does that its documentation does not say:
//   - int64 fields (IDs, revisions, TTLs) are JSON strings; fields at their zero value are left
//     out (a failed transaction has no "succeeded", a keep-alive of an unknown lease no "TTL");
//   - /v3/lease/keepalive is a bidirectional stream: the answer is chunked, one JSON message per
//     line wrapped in {"result":...}, and it ends after one message because the request body
//     (one message) ends. A stream that fails before its first message answers with the error's
//     HTTP status and {"error":{"grpc_code","http_code","message","http_status"}}; one failing
//     later would put {"error":...} after a 200;
//   - other errors are {"error","message","code"} with an HTTP status from the gRPC code (404 for
//     a lease not found, 503 for no leader or a request timed out), chunked with a trailer;
//   - unknown request fields are ignored silently, and a TTL below etcd's minimum is raised to it
//     silently (the grant's answer says which TTL was granted);
//   - without a leader, a read waits about 5 s (etcd's request timeout) before it fails, while a
//     keep-alive fails at once: request_timeout bounds the wait.
#include <charconv>
#include <mutex>
#include <thread>

#include "coord/base64.h"
#include "coord/coord.h"
#include "coord/internal.h"
#include "http/http.h"
#include "json/json.h"

namespace surge::coord {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Endpoint {
  std::string label;  // "host:port", for messages
  std::unique_ptr<http::Client> client;
};

// A key's state as a range answer gives it.
struct KeyValue {
  int64_t mod_revision = 0;
  int64_t lease = 0;
  std::string value;
};

Status Unexpected(std::string_view what, const Status& cause) {
  return Status(Code::kCorruption,
                "etcd answered " + std::string(what) + " unexpectedly: " + cause.message());
}

// An int64 field that the gateway writes as a string (or, leniently, as a number); `absent`
// when the field is missing (proto3's zero value).
Result<int64_t> Int64Field(const json::Value& object, std::string_view key, int64_t absent) {
  if (!object.Has(key)) return absent;
  SURGE_ASSIGN_OR_RETURN(const json::Value field, object.Field(key));
  if (field.is_integer()) return field.Int(INT64_MIN, INT64_MAX);
  SURGE_ASSIGN_OR_RETURN(const std::string_view text, field.String());
  int64_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    return Status(Code::kBadField, field.path() + ": expected a decimal int64");
  }
  return value;
}

Result<std::string> Base64Field(const json::Value& object, std::string_view key) {
  if (!object.Has(key)) return std::string();
  SURGE_ASSIGN_OR_RETURN(const json::Value field, object.Field(key));
  SURGE_ASSIGN_OR_RETURN(const std::string_view text, field.String());
  std::optional<std::string> bytes = internal::Base64Decode(text);
  if (!bytes.has_value()) return Status(Code::kBadField, field.path() + ": expected base64");
  return std::move(*bytes);
}

// The first key-value of a range answer (`range` holds "kvs"), or nullopt if it has none.
Result<std::optional<KeyValue>> FirstKeyValue(const json::Value& range) {
  if (!range.Has("kvs")) return std::optional<KeyValue>();
  SURGE_ASSIGN_OR_RETURN(const json::Value kvs, range.Field("kvs"));
  SURGE_ASSIGN_OR_RETURN(const size_t count, kvs.ArraySize());
  if (count == 0) return std::optional<KeyValue>();
  SURGE_ASSIGN_OR_RETURN(const json::Value kv, kvs.At(0));
  KeyValue out;
  SURGE_ASSIGN_OR_RETURN(out.mod_revision, Int64Field(kv, "mod_revision", 0));
  SURGE_ASSIGN_OR_RETURN(out.lease, Int64Field(kv, "lease", 0));
  SURGE_ASSIGN_OR_RETURN(out.value, Base64Field(kv, "value"));
  if (out.mod_revision <= 0) return Status(Code::kBadField, kv.path() + ": no mod_revision");
  return std::optional<KeyValue>(std::move(out));
}

std::string EncodeHolderValue(std::string_view owner, std::string_view address) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Field("owner", owner);
  writer.Field("address", address);
  writer.EndObject();
  return out;
}

// The holder a key's value names; fields beyond owner and address are ignored (written by a
// newer version).
Result<Holder> DecodeHolder(const KeyValue& kv) {
  json::Document document;
  SURGE_RETURN_IF_ERROR(document.Parse(kv.value));
  const json::Value root = document.root();
  Holder holder;
  SURGE_ASSIGN_OR_RETURN(const json::Value owner, root.Field("owner"));
  SURGE_ASSIGN_OR_RETURN(const json::Value address, root.Field("address"));
  SURGE_ASSIGN_OR_RETURN(const std::string_view owner_text, owner.String());
  SURGE_ASSIGN_OR_RETURN(const std::string_view address_text, address.String());
  holder.owner = owner_text;
  holder.address = address_text;
  holder.epoch = static_cast<uint64_t>(kv.mod_revision);
  return holder;
}

std::string Describe(const Holder& holder) {
  return holder.owner + " at " + holder.address + ", epoch " + std::to_string(holder.epoch);
}

Status HeldBy(std::string_view name, const KeyValue& kv) {
  Result<Holder> holder = DecodeHolder(kv);
  return Status(Code::kUnavailable, "lease " + std::string(name) + " is held by " +
                                        (holder.ok() ? Describe(*holder) : "an unreadable value"));
}

Result<Endpoint> ParseEndpoint(std::string_view text, milliseconds timeout) {
  const std::string original(text);
  if (text.starts_with("http://")) text.remove_prefix(7);
  const size_t colon = text.rfind(':');
  const auto bad = [&] {
    return Status(Code::kInvalidArgument,
                  "etcd endpoint \"" + original + "\": expected host:port (e.g. 127.0.0.1:2379)");
  };
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint16_t port = 0;
  const auto result = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || result.ec != std::errc() ||
      result.ptr != port_text.data() + port_text.size() || port == 0) {
    return bad();
  }
  return Endpoint{std::string(text),
                  std::make_unique<http::Client>(std::string(host), port, timeout)};
}

class EtcdCoordinator final : public Coordinator {
 public:
  EtcdCoordinator(std::vector<Endpoint> endpoints, EtcdOptions options)
      : endpoints_(std::move(endpoints)), options_(std::move(options)) {}

  Result<Lease> Acquire(std::string_view name, std::string_view owner, std::string_view address,
                        milliseconds ttl) override;
  Status Renew(Lease& lease) override;
  Status Release(const Lease& lease) override;
  Result<std::optional<Holder>> Read(std::string_view name) override;

 private:
  // POSTs `body` to `path`, trying the endpoints in turn until one gives a definite answer or
  // operation_timeout runs out (io_error). A definite answer is a 200 (its body is returned), or
  // an error that every member would give too: not_found for gRPC's NotFound, internal for the
  // rest. *sent: when the request that was answered was sent.
  Result<std::string> Call(std::string_view path, std::string_view body, Clock::time_point* sent);
  // Parses `body` as the answer to `what` into `document`.
  static Status ParseAnswer(std::string_view what, const std::string& body,
                            json::Document* document);

  Result<std::pair<int64_t, milliseconds>> GrantLease(milliseconds ttl, Clock::time_point* sent);
  Result<std::optional<KeyValue>> RangeKey(const std::string& key);
  // Revokes `id`; ok if it is gone already.
  Status RevokeLease(int64_t id);
  // Sends one keep-alive; the TTL the lease was renewed for, 0 if it is gone.
  Result<int64_t> KeepAlive(int64_t id, Clock::time_point* sent);

  std::string Key(std::string_view name) const {
    return internal::Base64Encode(options_.key_prefix + std::string(name));
  }

  std::mutex mutex_;  // guards everything below; http::Client is not thread-safe
  std::vector<Endpoint> endpoints_;
  size_t current_ = 0;  // the endpoint that answered last
  const EtcdOptions options_;
};

// Whether another endpoint may answer better: transport errors, and the 5xx statuses that
// grpc-gateway gives for Unavailable (no leader, leader changed), DeadlineExceeded (request
// timed out) and Unknown/Internal; 408 and 429 too.
bool IsRetryable(int status) { return status >= 500 || status == 408 || status == 429; }

// The message of a gateway error body: {"error":..,"message":..,"code":..} for a unary call,
// {"error":{"grpc_code":..,"message":..,..}} for a stream (keep-alive); else the raw body.
std::string ErrorMessage(const std::string& body) {
  json::Document document;
  if (document.Parse(body).ok() && document.root().is_object()) {
    json::Value holder = document.root();
    const auto error = holder.Field("error");
    if (error.ok() && error->is_object()) holder = *error;
    const auto message = holder.Field("message");
    if (message.ok() && message->is_string()) return std::string(*message->String());
  }
  return body.substr(0, 200);
}

Result<std::string> EtcdCoordinator::Call(std::string_view path, std::string_view body,
                                          Clock::time_point* sent) {
  const Clock::time_point deadline = Clock::now() + options_.operation_timeout;
  std::string last_failure;
  for (size_t tried = 1;; ++tried) {
    Endpoint& endpoint = endpoints_[current_];
    *sent = Clock::now();
    Result<http::ClientResponse> response = endpoint.client->Do("POST", path, body);
    if (response.ok() && response->status == 200) return std::move(response->body);
    if (response.ok() && !IsRetryable(response->status)) {
      const std::string message = "etcd " + endpoint.label + " refused " + std::string(path) +
                                  " (HTTP " + std::to_string(response->status) +
                                  "): " + ErrorMessage(response->body);
      return Status(response->status == 404 ? Code::kNotFound : Code::kInternal, message);
    }
    last_failure = endpoint.label + ": " +
                   (response.ok() ? "HTTP " + std::to_string(response->status) + " " +
                                        ErrorMessage(response->body)
                                  : response.status().message());
    current_ = (current_ + 1) % endpoints_.size();
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return Status(Code::kIoError, "etcd: no endpoint answered " + std::string(path) + " within " +
                                        std::to_string(options_.operation_timeout.count()) +
                                        " ms (last: " + last_failure + ")");
    }
    // After a whole round of failures (an election, most likely), pause before the next one.
    if (tried % endpoints_.size() == 0) {
      std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(50), deadline - now));
    }
  }
}

Status EtcdCoordinator::ParseAnswer(std::string_view what, const std::string& body,
                                    json::Document* document) {
  // A stream's answer (keep-alive) is one JSON message per line; the first is the one.
  const size_t newline = body.find('\n');
  Status parsed = document->Parse(newline == std::string::npos ? body : body.substr(0, newline));
  if (!parsed.ok()) return Unexpected(what, parsed);
  if (!document->root().is_object()) {
    return Unexpected(what, Status(Code::kBadJson, "not a JSON object"));
  }
  return Status::Ok();
}

Result<std::pair<int64_t, milliseconds>> EtcdCoordinator::GrantLease(milliseconds ttl,
                                                                     Clock::time_point* sent) {
  const int64_t seconds = std::chrono::ceil<std::chrono::seconds>(ttl).count();
  SURGE_ASSIGN_OR_RETURN(
      const std::string body,
      Call("/v3/lease/grant", "{\"TTL\":" + std::to_string(seconds) + "}", sent));
  json::Document document;
  SURGE_RETURN_IF_ERROR(ParseAnswer("a lease grant", body, &document));
  const json::Value root = document.root();
  if (root.Has("error")) {
    const auto error = root.Field("error");
    if (error.ok() && error->is_string() && !error->String()->empty()) {
      return Status(Code::kIoError, "etcd refused a lease: " + std::string(*error->String()));
    }
  }
  Result<int64_t> id = Int64Field(root, "ID", 0);
  Result<int64_t> granted = Int64Field(root, "TTL", 0);
  if (!id.ok()) return Unexpected("a lease grant", id.status());
  if (!granted.ok()) return Unexpected("a lease grant", granted.status());
  if (*id == 0 || *granted <= 0 || *granted > 10 * kTtlMax.count() / 1000) {
    return Unexpected("a lease grant", Status(Code::kBadField, "no ID or no TTL in " + body));
  }
  return std::make_pair(*id, milliseconds(*granted * 1000));
}

Result<std::optional<KeyValue>> EtcdCoordinator::RangeKey(const std::string& key) {
  Clock::time_point sent;
  SURGE_ASSIGN_OR_RETURN(const std::string body,
                         Call("/v3/kv/range", "{\"key\":\"" + key + "\"}", &sent));
  json::Document document;
  SURGE_RETURN_IF_ERROR(ParseAnswer("a range", body, &document));
  Result<std::optional<KeyValue>> kv = FirstKeyValue(document.root());
  if (!kv.ok()) return Unexpected("a range", kv.status());
  return kv;
}

Status EtcdCoordinator::RevokeLease(int64_t id) {
  Clock::time_point sent;
  Result<std::string> body =
      Call("/v3/lease/revoke", "{\"ID\":\"" + std::to_string(id) + "\"}", &sent);
  if (!body.ok() && body.status().code() == Code::kNotFound) return Status::Ok();
  return body.status();
}

Result<int64_t> EtcdCoordinator::KeepAlive(int64_t id, Clock::time_point* sent) {
  SURGE_ASSIGN_OR_RETURN(
      const std::string body,
      Call("/v3/lease/keepalive", "{\"ID\":\"" + std::to_string(id) + "\"}", sent));
  json::Document document;
  SURGE_RETURN_IF_ERROR(ParseAnswer("a keep-alive", body, &document));
  const json::Value root = document.root();
  if (root.Has("error")) {
    return Status(Code::kIoError, "etcd's keep-alive stream failed: " + body.substr(0, 200));
  }
  Result<json::Value> result = root.Field("result");
  if (!result.ok()) return Unexpected("a keep-alive", result.status());
  Result<int64_t> ttl = Int64Field(*result, "TTL", 0);
  if (!ttl.ok()) return Unexpected("a keep-alive", ttl.status());
  return *ttl;
}

}  // namespace

namespace {

std::string TxnTakeIfAbsent(const std::string& key, const std::string& value, int64_t lease_id) {
  std::string out;
  json::Writer writer(&out);
  writer.BeginObject();
  writer.Key("compare");
  writer.BeginArray();
  writer.BeginObject();
  writer.Field("key", key);
  writer.Field("target", "CREATE");
  writer.Field("result", "EQUAL");
  writer.Field("create_revision", "0");
  writer.EndObject();
  writer.EndArray();
  writer.Key("success");
  writer.BeginArray();
  writer.BeginObject();
  writer.Key("request_put");
  writer.BeginObject();
  writer.Field("key", key);
  writer.Field("value", internal::Base64Encode(value));
  writer.Field("lease", std::to_string(lease_id));
  writer.EndObject();
  writer.EndObject();
  writer.EndArray();
  writer.Key("failure");
  writer.BeginArray();
  writer.BeginObject();
  writer.Key("request_range");
  writer.BeginObject();
  writer.Field("key", key);
  writer.EndObject();
  writer.EndObject();
  writer.EndArray();
  writer.EndObject();
  return out;
}

// What a take-if-absent transaction found: the epoch it took (> 0), or the key's current state.
struct TxnOutcome {
  int64_t epoch = 0;
  std::optional<KeyValue> existing;
};

Result<TxnOutcome> ParseTxn(const json::Value& root) {
  TxnOutcome outcome;
  SURGE_ASSIGN_OR_RETURN(const json::Value header, root.Field("header"));
  SURGE_ASSIGN_OR_RETURN(const int64_t revision, Int64Field(header, "revision", 0));
  SURGE_ASSIGN_OR_RETURN(const json::Value responses, root.Field("responses"));
  SURGE_ASSIGN_OR_RETURN(const json::Value first, responses.At(0));
  // "succeeded" is left out when false, so the branch shows in which response came back.
  if (first.Has("response_put")) {
    if (revision <= 0) return Status(Code::kBadField, "header.revision: missing");
    outcome.epoch = revision;
    return outcome;
  }
  SURGE_ASSIGN_OR_RETURN(const json::Value range, first.Field("response_range"));
  SURGE_ASSIGN_OR_RETURN(outcome.existing, FirstKeyValue(range));
  return outcome;
}

Result<Lease> EtcdCoordinator::Acquire(std::string_view name, std::string_view owner,
                                       std::string_view address, milliseconds ttl) {
  SURGE_RETURN_IF_ERROR(internal::CheckLeaseArguments(name, owner, address, ttl));
  std::lock_guard lock(mutex_);
  const std::string key = Key(name);
  // A standby polls Acquire while the primary lives: a read (no raft write, no fsync) answers
  // most of those calls. The transaction below decides; this only saves a grant and a revoke.
  SURGE_ASSIGN_OR_RETURN(const std::optional<KeyValue> current, RangeKey(key));
  if (current.has_value()) return HeldBy(name, *current);
  Clock::time_point sent;
  SURGE_ASSIGN_OR_RETURN(const auto grant, GrantLease(ttl, &sent));
  const auto [lease_id, granted] = grant;
  Clock::time_point txn_sent;
  Result<std::string> body = Call(
      "/v3/kv/txn", TxnTakeIfAbsent(key, EncodeHolderValue(owner, address), lease_id), &txn_sent);
  // On any failure the lease is revoked, which also deletes the key if the transaction did
  // apply after all (its answer lost): nothing is left half-taken.
  json::Document document;
  Status status = body.status();
  if (status.ok()) status = ParseAnswer("a transaction", *body, &document);
  Result<TxnOutcome> outcome = status.ok() ? ParseTxn(document.root()) : Result<TxnOutcome>(status);
  if (!outcome.ok()) {
    (void)RevokeLease(lease_id);
    return status.ok() ? Unexpected("a transaction", outcome.status()) : status;
  }
  int64_t epoch = outcome->epoch;
  // A transaction tried again on another endpoint finds its own first attempt's key.
  if (epoch == 0 && outcome->existing.has_value() && outcome->existing->lease == lease_id) {
    epoch = outcome->existing->mod_revision;
  }
  if (epoch == 0) {
    (void)RevokeLease(lease_id);
    if (!outcome->existing.has_value()) {
      return Status(Code::kUnavailable, "lease " + std::string(name) + " changed hands meanwhile");
    }
    return HeldBy(name, *outcome->existing);
  }
  return Lease{std::string(name),
               std::string(owner),
               std::string(address),
               static_cast<uint64_t>(epoch),
               granted,
               ValidUntil(sent, granted),
               lease_id};
}

Status EtcdCoordinator::Renew(Lease& lease) {
  SURGE_RETURN_IF_ERROR(
      internal::CheckLeaseArguments(lease.name, lease.owner, lease.address, lease.ttl));
  std::lock_guard lock(mutex_);
  const std::string lost =
      "lease " + lease.name + " of epoch " + std::to_string(lease.epoch) + " is lost: ";
  Clock::time_point sent;
  SURGE_ASSIGN_OR_RETURN(const int64_t ttl_seconds, KeepAlive(lease.handle, &sent));
  if (ttl_seconds <= 0) return Status(Code::kWrongState, lost + "expired or released");
  // The lease lives; check the key is still ours (nobody deleted or overwrote it).
  SURGE_ASSIGN_OR_RETURN(const std::optional<KeyValue> kv, RangeKey(Key(lease.name)));
  if (!kv.has_value() || kv->lease != lease.handle ||
      kv->mod_revision != static_cast<int64_t>(lease.epoch)) {
    (void)RevokeLease(lease.handle);
    if (!kv.has_value()) return Status(Code::kWrongState, lost + "its key is gone");
    Result<Holder> holder = DecodeHolder(*kv);
    return Status(Code::kWrongState,
                  lost + "taken by " + (holder.ok() ? Describe(*holder) : "an unreadable value"));
  }
  const milliseconds granted(ttl_seconds * 1000);
  lease.ttl = granted;
  lease.valid_until = ValidUntil(sent, granted);
  return Status::Ok();
}

Status EtcdCoordinator::Release(const Lease& lease) {
  SURGE_RETURN_IF_ERROR(internal::CheckName(lease.name));
  std::lock_guard lock(mutex_);
  // Revoking deletes the keys attached to this lease only: a key another owner took since is
  // attached to that owner's lease and stays.
  return RevokeLease(lease.handle);
}

Result<std::optional<Holder>> EtcdCoordinator::Read(std::string_view name) {
  SURGE_RETURN_IF_ERROR(internal::CheckName(name));
  std::lock_guard lock(mutex_);
  SURGE_ASSIGN_OR_RETURN(const std::optional<KeyValue> kv, RangeKey(Key(name)));
  if (!kv.has_value()) return std::optional<Holder>();
  Result<Holder> holder = DecodeHolder(*kv);
  if (!holder.ok()) return Unexpected("the value of lease " + std::string(name), holder.status());
  return std::optional<Holder>(std::move(*holder));
}

}  // namespace

Result<std::unique_ptr<Coordinator>> OpenEtcd(std::vector<std::string> endpoints,
                                              EtcdOptions options) {
  if (endpoints.empty()) return Status(Code::kInvalidArgument, "no etcd endpoint given");
  if (options.request_timeout.count() <= 0 || options.operation_timeout.count() <= 0) {
    return Status(Code::kInvalidArgument, "etcd timeouts must be positive");
  }
  std::vector<Endpoint> parsed;
  for (const std::string& endpoint : endpoints) {
    SURGE_ASSIGN_OR_RETURN(Endpoint one, ParseEndpoint(endpoint, options.request_timeout));
    parsed.push_back(std::move(one));
  }
  return std::unique_ptr<Coordinator>(
      std::make_unique<EtcdCoordinator>(std::move(parsed), std::move(options)));
}

}  // namespace surge::coord
