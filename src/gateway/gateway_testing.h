// For the gateway's tests: a stand-in for a center (or a node of one) served by its own HTTP
// server on loopback. Subclasses implement Handle and call StopServer first in their destructor,
// so that no request reaches them while their members go.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "http/http.h"

namespace surge::gateway::testing {

class FakeServer : public http::Handler {
 public:
  // Serves on 127.0.0.1:`port` (0: any free one) with one event loop.
  void Start(uint16_t port = 0) {
    http::ServerOptions options;
    options.port = port;
    options.threads = 1;
    auto server = http::Server::Start(options, *this);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    port_ = server_->port();
  }
  void StopServer() {
    if (server_) server_->Stop();
    server_.reset();
  }
  uint16_t port() const { return port_; }

 private:
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
};

}  // namespace surge::gateway::testing
