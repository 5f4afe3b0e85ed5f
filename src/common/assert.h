// Assertions on our own invariants (money, stock, durability, epochs). They stay on in release
// builds: a violated invariant must crash loudly rather than sell a unit twice. Input from outside
// (clients, disk, network, config) is never asserted; it gets a Status.
#pragma once

namespace surge::detail {
[[noreturn]] void AssertFailed(const char* expression, const char* file, int line,
                               const char* message);
}  // namespace surge::detail

#define SURGE_ASSERT(condition)                                               \
  do {                                                                        \
    if (__builtin_expect(!(condition), 0))                                    \
      ::surge::detail::AssertFailed(#condition, __FILE__, __LINE__, nullptr); \
  } while (false)

#define SURGE_ASSERT_MSG(condition, message)                                    \
  do {                                                                          \
    if (__builtin_expect(!(condition), 0))                                      \
      ::surge::detail::AssertFailed(#condition, __FILE__, __LINE__, (message)); \
  } while (false)
