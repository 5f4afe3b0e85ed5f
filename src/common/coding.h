// Binary encoding for journal records and snapshots: little-endian fixed-width integers, LEB128
// varints and length-prefixed strings. The Encoder appends to a std::string it does not own; the
// Decoder reads from a view and fails (returns false, and stays failed) on any truncation or
// out-of-range value instead of reading past the end: its input may come from a damaged disk.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace surge {

class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(out) {}

  void U8(uint8_t value) { out_->push_back(static_cast<char>(value)); }
  void Fixed32(uint32_t value) {
    char bytes[4];
    std::memcpy(bytes, &value, 4);  // x86-64 is little-endian, which is the on-disk order.
    out_->append(bytes, 4);
  }
  void Fixed64(uint64_t value) {
    char bytes[8];
    std::memcpy(bytes, &value, 8);
    out_->append(bytes, 8);
  }
  void Varint(uint64_t value) {
    char bytes[10];
    size_t length = 0;
    while (value >= 0x80) {
      bytes[length++] = static_cast<char>(value | 0x80);
      value >>= 7;
    }
    bytes[length++] = static_cast<char>(value);
    out_->append(bytes, length);
  }
  // Zig-zag so that small negative numbers stay short.
  void SignedVarint(int64_t value) {
    Varint((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
  }
  void String(std::string_view value) {
    Varint(value.size());
    out_->append(value.data(), value.size());
  }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  bool U8(uint8_t* value) {
    if (!Need(1)) return false;
    *value = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool Fixed32(uint32_t* value) {
    if (!Need(4)) return false;
    std::memcpy(value, in_.data(), 4);
    in_.remove_prefix(4);
    return true;
  }
  bool Fixed64(uint64_t* value) {
    if (!Need(8)) return false;
    std::memcpy(value, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  bool Varint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      if (!Need(1)) return false;
      const auto byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      if (shift == 63 && byte > 1) return Fail();
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return Fail();
  }
  bool SignedVarint(int64_t* value) {
    uint64_t raw = 0;
    if (!Varint(&raw)) return false;
    *value = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
    return true;
  }
  // A length-prefixed string no longer than `length_max`; the view points into the input.
  bool String(std::string_view* value, uint64_t length_max = UINT32_MAX) {
    uint64_t length = 0;
    if (!Varint(&length)) return false;
    if (length > length_max || !Need(length)) return Fail();
    *value = in_.substr(0, length);
    in_.remove_prefix(length);
    return true;
  }
  bool String(std::string* value, uint64_t length_max = UINT32_MAX) {
    std::string_view view;
    if (!String(&view, length_max)) return false;
    value->assign(view.data(), view.size());
    return true;
  }

  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  bool Need(uint64_t count) {
    if (!ok_ || in_.size() < count) return Fail();
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::string_view in_;
  bool ok_ = true;
};

// CRC-32C (Castagnoli), with the SSE4.2 instruction where the CPU has it.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// A 64-bit hash that is stable across runs and builds (FNV-1a folded through a finalizer); used
// for state hashes and body fingerprints, which must agree between processes.
uint64_t StableHash64(std::string_view data, uint64_t seed = 0);

}  // namespace surge
