// coord: leases and epochs, the fencing tokens of hot standby (ARCHITECTURE.md, issue 5).
//
// A lease is a named, exclusive, expiring claim. The primary of a center holds its center's lease
// (name: the center id) and renews it well before it runs out; when it stops renewing (it died,
// froze or lost its link), the lease expires and the standby takes it. Each change of ownership
// of a name gets a new epoch, strictly greater than every epoch that name had before, never
// reused, surviving restarts of the coordinator. The epoch is the fencing token: the primary
// stamps it on every journal batch it ships, and a standby never acknowledges a batch of an epoch
// lower than the highest it has seen, so a primary that wakes up after losing its lease cannot
// get anything acknowledged.
//
// The contract (coord_contract_test runs it against both implementations):
//   - exclusive: at most one unexpired lease per name at any moment. Acquire fails while another
//     lease of the name is unexpired, even one of the same owner (a restarted process must wait
//     for its previous incarnation's lease to run out, since that incarnation may still be alive).
//   - conservative: Lease::valid_until is computed on the holder's monotonic clock from when the
//     request that granted or last renewed the lease was SENT, plus the granted TTL, minus a
//     safety margin (ValidUntil below). It is never later than the moment the lease really expires
//     and another owner can take it. The holder must stop acting as the owner (accepting orders)
//     once steady_clock::now() reaches valid_until without a successful Renew.
//   - renewable: Renew extends the lease by its TTL from the moment of the request; it fails with
//     wrong_state once the lease is lost (expired, released, or taken by another owner), and
//     never revives a lost lease.
//   - releasable: Release frees the lease at once; the next Acquire succeeds without waiting.
//   - readable: Read returns the holder of the unexpired lease of a name (owner, address, epoch),
//     or nothing. The gateway uses it to route to a center's current primary. An expired lease
//     may still be reported for a short while (etcd deletes expired leases within about 0.5 s).
//
// Two implementations:
//   embedded (OpenEmbedded): for one machine. Every name's owner, address, epoch and expiry in one
//     small text table (lease_file.h), kept as immutable numbered versions in a directory and
//     updated by compare-and-swap without any lock (versions.h): a writer reads the newest version
//     N, writes its new table to a temporary file, fsyncs it and link(2)s it as version N+1,
//     which fails if another writer got there first (it then starts again from the newer
//     version). No call ever waits for another process: a process frozen (SIGSTOP) or killed at
//     any instant, even in the middle of a write, delays nobody, and when it wakes up its
//     pending write loses to whatever was published meanwhile, so it can never overwrite a newer
//     table. A crash leaves whole versions only. Acquire also fsyncs the directory, so a new
//     epoch survives a power failure: two fsyncs, against one for Renew and Release; Read and a
//     refused Acquire write nothing and cost a few system calls (an open of the version last
//     seen, a failed open of the next). Superseded versions are deleted a few seconds later.
//     Expiry times are on CLOCK_MONOTONIC, which is system-wide on one machine and so comparable
//     across processes; the table records the kernel's boot id, and after a reboot every lease
//     counts as expired (the epochs stay). The newest version is parsed strictly: damage of any
//     kind gives corruption naming the file, the line and what is wrong, and nothing is changed.
//     Renew decides whether the lease is lost when it handles the request, then writes; the
//     write is published only if nobody wrote meanwhile, so a lease taken by another owner is
//     never revived (but a Read while a late renewal's write is synced may see the lease free).
//   etcd (OpenEtcd): for several machines, through etcd's JSON gateway (v3 API over HTTP/1.1).
//     A lease is an etcd lease (TTL in whole seconds, rounded up, and at least etcd's minimum TTL,
//     1.5 election timeouts) and a key "<key_prefix><name>" whose value is {"owner","address"},
//     written with that lease in a transaction that succeeds only if the key does not exist; the
//     epoch is the revision of that transaction (the key's mod_revision). Renew is a keep-alive.
//     A request that fails on one endpoint (refused, timed out, no leader) is tried on the next,
//     round robin, until operation_timeout: losing one member of three, or the leader, costs at
//     most an election.
//
// How a primary and its standby use it:
//   primary: Acquire once; then Renew about every ttl/3. On wrong_state, stop at once. On any
//     other error keep the old valid_until and keep trying; stop accepting orders when
//     steady_clock::now() reaches valid_until, and resume only after a Renew succeeds.
//   standby: call Acquire every ttl/10 or so; unavailable means the primary still holds the
//     lease. Once it succeeds, stamp lease.epoch on everything it ships and refuse batches of
//     lower epochs.
//   gateway: Read a center's name to find its primary's address (cache it; read again after a
//     421 or 503 from the center).
//
// Thread safety: a Coordinator may be used from any number of threads. Several Coordinators
// (in one process or many) on the same file or the same etcd cluster exclude each other.
//
// Errors:
//   invalid_argument  a bad name, owner, address or TTL (see the limits below).
//   unavailable       Acquire: the lease is held, unexpired, by someone ("lease c1 is held by
//                     c1-a at 127.0.0.1:9001, epoch 7"). Try again later.
//   wrong_state       Renew: the lease is lost. Step down now.
//   io_error          the file could not be read or written; no etcd endpoint answered within
//                     operation_timeout. The outcome is unknown (a Renew may or may not have
//                     extended the lease): keep the old valid_until and try again.
//   corruption        the lease file is damaged (embedded), or etcd answered something that is
//                     not what its API promises; nothing was changed.
//   internal          etcd refused a request as malformed (a bug here, or an etcd without the
//                     v3 JSON gateway).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge::coord {

