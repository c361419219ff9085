#include "cli/client_http.hpp"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>

namespace flywall::cli {
namespace {

// The errno a plain TCP connect to the endpoint ends with (0 if it connects), so the message
// can say "Connection refused" rather than httplib's "Connection".
int probe_connect_errno(const ApiEndpoint& ep, std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(ep.port);
    if (getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return EHOSTUNREACH;
    int err = ECONNREFUSED;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            err = 0;
        } else if (errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
            if (n == 0) {
                err = ETIMEDOUT;
            } else {
                socklen_t len = sizeof err;
                if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            }
        } else {
            err = errno;
        }
        ::close(fd);
        if (err == 0) break;
    }
    freeaddrinfo(res);
    return err;
}

httplib::Headers headers_for(const std::optional<std::string>& token) {
    httplib::Headers h{{"Accept", "application/json"}};
    if (token) h.emplace("Authorization", "Bearer " + *token);
    return h;
}

}  // namespace

std::string ApiEndpoint::display() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ApiEndpoint> parse_endpoint(std::string_view text) {
    std::string_view t = text;
    if (t.substr(0, 7) == "http://") t.remove_prefix(7);
    while (!t.empty() && t.back() == '/') t.remove_suffix(1);
    ApiEndpoint ep;
    std::string_view port;
    if (!t.empty() && t.front() == '[') {
        const auto close = t.find(']');
        if (close == std::string_view::npos)
            return Error::invalid("invalid API address '" + std::string(text) + "': missing ']'");
        ep.host = std::string(t.substr(1, close - 1));
        const std::string_view rest = t.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return Error::invalid("invalid API address '" + std::string(text) + "'");
            port = rest.substr(1);
        }
    } else {
        const auto colon = t.rfind(':');
        if (colon != std::string_view::npos && t.find(':') != colon)
            return Error::invalid("invalid API address '" + std::string(text) + "': write IPv6 as [ADDR]:PORT");
        ep.host = std::string(t.substr(0, colon));
        if (colon != std::string_view::npos) port = t.substr(colon + 1);
    }
    if (ep.host.empty()) return Error::invalid("invalid API address '" + std::string(text) + "': no host");
    if (port.empty() && t.find(':') != std::string_view::npos && t.front() != '[')
        return Error::invalid("invalid API address '" + std::string(text) + "': empty port");
    if (!port.empty()) {
        int p = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc{} || end != port.data() + port.size() || p < 1 || p > 65535)
            return Error::invalid("invalid API address '" + std::string(text) + "': port must be 1..65535");
        ep.port = p;
    }
    return ep;
}

Result<std::string> read_token_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error::from_errno(errno ? errno : ENOENT, "read API token file " + path);
    std::string line;
    std::getline(in, line);
    const auto first = line.find_first_not_of(" \t\r");
    const auto last = line.find_last_not_of(" \t\r");
    if (first == std::string::npos) return Error::invalid("API token file " + path + " is empty");
    return line.substr(first, last - first + 1);
}

ApiClient::ApiClient(ApiEndpoint endpoint, std::optional<std::string> token, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), token_(std::move(token)), timeout_(timeout) {}

Error ApiClient::unreachable(std::string_view what) const {
    const int err = probe_connect_errno(endpoint_, std::min(timeout_, std::chrono::milliseconds(2000)));
    Error e{};
    e.context = "cannot reach flywall API at " + endpoint_.display();
    if (err != 0) e.code = std::error_code(err, std::generic_category());
    else e.detail = std::string(what);  // the port answers but the HTTP exchange failed
    return e;
}

Result<ApiResponse> ApiClient::send(const ApiRequest& request) const {
    httplib::Client cli(endpoint_.host, endpoint_.port);
    cli.set_connection_timeout(std::min(timeout_, std::chrono::milliseconds(3000)));
    cli.set_read_timeout(timeout_);
    cli.set_write_timeout(timeout_);
    const auto headers = headers_for(token_);
    const std::string body = request.text ? *request.text : request.body ? request.body->dump() : std::string{};
    const char* const content_type = request.text ? "text/plain" : "application/json";
    httplib::Result res = [&] {
        switch (request.method) {
            case Method::Post: return cli.Post(request.path.c_str(), headers, body, content_type);
            case Method::Delete: return cli.Delete(request.path.c_str(), headers, body, content_type);
            case Method::Get: break;
        }
        return cli.Get(request.path.c_str(), headers);
    }();
    if (!res) return unreachable("HTTP " + std::string(to_string(request.method)) + " " + request.path +
                                 " failed: " + httplib::to_string(res.error()));
    return ApiResponse{res->status, res->body};
}

Result<ApiResponse> ApiClient::stream(const std::string& path, const std::function<bool(const SseEvent&)>& on_event,
                                      std::optional<std::chrono::steady_clock::time_point> deadline) const {
    httplib::Client cli(endpoint_.host, endpoint_.port);
    cli.set_connection_timeout(3, 0);
    // Between events the stream may stay silent for long; only a deadline bounds it.
    std::chrono::seconds read_timeout(24 * 3600);
    if (deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::seconds>(*deadline - std::chrono::steady_clock::now());
        read_timeout = std::max(left + std::chrono::seconds(1), std::chrono::seconds(1));
    }
    cli.set_read_timeout(read_timeout.count(), 0);
    auto headers = headers_for(token_);
    headers.erase("Accept");
    headers.emplace("Accept", "text/event-stream");
    int status = 0;
    std::string error_body;
    bool stopped = false;
    SseParser parser;
    httplib::Result res = cli.Get(
        path.c_str(), headers,
        [&](const httplib::Response& r) {
            status = r.status;
            return true;
        },
        [&](const char* data, size_t len) {
            if (status < 200 || status >= 300) {
                error_body.append(data, len);
                return true;
            }
            for (const SseEvent& ev : parser.feed(std::string_view(data, len))) {
                if (!on_event(ev)) {
                    stopped = true;
                    return false;
                }
            }
            if (deadline && std::chrono::steady_clock::now() >= *deadline) {
                stopped = true;
                return false;
            }
            return true;
        });
    if (stopped) return ApiResponse{200, {}};
    if (!res) {
        if (status != 0 && deadline && std::chrono::steady_clock::now() >= *deadline) return ApiResponse{200, {}};
        if (status != 0 && (status < 200 || status >= 300)) return ApiResponse{status, error_body};
        return unreachable("event stream " + path + " failed: " + httplib::to_string(res.error()));
    }
    return ApiResponse{res->status, status >= 200 && status < 300 ? std::string{} : error_body};
}

}  // namespace flywall::cli
