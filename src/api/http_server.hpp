// The API's connection layer: cpp-httplib parses requests and routes them, but accepting,
// reading and writing are ours, because httplib 0.11 (Debian 12) cannot be made safe against
// hostile clients from the outside: its fixed pool of 8 workers is taken by 8 slow clients or 8
// event streams, a client that sends a byte a second never times out, and stop() waits for them.
//
// Here every connection gets its own thread (bounded: max_connections in total, max_per_client
// from one non-loopback address), a request must arrive whole within request_timeout (request
// line + headers <= max_header_bytes), an idle keep-alive connection is closed after
// idle_timeout, a write that makes no progress for write_timeout ends the connection, and stop()
// shuts every socket down so that all threads end at once whatever their clients do.
// Optional TLS (OpenSSL) for listeners that are not on loopback.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace flywall::api {

struct ConnectionLimits {
    std::size_t max_connections = 512;   // open connections in total (then 503 and close)
    std::size_t max_per_client = 64;     // from one remote address; loopback peers are exempt
    std::chrono::milliseconds request_timeout{10000};  // request line, headers and body
    std::chrono::milliseconds idle_timeout{5000};      // keep-alive wait for the next request
    std::chrono::milliseconds write_timeout{5000};     // no progress for this long ends it
    std::size_t max_header_bytes = 64 * 1024;           // request line + headers
    std::size_t max_requests_per_connection = 100;
};

struct TlsFiles {
    std::string cert_file;  // PEM certificate (chain)
    std::string key_file;   // PEM private key
};

class HardenedHttpServer : public httplib::Server {
public:
    HardenedHttpServer();
    ~HardenedHttpServer() override;
    HardenedHttpServer(const HardenedHttpServer&) = delete;
    HardenedHttpServer& operator=(const HardenedHttpServer&) = delete;

    // Loads the certificate and key (before bind, so a bad file fails the start).
    Status enable_tls(const TlsFiles& files);
    // Binds host:port (port 0 = any free port) and starts the accept thread.
    Status start(const std::string& host, int port, ConnectionLimits limits);
    [[nodiscard]] int bound_port() const { return port_; }
    [[nodiscard]] bool tls() const { return ssl_ctx_ != nullptr; }
    // Set once stop() began; long responses (event streams) end when they see it.
    [[nodiscard]] bool stopping() const { return stopping_.load(); }
    // Closes the listener, shuts every connection's socket down and waits for their threads.
    void stop();

    struct Counters {
        std::size_t open = 0;
        std::uint64_t accepted = 0;
        std::uint64_t rejected_total_limit = 0;
        std::uint64_t rejected_client_limit = 0;
        std::uint64_t timed_out = 0;
    };
    [[nodiscard]] Counters counters() const;

private:
    class ConnStream;
    void accept_loop();
    void serve(int fd, const std::string& peer, int peer_port, bool exempt);
    void reject(int fd, const char* why);
    void finished(int fd, const std::string& peer, bool exempt);

    SSL_CTX* ssl_ctx_ = nullptr;
    int listen_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: wakes the accept loop on stop
    int port_ = 0;
    ConnectionLimits limits_;
    std::thread acceptor_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mu_;
    std::condition_variable all_done_;
    std::set<int> open_fds_;
    std::map<std::string, std::size_t> per_client_;
    Counters counters_;
    friend class ConnStream;
};

}  // namespace flywall::api
