#include "api/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/text.hpp"

namespace flywall::api {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return 0;
    return left > 1000000 ? 1000000 : static_cast<int>(left);
}

// Waits for events on fd until deadline; true when ready (or hung up: the next call reports it).
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
}

int port_of(const sockaddr_storage& ss) {
    return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port
                                          : reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

std::string peer_address(const sockaddr_storage& ss, bool& loopback) {
    char buf[INET6_ADDRSTRLEN] = {};
    loopback = false;
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                   (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    }
    return buf;
}

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

}  // namespace

// One connection's byte stream for httplib: buffered reads under the request deadline, writes
// under the no-progress timeout, plain or TLS, and a cap on the request line + headers.
class HardenedHttpServer::ConnStream final : public httplib::Stream {
public:
    ConnStream(HardenedHttpServer& owner, int fd, SSL* ssl, std::string peer, int peer_port)
        : owner_(owner), fd_(fd), ssl_(ssl), peer_(std::move(peer)), peer_port_(peer_port) {}

    // A new request begins: its deadline and header budget start now.
    void begin_request() {
        deadline_ = Clock::now() + owner_.limits_.request_timeout;
        header_bytes_ = 0;
        in_headers_ = true;
        tail_ = 0;
    }
    bool timed_out() const { return timed_out_; }
    bool buffered() const { return pos_ < len_ || (ssl_ && SSL_pending(ssl_) > 0); }

    bool is_readable() const override { return buffered() || wait_for(fd_, POLLIN, deadline_); }
    bool is_writable() const override {
        return !owner_.stopping() && wait_for(fd_, POLLOUT, Clock::now() + owner_.limits_.write_timeout);
    }

    ssize_t read(char* ptr, size_t size) override {
        if (size == 0) return 0;
        if (pos_ >= len_) {
            if (size >= sizeof buf_) return account(ptr, raw_read(ptr, size));
            ssize_t n = raw_read(buf_, sizeof buf_);
            if (n <= 0) return n;
            pos_ = 0;
            len_ = static_cast<size_t>(n);
        }
        size_t n = std::min(size, len_ - pos_);
        std::memcpy(ptr, buf_ + pos_, n);
        pos_ += n;
        return account(ptr, static_cast<ssize_t>(n));
    }

    ssize_t write(const char* ptr, size_t size) override {
        size_t done = 0;
        while (done < size) {
            if (owner_.stopping()) return -1;
            const auto deadline = Clock::now() + owner_.limits_.write_timeout;
            ssize_t n;
            if (ssl_) {
                ERR_clear_error();
                int r = SSL_write(ssl_, ptr + done, static_cast<int>(std::min<size_t>(size - done, 1 << 20)));
                if (r > 0) {
                    n = r;
                } else {
                    int e = SSL_get_error(ssl_, r);
                    if ((e == SSL_ERROR_WANT_WRITE && wait_for(fd_, POLLOUT, deadline)) ||
                        (e == SSL_ERROR_WANT_READ && wait_for(fd_, POLLIN, deadline)))
                        continue;
                    return -1;
                }
            } else {
                n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd_, POLLOUT, deadline)) continue;
                    return -1;
                }
            }
            done += static_cast<size_t>(n);
        }
        return static_cast<ssize_t>(done);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = peer_;
        port = peer_port_;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ip.clear();
        port = -1;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
        bool lo = false;
        ip = peer_address(ss, lo);
        port = port_of(ss);
    }
    socket_t socket() const override { return fd_; }

