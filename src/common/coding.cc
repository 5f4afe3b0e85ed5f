#include "common/coding.h"

#include <nmmintrin.h>

#include <array>

namespace surge {
namespace {

constexpr uint32_t kCrc32cPolynomial = 0x82f63b78;  // reflected Castagnoli

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kCrc32cPolynomial : 0);
    table[i] = crc;
  }
  return table;
}

uint32_t Crc32cSoftware(std::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> table = MakeTable();
  for (const char byte : data) {
    crc = table[(crc ^ static_cast<uint8_t>(byte)) & 0xff] ^ (crc >> 8);
  }
  return crc;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(std::string_view data, uint32_t crc) {
  const char* cursor = data.data();
  size_t left = data.size();
  uint64_t wide = crc;
  while (left >= 8) {
    uint64_t word = 0;
    std::memcpy(&word, cursor, 8);
    wide = _mm_crc32_u64(wide, word);
    cursor += 8;
    left -= 8;
  }
  auto narrow = static_cast<uint32_t>(wide);
  while (left > 0) {
    narrow = _mm_crc32_u8(narrow, static_cast<uint8_t>(*cursor));
    ++cursor;
    --left;
  }
  return narrow;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}

}  // namespace

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  crc = HasSse42() ? Crc32cHardware(data, crc) : Crc32cSoftware(data, crc);
  return ~crc;
}

uint64_t StableHash64(std::string_view data, uint64_t seed) {
  uint64_t hash = 0xcbf29ce484222325ULL ^ seed;
  for (const char byte : data) {
    hash ^= static_cast<uint8_t>(byte);
    hash *= 0x100000001b3ULL;
  }
  // splitmix64 finalizer, so that nearby inputs spread over all bits.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

}  // namespace surge
