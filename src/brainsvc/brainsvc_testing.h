// For brainsvc's tests: a service served over HTTP on loopback, and a client to it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "brainsvc/brainsvc.h"
#include "http/http.h"
#include "json/json.h"

namespace surge::brainsvc::testing {

class Served {
 public:
  // Opens the service on `env` and serves it with one event loop.
  void Start(Env& env, const Options& options) {
    auto service = Service::Open(env, options);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    http::ServerOptions server_options;
    server_options.threads = 1;
    auto server = http::Server::Start(server_options, *service_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ =
        std::make_unique<http::Client>("127.0.0.1", server_->port(), std::chrono::seconds(10));
  }
  // The server first, so that no request reaches a stopped service.
  void Stop() {
    client_.reset();
    if (server_) server_->Stop();
    server_.reset();
    if (service_) service_->Stop();
    service_.reset();
  }
  ~Served() { Stop(); }

  http::ClientResponse Do(std::string_view method, std::string_view target,
                          std::string_view body = {}) {
    auto response = client_->Do(method, target, body);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : http::ClientResponse{};
  }
  Service& service() { return *service_; }
  uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<Service> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

// The string values of `field` of every object of the array `list` in a JSON body.
inline std::vector<std::string> Strings(const std::string& body, std::string_view list,
                                        std::string_view field) {
  json::Document document;
  std::vector<std::string> values;
  if (!document.Parse(body).ok()) {
    ADD_FAILURE() << "not JSON: " << body;
    return values;
  }
  auto array = document.root().Field(list);
  if (!array.ok()) return values;
  const size_t size = array->ArraySize().ok() ? *array->ArraySize() : 0;
  for (size_t i = 0; i < size; ++i) {
    auto value = array->At(i)->Field(field);
    if (value.ok() && value->String().ok()) values.emplace_back(*value->String());
  }
  return values;
}

// The error code of an API.md error body, or "" if it is none.
inline std::string ErrorCode(const std::string& body) {
  json::Document document;
  if (!document.Parse(body).ok()) return "";
  auto error = document.root().Field("error");
  if (!error.ok()) return "";
  auto code = error->Field("code");
  return code.ok() && code->String().ok() ? std::string(*code->String()) : "";
}

}  // namespace surge::brainsvc::testing