private:
    // Reads under the request deadline; -1 on timeout, error or stop.
    ssize_t raw_read(char* ptr, size_t size) {
        for (;;) {
            if (owner_.stopping()) return -1;
            if (Clock::now() >= deadline_) {
                timed_out_ = true;
                return -1;
            }
            if (ssl_) {
                ERR_clear_error();
                int r = SSL_read(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 20)));
                if (r > 0) return r;
                int e = SSL_get_error(ssl_, r);
                if (e == SSL_ERROR_ZERO_RETURN) return 0;
                if (e == SSL_ERROR_WANT_READ) {
                    wait_for(fd_, POLLIN, deadline_);
                    continue;
                }
                if (e == SSL_ERROR_WANT_WRITE) {
                    wait_for(fd_, POLLOUT, deadline_);
                    continue;
                }
                return -1;
            }
            ssize_t n = ::recv(fd_, ptr, size, 0);
            if (n >= 0) return n;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            wait_for(fd_, POLLIN, deadline_);
        }
    }

    // Counts request-line and header bytes until the blank line that ends them (CRLF CRLF, or
    // LF LF, which httplib also accepts); past max_header_bytes the read fails.
    ssize_t account(const char* p, ssize_t n) {
        if (n <= 0 || !in_headers_) return n;
        for (ssize_t i = 0; i < n; ++i) {
            tail_ = (tail_ << 8) | static_cast<unsigned char>(p[i]);
            if ((tail_ & 0xFFFF) == 0x0A0A || (tail_ & 0xFFFFFF) == 0x0A0D0A) {
                in_headers_ = false;
                return n;
            }
            if (++header_bytes_ > owner_.limits_.max_header_bytes) return -1;
        }
        return n;
    }

    HardenedHttpServer& owner_;
    int fd_;
    SSL* ssl_;
    std::string peer_;
    int peer_port_;
    Clock::time_point deadline_ = Clock::now();
    bool timed_out_ = false;
    std::size_t header_bytes_ = 0;
    bool in_headers_ = true;
    std::uint32_t tail_ = 0;
    char buf_[4096];
    size_t pos_ = 0;
    size_t len_ = 0;
};

HardenedHttpServer::HardenedHttpServer() = default;

HardenedHttpServer::~HardenedHttpServer() {
    stop();
    if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
}

Status HardenedHttpServer::enable_tls(const TlsFiles& files) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return Error::from_errno(ENOMEM, "TLS: " + openssl_error());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
        std::string why = openssl_error();
        SSL_CTX_free(ctx);
        return Error::invalid("TLS certificate " + text::safe(files.cert_file) + ": " + why);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        std::string why = openssl_error();
        SSL_CTX_free(ctx);
        return Error::invalid("TLS key " + text::safe(files.key_file) + ": " + why);
    }
    if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
    ssl_ctx_ = ctx;
    return {};
}

Status HardenedHttpServer::start(const std::string& host, int port, ConnectionLimits limits) {
    limits_ = limits;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string where = host + ":" + std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
        return Error::from_errno(EADDRNOTAVAIL, "resolve API address " + where + ": " + gai_strerror(rc));
    int err = EADDRNOTAVAIL;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int yes = 1;
        // SO_REUSEADDR only: SO_REUSEPORT would let a second daemon share the port.
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (ai->ai_family == AF_INET6) {
            int no = 0;
            ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
        }
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
            listen_fd_ = fd;
            break;
        }
        err = errno;
        ::close(fd);
    }
    ::freeaddrinfo(res);
    if (listen_fd_ < 0) return Error::from_errno(err, "bind API to " + where);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = port_of(ss);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        int e = errno;
        ::close(listen_fd_);
        listen_fd_ = -1;
        return Error::from_errno(e, "eventfd for the API listener");
    }
    // httplib ends chunked responses (event streams) when svr_sock_ is invalid: it stands for
    // "the server is running" there, so it mirrors our listener.
    svr_sock_ = listen_fd_;
    acceptor_ = std::thread([this] { accept_loop(); });
    return {};
}

