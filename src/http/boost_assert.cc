// Boost's assertion handler for the http library's debug builds (the http target compiles with
// BOOST_ENABLE_ASSERT_DEBUG_HANDLER; release builds compile Boost's assertions out).
//
// Beast 1.74's basic_parser::parse_chunk_header asserts `n >= 5` when it re-enters the last
// chunk, but a final chunk split across reads ("0\r\n", then "\r", then "\n") reaches it with
// fewer bytes; the code after the assertion only reads bytes it was given and asks for more.
// Upstream fixed the assertion (boostorg/beast pull request 2861). That one assertion is ignored;
// every other failed Boost assertion stops the process like ours do.
#include <boost/assert.hpp>
#include <cstring>

#include "common/assert.h"

namespace boost {

void assertion_failed(const char* expression, const char* function, const char* file, long line) {
  if (std::strcmp(expression, "n >= 5") == 0 && std::strstr(file, "basic_parser.ipp") != nullptr) {
    return;
  }
  ::surge::detail::AssertFailed(expression, file, static_cast<int>(line), function);
}

void assertion_failed_msg(const char* expression, const char* message, const char*,
                          const char* file, long line) {
  ::surge::detail::AssertFailed(expression, file, static_cast<int>(line), message);
}

}  // namespace boost