// Limits on what a lease names and carries (checked by every call: invalid_argument).
//   name: 1 to 64 characters of [A-Za-z0-9_.:-] (an API.md id, such as a center id);
//   owner, address: 1 to 256 printable ASCII characters without spaces ('!' to '~');
//   ttl: 1 ms to 1 hour.
inline constexpr size_t kNameBytesMax = 64;
inline constexpr size_t kOwnerBytesMax = 256;
inline constexpr size_t kAddressBytesMax = 256;
inline constexpr std::chrono::milliseconds kTtlMin{1};
inline constexpr std::chrono::milliseconds kTtlMax{3'600'000};

// A lease held by the caller. A plain value: the holder keeps it and hands it back to Renew and
// Release (one thread at a time per Lease).
struct Lease {
  std::string name;
  std::string owner;
  std::string address;
  uint64_t epoch = 0;  // >= 1
  // The TTL as granted: the requested one for embedded; whole seconds, at least etcd's minimum
  // TTL, for etcd. Each Renew extends the lease by this much from the moment of its request.
  std::chrono::milliseconds ttl{0};
  // Act as the owner only before this instant (see "conservative" above).
  std::chrono::steady_clock::time_point valid_until;
  // The implementation's own: the etcd lease ID; 0 for embedded.
  int64_t handle = 0;
};

// Who holds a name's lease now.
struct Holder {
  std::string owner;
  std::string address;
  uint64_t epoch = 0;
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;

  // Takes the lease of `name` for `owner` (who can be reached at `address`) for `ttl`, with a new
  // epoch. unavailable if an unexpired lease of `name` exists (the message names its holder).
  virtual Result<Lease> Acquire(std::string_view name, std::string_view owner,
                                std::string_view address, std::chrono::milliseconds ttl) = 0;

  // Extends `lease` by its TTL from now and moves lease.valid_until forward. wrong_state if the
  // lease was lost; on any error `lease` is unchanged.
  virtual Status Renew(Lease& lease) = 0;

  // Frees `lease` at once (its holder must have stopped acting as the owner first). Ok if it was
  // already lost; never frees a lease of another epoch.
  virtual Status Release(const Lease& lease) = 0;

  // The holder of the unexpired lease of `name`, or nullopt if there is none.
  virtual Result<std::optional<Holder>> Read(std::string_view name) = 0;
};

// valid_until for a lease granted or renewed by a request sent at `sent`, with the granted `ttl`:
// sent + ttl - ttl/10. The margin covers the time between a holder's check of valid_until and
// its last act as the owner, and the rate difference of clocks on different machines (etcd).
std::chrono::steady_clock::time_point ValidUntil(std::chrono::steady_clock::time_point sent,
                                                 std::chrono::milliseconds ttl);

// Opens (creating it and its parents if missing) the lease directory `path`, which holds the
// versions of the lease table ("<path>/v00000000000000000007", ...) and the writers' temporary
// files, and nothing else of importance. corruption if the newest version is damaged; io_error
// if the directory cannot be created or read, or `path` is not a directory.
Result<std::unique_ptr<Coordinator>> OpenEmbedded(const std::string& path);

struct EtcdOptions {
  // Prepended to the name to form the key ("surge/lease/c1").
  std::string key_prefix = "surge/lease/";
  // Bounds each HTTP request to one endpoint (connect, send, answer).
  std::chrono::milliseconds request_timeout{1000};
  // Bounds the attempts of one request across endpoints and retries. A call makes one to four
  // requests (Acquire: a read, a grant, a transaction, and a revoke if it lost; Renew: a
  // keep-alive and a read), and returns at the first that fails: a cluster that is down costs
  // a call about this long.
  std::chrono::milliseconds operation_timeout{3000};
};

// A coordinator on the etcd cluster whose client URLs are `endpoints` ("host:port", optionally
// with "http://" before; an IPv6 host in brackets). Connects lazily: an unreachable cluster shows
// in the first call, not here. invalid_argument if `endpoints` is empty or one is malformed.
Result<std::unique_ptr<Coordinator>> OpenEtcd(std::vector<std::string> endpoints,
                                              EtcdOptions options = {});

// Opens a coordinator from a one-line spec, for configuration and command-line flags:
//   "file:<path>"                         OpenEmbedded(path)
//   "etcd:<host:port>[,<host:port>...]"   OpenEtcd with default options
// invalid_argument for anything else.
Result<std::unique_ptr<Coordinator>> Open(std::string_view spec);

}  // namespace surge::coord
