// HTTP benchmarks: the request parser alone, and the whole server over loopback.
//
//   BM_ParseOrder            one ~200-byte POST /v1/orders with a small JSON body per iteration
//   BM_ParsePipelined16      a buffer holding 16 of them, parsed in one go
//   BM_Loopback/depth:D      client threads, each on its own keep-alive connection, sending D
//                            pipelined requests per write and reading the D responses; the
//                            handler answers 200 at once. requests/s is items_per_second.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "http/http.h"
#include "http/request_parser.h"

namespace surge::http {
namespace {

std::string OrderRequest(int n) {
  const std::string body = R"({"request_id":"r-)" + std::to_string(100000 + n) +
                           R"(","user":"u-42","items":[{"sku":"sku-7","quantity":1}]})";
  return "POST /v1/orders HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

void ParseAll(benchmark::State& state, const std::string& input, int per_buffer) {
  detail::RequestParser parser(detail::ParserLimits{});
  std::string buffer = input;
  for (auto _ : state) {
    size_t begin = 0;
    for (int i = 0; i < per_buffer; ++i) {
      detail::ParsedRequest parsed;
      size_t consumed = 0;
      Status error;
      const auto result =
          parser.Parse(buffer.data() + begin, buffer.size() - begin, &parsed, &consumed, &error);
      if (result != detail::RequestParser::State::kDone) {
        state.SkipWithError("parse failed");
        return;
      }
      benchmark::DoNotOptimize(parsed.request.body.data());
      begin += consumed;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_buffer);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["request_bytes"] = static_cast<double>(input.size()) / per_buffer;
}

void BM_ParseOrder(benchmark::State& state) { ParseAll(state, OrderRequest(1), 1); }
BENCHMARK(BM_ParseOrder);

void BM_ParsePipelined16(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 16; ++i) input += OrderRequest(i);
  ParseAll(state, input, 16);
}
BENCHMARK(BM_ParsePipelined16);

// ---- Loopback --------------------------------------------------------------------------------

class OkHandler : public Handler {
 public:
  void Handle(const Request&, Responder responder) override {
    Response response;
    response.body = R"({"status":"ok"})";
    responder.Send(std::move(response));
  }
};

// One server for the whole loopback benchmark, started on first use.
Server& SharedServer() {
  static OkHandler handler;
  static std::unique_ptr<Server> server = [] {
    ServerOptions options;  // one loop per core
    auto started = Server::Start(options, handler);
    if (!started.ok()) std::abort();
    return std::move(started).value();
  }();
  return *server;
}

int Connect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return -1;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Sends `batch` and reads until `expected` bytes of responses came back.
bool RoundTrip(int fd, const std::string& batch, size_t expected, char* scratch,
               size_t scratch_size) {
  if (::send(fd, batch.data(), batch.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(batch.size())) {
    return false;
  }
  size_t received = 0;
  while (received < expected) {
    const ssize_t n = ::recv(fd, scratch, scratch_size, 0);
    if (n <= 0) return false;
    received += static_cast<size_t>(n);
  }
  return received == expected;
}

void BM_Loopback(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  Server& server = SharedServer();
  const int fd = Connect(server.port());
  if (fd < 0) {
    state.SkipWithError("connect failed");
    return;
  }
  const std::string request = OrderRequest(state.thread_index());
  std::string batch;
  for (int i = 0; i < depth; ++i) batch += request;
  std::unique_ptr<char[]> scratch(new char[1 << 16]);
  // Every response has the same size (fixed body, fixed-width Date): measure one.
  ssize_t response_bytes = 0;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) > 0) {
    response_bytes = ::recv(fd, scratch.get(), 1 << 16, 0);
  }
  if (response_bytes <= 0) {
    state.SkipWithError("first request failed");
    ::close(fd);
    return;
  }
  const size_t expected = static_cast<size_t>(response_bytes) * static_cast<size_t>(depth);
  for (auto _ : state) {
    if (!RoundTrip(fd, batch, expected, scratch.get(), 1 << 16)) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations() * depth);
}
BENCHMARK(BM_Loopback)->ArgName("depth")->Arg(1)->Arg(16)->Threads(4)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace surge::http
