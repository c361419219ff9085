// The HTTP side of the `flywall` client commands: one request to the daemon's API, or a
// server-sent-event stream. A transport failure (nothing listening, timeout) is an Error whose
// context says which address could not be reached; an HTTP error status is not an Error here:
// the caller decides what a 4xx means.
#pragma once

#include "cli/client_requests.hpp"
#include "common/result.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace flywall::cli {

struct ApiEndpoint {
    std::string host;  // without brackets for IPv6
    int port = 8080;
    [[nodiscard]] std::string display() const;  // "127.0.0.1:8080", "[::1]:8080"
    bool operator==(const ApiEndpoint&) const = default;
};

// "HOST:PORT", "[V6]:PORT", "HOST" (port 8080), with an optional "http://" prefix.
[[nodiscard]] Result<ApiEndpoint> parse_endpoint(std::string_view text);

struct ApiResponse {
    int status = 0;
    std::string body;
};

// The API token from a token file: its first line, surrounding whitespace removed.
[[nodiscard]] Result<std::string> read_token_file(const std::string& path);

class ApiClient {
public:
    ApiClient(ApiEndpoint endpoint, std::optional<std::string> token,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

    [[nodiscard]] Result<ApiResponse> send(const ApiRequest& request) const;

    // GET `path` as an event stream; `on_event(data)` per event, return false to stop. Stops
    // after `deadline` if given. A non-2xx answer is returned as the response (its body read);
    // a stream ended by on_event or the deadline gives status 200.
    [[nodiscard]] Result<ApiResponse> stream(const std::string& path,
                                             const std::function<bool(const SseEvent&)>& on_event,
                                             std::optional<std::chrono::steady_clock::time_point> deadline) const;

    [[nodiscard]] const ApiEndpoint& endpoint() const { return endpoint_; }

private:
    // "cannot reach flywall API at HOST:PORT" with the connect() errno when one can be found.
    [[nodiscard]] Error unreachable(std::string_view what) const;

    ApiEndpoint endpoint_;
    std::optional<std::string> token_;
    std::chrono::milliseconds timeout_;
};

}  // namespace flywall::cli
