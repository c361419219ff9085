// The HTTP API (cpp-httplib): JSON routes over a Backend, Prometheus /metrics and a
// server-sent event stream. Mutations (POST, DELETE) need "Authorization: Bearer <token>".
// Every error is a JSON body {"error": "...", "field": "..." | null}. Routes: docs/API.md.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/backend.hpp"
#include "common/result.hpp"

#include "api/http_server.hpp"

namespace flywall::api {

struct ListenAddress {
    std::string host;  // without brackets
    int port = 0;      // 0 = any free port
};
// "127.0.0.1:8080", "[::1]:8080", "localhost:0".
Result<ListenAddress> parse_listen(const std::string& text);

struct ServerOptions {
    ListenAddress listen{"127.0.0.1", 8080};
    std::string token;  // required for mutations; never empty
    std::size_t max_body_bytes = 64u << 20;  // bulk imports of ~1M entries fit
    std::size_t max_json_depth = 64;         // nesting of a JSON body (a deeper one is a 400)
    std::size_t max_event_streams = 128;     // open /api/ebpf/events streams (then 503)
    bool reads_need_token = false;           // set for listeners that are not on loopback
    std::optional<TlsFiles> tls;             // required for listeners that are not on loopback
    ConnectionLimits limits;
};


class ApiServer {
public:
    // Binds (so a busy port fails here, not later) and serves on its own thread.
    static Result<std::unique_ptr<ApiServer>> start(Backend& backend, ServerOptions options);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // The bound port (the real one when 0 was asked for).
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] const std::string& host() const { return options_.listen.host; }
    [[nodiscard]] bool running() const { return running_.load(); }
    [[nodiscard]] HardenedHttpServer::Counters connections() const { return server_->counters(); }
    [[nodiscard]] std::size_t event_streams() const { return event_streams_.load(); }
    // Stops accepting, ends event streams, joins the server thread. Idempotent.
    void stop();

private:
    ApiServer(Backend& backend, ServerOptions options);
    void routes();

    Backend& backend_;
    ServerOptions options_;
    std::unique_ptr<HardenedHttpServer> server_;
    int port_ = 0;
    std::atomic<bool> running_{false};
    std::atomic<std::size_t> event_streams_{0};
};

}  // namespace flywall::api
