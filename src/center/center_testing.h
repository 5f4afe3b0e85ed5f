// For center's tests: submitting and reading synchronously.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <type_traits>
#include <utility>

#include "center/center.h"
#include "trade/trade.h"

namespace surge::center::test_util {

// Submits `body` and waits for its reply.
inline trade::Reply Call(Center& center, trade::Body body) {
  std::promise<trade::Reply> promise;
  std::future<trade::Reply> future = promise.get_future();
  center.Submit(std::move(body),
                [&promise](trade::Reply reply) { promise.set_value(std::move(reply)); });
  return future.get();
}

// Runs `read` on the writer thread and returns its result.
template <typename Function>
auto ReadNow(Center& center, Function read) {
  using Value = decltype(read(std::declval<const trade::Trade&>(), int64_t{}));
  std::promise<Value> promise;
  std::future<Value> future = promise.get_future();
  const bool queued = center.Read(
      [&](const trade::Trade& state, int64_t now_ms) { promise.set_value(read(state, now_ms)); });
  if (!queued) {
    ADD_FAILURE() << "the center refused a read";
    if constexpr (std::is_default_constructible_v<Value>) {
      return Value{};
    } else {
      std::abort();  // nothing to return; the failure above says why
    }
  }
  return future.get();
}

}  // namespace surge::center::test_util