void HardenedHttpServer::accept_loop() {
    while (!stopping_.load()) {
        pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        int rc = ::poll(p, 2, -1);
        if (rc < 0) {
            if (errno == EINTR) continue;
            spdlog::error("api: poll on the listener: {}", std::strerror(errno));
            return;
        }
        if (stopping_.load() || (p[1].revents & POLLIN)) return;
        if (!(p[0].revents & POLLIN)) continue;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {  // out of descriptors: back off, do not spin
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            continue;
        }
        bool loopback = false;
        std::string peer = peer_address(ss, loopback);
        const int peer_port = port_of(ss);
        {
            std::lock_guard lk(mu_);
            if (open_fds_.size() >= limits_.max_connections) {
                ++counters_.rejected_total_limit;
                reject(fd, "too many open API connections");
                continue;
            }
            if (!loopback && per_client_[peer] >= limits_.max_per_client) {
                ++counters_.rejected_client_limit;
                reject(fd, "too many open API connections from this address");
                continue;
            }
            if (!loopback) ++per_client_[peer];
            open_fds_.insert(fd);
            ++counters_.accepted;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::thread([this, fd, peer = std::move(peer), peer_port, loopback] { serve(fd, peer, peer_port, loopback); })
            .detach();
    }
}

// Over a limit: a short plain-HTTP 503 (best effort, never blocks) and close. TLS listeners
// just close: answering would need a handshake, which is what the limit protects.
void HardenedHttpServer::reject(int fd, const char* why) {
    if (!ssl_ctx_) {
        std::string body = text::json_text(nlohmann::json{{"error", why}, {"field", nullptr}});
        std::string msg = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          "Retry-After: 1\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
        [[maybe_unused]] ssize_t n = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd);
}

void HardenedHttpServer::serve(int fd, const std::string& peer, int peer_port, bool exempt) {
    SSL* ssl = nullptr;
    bool ok = true;
    if (ssl_ctx_) {
        ssl = SSL_new(ssl_ctx_);
        ok = ssl && SSL_set_fd(ssl, fd) == 1;
        const auto deadline = Clock::now() + limits_.request_timeout;
        while (ok) {
            ERR_clear_error();
            int r = SSL_accept(ssl);
            if (r == 1) break;
            int e = SSL_get_error(ssl, r);
            if (stopping_.load()) ok = false;
            else if (e == SSL_ERROR_WANT_READ) ok = wait_for(fd, POLLIN, deadline);
            else if (e == SSL_ERROR_WANT_WRITE) ok = wait_for(fd, POLLOUT, deadline);
            else ok = false;
        }
    }
    if (ok) {
        ConnStream strm(*this, fd, ssl, peer, peer_port);
        for (std::size_t n = 0; n < limits_.max_requests_per_connection && !stopping_.load(); ++n) {
            // Keep-alive: wait for the first byte of the next request at most idle_timeout.
            if (n > 0 && !strm.buffered() && !wait_for(fd, POLLIN, Clock::now() + limits_.idle_timeout)) break;
            strm.begin_request();
            bool closed = false;
            const bool last = n + 1 == limits_.max_requests_per_connection;
            try {
                if (!process_request(strm, last, closed, nullptr) || closed) break;
            } catch (const std::exception& e) {
                // Handlers report their own errors; this is a last guard so that no request can
                // end the process.
                spdlog::warn("api: request from {} failed: {}", text::safe(peer), text::safe(e.what()));
                break;
            }
        }
        if (strm.timed_out()) {
            std::lock_guard lk(mu_);
            ++counters_.timed_out;
        }
    }
    if (ssl) {
        if (ok && !stopping_.load()) SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    finished(fd, peer, exempt);
}

void HardenedHttpServer::finished(int fd, const std::string& peer, bool exempt) {
    std::lock_guard lk(mu_);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    open_fds_.erase(fd);
    if (!exempt) {
        auto it = per_client_.find(peer);
        if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    }
    if (open_fds_.empty()) all_done_.notify_all();
}

HardenedHttpServer::Counters HardenedHttpServer::counters() const {
    std::lock_guard lk(mu_);
    Counters c = counters_;
    c.open = open_fds_.size();
    return c;
}

void HardenedHttpServer::stop() {
    if (stopping_.exchange(true)) {
        // A second caller still waits for the first to finish.
        std::unique_lock lk(mu_);
        all_done_.wait(lk, [&] { return open_fds_.empty(); });
        return;
    }
    if (wake_fd_ >= 0) {
        std::uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    }
    svr_sock_ = INVALID_SOCKET;
    if (acceptor_.joinable()) acceptor_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    std::unique_lock lk(mu_);
    // Every blocked read or write returns at once on a shut-down socket; the fds stay open (and
    // so cannot be reused) until their threads close them.
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    if (!all_done_.wait_for(lk, std::chrono::seconds(2), [&] { return open_fds_.empty(); }))
        spdlog::warn("api: {} connection(s) still finishing a request after stop", open_fds_.size());
    all_done_.wait(lk, [&] { return open_fds_.empty(); });
}

}  // namespace flywall::api
