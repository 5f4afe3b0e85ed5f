// The JetStream bus's names, private to the bus and its tests (the bus itself is NewJetStreamBus
// in bus.h).
//
// Naming. One stream per center and kind; a center id ([A-Za-z0-9_.:-], common/ids.h) is encoded
// so that it is a valid stream name (no '.', '*', '>', whitespace, path separators) and a single
// subject token (no '.'), and so that two ids never encode alike: letters, digits and '-' stay,
// '_' becomes "__", '.' becomes "_d", ':' becomes "_c", and any other byte "_xHH" (two lowercase
// hex digits). '_' only ever starts an escape, so decoding is unambiguous.
//   stream:  surge_<kind>_<encoded center>     e.g. surge_orders_eu_d1_cwest for "eu.1:west"
//   subject: surge.<kind>.<encoded center>     e.g. surge.orders.eu_d1_cwest
// The kind is one of the fixed names of KindName() ("master_data", "orders", "quota"), none a
// prefix of another, so a stream name splits back into its kind and center.
//
// Message headers (every message of a stream):
//   Surge-Sequence: the record's journal sequence (decimal).
//   Surge-Previous: the sequence of the record before it in the same stream (0 for the first):
//     a subscriber that receives a record whose previous is beyond the last one it delivered
//     knows that records were dropped from the stream (retention) and reports not_found.
//   Surge-Published-Through: when the record was sent, every record of the center up to this
//     sequence was stored by the server: a reopened publisher resumes from the largest of these.
//   Nats-Msg-Id: "<center>.<kind>.<sequence>", for the server's de-duplication window.
#pragma once

#include <string>
#include <string_view>

#include "bus/bus.h"

namespace surge::bus::jetstream {

inline constexpr char kSequenceHeader[] = "Surge-Sequence";
inline constexpr char kPreviousHeader[] = "Surge-Previous";
inline constexpr char kPublishedThroughHeader[] = "Surge-Published-Through";

// The center id encoded as above.
std::string EncodeCenter(std::string_view center);
std::string StreamName(std::string_view center, Kind kind);
std::string Subject(std::string_view center, Kind kind);
std::string MessageId(std::string_view center, Kind kind, uint64_t sequence);

}  // namespace surge::bus::jetstream
