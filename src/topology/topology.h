// topology: which centers make up a deployment, which one is the master, where each listens, and
// which center is the home of each user. Read from a TOML file; immutable once built.
//
// Users are split into a fixed number of slices by a stable hash of the user id:
//
//   slice = StableHash64(user_id) % slice_count      (common/coding.h, seed 0)
//
// This is the routing rule of the whole deployment: every gateway and center must compute the
// same slice for a user, across runs, machines and builds, so neither the hash nor this formula
// may ever change for an existing deployment. Each slice has exactly one home center, which alone
// accepts that user's orders.
//
// The file format (src/topology/example.toml is a commented example):
//
//   slices = 64                      # number of user slices, 1..65536, fixed for the deployment
//   master = "m"                     # id of the master center (owns master data)
//
//   [gateway]                        # optional
//   address = "127.0.0.1:8080"       # HOST:PORT the gateway listens on
//
//   [[center]]                       # one table per center, at least one, at most 256
//   id = "m"                         # 1..32 chars of [A-Za-z0-9_.:-], unique
//   address = "127.0.0.1:18601"      # HOST:PORT its API listens on, unique (port 1..65535)
//   bus = "127.0.0.1:18701"          # optional: HOST:PORT where it serves its journal to the
//                                    # embedded data bus (src/bus), unique among all addresses
//   slices = ["0-20", 42]            # its slices: "first-last" ranges (inclusive), or single
//                                    # slices as a string "42" or an integer 42; may be [] (a
//                                    # center that is home to no user)
//
// Every slice in [0, slices) belongs to exactly one center. HOST is a host name, an IPv4 address,
// or an IPv6 address in brackets ("[::1]:18601"). Keys not listed above are errors, so that a
// typo is never silently ignored; later issues extend the format with new keys (standbys).
//
// Errors: Parse and Load return invalid_argument with a message that names the source and the
// line, "topology.toml: line 12: slice 20 of center \"s1\" is already assigned to center \"m\"
// (line 5)", for TOML syntax errors, unknown keys, missing keys, values of the wrong type, invalid
// or duplicate center ids, malformed or duplicate addresses, a master that is not a center, and
// slices that are malformed, out of range, reversed, assigned twice or assigned to no center.
//
// Thread safety: a Topology is an immutable value; any number of threads may read one at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace surge::json {
class Writer;
}  // namespace surge::json

namespace surge::topology {

inline constexpr uint32_t kSliceCountMax = 65536;
inline constexpr size_t kCenterIdLengthMax = 32;
inline constexpr size_t kCentersMax = 256;
// Larger files are refused before parsing.
inline constexpr size_t kTextBytesMax = 1 << 20;

// HOST:PORT. `host` is kept as written (IPv6 without its brackets); port is 1..65535.
struct Address {
  std::string host;
  uint16_t port = 0;

  // "127.0.0.1:18601", "[::1]:18601".
  std::string ToString() const;
  bool operator==(const Address&) const = default;
};

// Parses HOST:PORT as the topology file accepts it (see above). invalid_argument saying what is
// wrong, without a source or line (Parse adds those).
Result<Address> ParseAddress(std::string_view text);

// Slices first..last, both included.
struct SliceRange {
  uint32_t first = 0;
  uint32_t last = 0;

  // "0-20", or "42" for a single slice.
  std::string ToString() const;
  bool operator==(const SliceRange&) const = default;
};

struct Center {
  std::string id;
  Address address;
  std::optional<Address> bus_address;  // the embedded bus's address, if the file gives one
  // The center's slices as sorted, disjoint, non-adjacent ranges (adjacent ranges of the file are
  // merged: "0-9" and "10-20" become "0-20"). Empty if it is home to no user.
  std::vector<SliceRange> slices;
  bool is_master = false;

  bool operator==(const Center&) const = default;
};

class Topology {
 public:
  // Centers in the order of the file.
  const std::vector<Center>& centers() const { return centers_; }
  const std::string& master_id() const { return centers_[master_index_].id; }
  const Center& master() const { return centers_[master_index_]; }
  uint32_t slice_count() const { return slice_count_; }
  // The [gateway] address, if the file has one.
  const std::optional<Address>& gateway_address() const { return gateway_address_; }

  // The user's slice, in [0, slice_count()): StableHash64(user_id) % slice_count().
  uint32_t SliceOf(std::string_view user_id) const;
  // The home center of a slice; asserts slice < slice_count(). O(1).
  const Center& CenterOfSlice(uint32_t slice) const;
  // The home center of the user: CenterOfSlice(SliceOf(user_id)). One hash and two loads; meant
  // to be called per request.
  const Center& HomeOf(std::string_view user_id) const { return CenterOfSlice(SliceOf(user_id)); }
  // The index in centers() of the user's home center, for callers that keep per-center state
  // (connection pools) in a vector parallel to centers().
  size_t HomeIndexOf(std::string_view user_id) const {
    return center_index_of_slice_[SliceOf(user_id)];
  }
  // The center with this id, or nullptr.
  const Center* Find(std::string_view center_id) const;
  bool IsMaster(std::string_view center_id) const { return center_id == master_id(); }

  // The body of GET /v1/topology:
  //   {"slices":64,"master":"m","gateway":"127.0.0.1:8080",
  //    "centers":[{"id":"m","address":"127.0.0.1:18601","role":"master","slices":["0-20"]},
  //               {"id":"s1",...,"role":"sub",...}]}
  // "gateway" only when the file has one; "role" is "master" or "sub"; slices as in
  // Center::slices. ToJson returns it; WriteJson writes it as the next value of `writer`, and
  // calls `more_center_fields` (if set) inside each center's object after the fields above, so
  // that a server can add what only it knows (epochs, standbys) without changing this shape.
  std::string ToJson() const;
  void WriteJson(
      json::Writer* writer,
      const std::function<void(const Center&, json::Writer*)>& more_center_fields = nullptr) const;

  // The topology as a canonical TOML file (the format above, centers in order, merged ranges):
  // Parse(ToToml()) yields an equal Topology. Lets a launcher or a test write a file it made.
  std::string ToToml() const;

  bool operator==(const Topology&) const = default;

 private:
  friend class Parser;  // builds it (parse.cc)
  Topology() = default;

  uint32_t slice_count_ = 0;
  size_t master_index_ = 0;
  std::vector<Center> centers_;
  // Index into centers_ of the home of each slice; slice_count_ entries.
  std::vector<uint16_t> center_index_of_slice_;
  std::optional<Address> gateway_address_;
};

// Parses and validates a topology file's text. `source_name` (usually the path) starts every
// error message.
Result<Topology> Parse(std::string_view text, std::string_view source_name);

// Reads `path` through `env` and parses it; an error reading the file is returned with the path.
Result<Topology> Load(Env& env, const std::string& path);

}  // namespace surge::topology
