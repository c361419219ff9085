// How each `flywall` client command's arguments become one API request, and the parsers for
// the list files `flywall block import` / `flywall domain import` read. Pure functions: the
// unit tests check the exact method, path and body each command sends.
#pragma once

#include "common/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flywall::cli {

enum class Method { Get, Post, Delete };
[[nodiscard]] std::string_view to_string(Method method);

struct ApiRequest {
    Method method = Method::Get;
    std::string path;                    // with query string
    std::optional<nlohmann::json> body;  // sent as application/json
    std::optional<std::string> text;     // sent as text/plain (list imports) instead of `body`
    bool operator==(const ApiRequest&) const = default;
};

// "90" / "90s" / "15m" / "2h" / "1d" -> seconds (> 0).
[[nodiscard]] Result<std::uint64_t> parse_ttl(std::string_view text);

// An IPv4/IPv6 address or CIDR, checked and returned in canonical text ("2001:DB8::1/128" ->
// "2001:db8::1/128"). Host bits beyond the prefix are cleared, as the daemon does
// ("198.18.0.7/24" -> "198.18.0.0/24").
[[nodiscard]] Result<std::string> normalize_ip_entry(std::string_view text);
// A domain: lower-cased, trailing dot removed, optional "*." prefix, at least two labels of
// 1..63 characters [a-z0-9-_], at most 253 characters (the daemon's rule).
[[nodiscard]] Result<std::string> normalize_domain(std::string_view text);

enum class Direction { Source, Destination, Both };
[[nodiscard]] std::string_view to_string(Direction direction);  // "src", "dst", "both"

struct IpListArgs {
    std::vector<std::string> entries;  // addresses / CIDRs as typed
    std::optional<std::uint64_t> ttl_sec;
    Direction direction = Direction::Source;
    bool allow = false;  // the allowlist instead of the blocklist
};
struct DomainListArgs {
    std::vector<std::string> domains;
    std::optional<std::uint64_t> ttl_sec;
    std::optional<std::string> action;  // "drop" | "nxdomain"; none = the configured dns_action
};

// POST /api/ebpf/blocklist/ips
//   {"entries":[{"value":"198.18.0.5","direction":"src","list":"block","ttl":60?}, ...]}
[[nodiscard]] Result<ApiRequest> block_add_request(const IpListArgs& args);
// DELETE /api/ebpf/blocklist/ips with the same body (without ttl).
[[nodiscard]] Result<ApiRequest> block_del_request(const IpListArgs& args);
// GET /api/ebpf/blocklist/ips
// One page of a list (the API pages them): limit 0 = the server's default; after = the "next"
// cursor printed under the previous page.
[[nodiscard]] ApiRequest block_list_request(std::uint64_t limit = 0, const std::string& after = {});
// The text of an address list file (plain / netset / CIDR lines, '#' comments), parsed by the
// daemon: POST /api/ebpf/blocklist/ips/import?list=..&direction=..[&ttl=N], text/plain.
[[nodiscard]] ApiRequest block_import_request(std::string text, const IpListArgs& options);
// POST /api/ebpf/blocklist/domains {"entries":[{"value":"ads.example.com","ttl":60?,"action"?}]}
[[nodiscard]] Result<ApiRequest> domain_add_request(const DomainListArgs& args);
[[nodiscard]] Result<ApiRequest> domain_del_request(const DomainListArgs& args);
[[nodiscard]] ApiRequest domain_list_request(std::uint64_t limit = 0, const std::string& after = {});
// A domain list or hosts file: POST /api/ebpf/blocklist/domains/import[?ttl=N][&action=A], text/plain.
[[nodiscard]] ApiRequest domain_import_request(std::string text, const DomainListArgs& options);

[[nodiscard]] ApiRequest status_request();    // GET /api/ebpf/health
[[nodiscard]] ApiRequest stats_request();     // GET /api/stats/ebpf
[[nodiscard]] ApiRequest features_request();  // GET /api/ebpf/features
// POST /api/ebpf/profile?seconds=S; S in 1..300 (checked here and by the daemon).
[[nodiscard]] Result<ApiRequest> profile_request(std::int64_t seconds);
// POST /api/ebpf/features/NAME/enable|disable[?force=true]
[[nodiscard]] Result<ApiRequest> feature_toggle_request(std::string_view name, bool enable, bool force);
[[nodiscard]] ApiRequest maps_request();   // GET /api/ebpf/maps
[[nodiscard]] ApiRequest hooks_request();  // GET /api/ebpf/hooks
[[nodiscard]] ApiRequest flows_request(std::optional<std::uint32_t> limit);  // GET /api/ebpf/flows?limit=N
// GET /api/ebpf/events[?limit=N] (server-sent events; the daemon ends the stream after N)
[[nodiscard]] ApiRequest events_request(std::optional<std::uint64_t> limit);

// Server-sent events: feed bytes as they arrive, get complete events back.
struct SseEvent {
    std::string event;  // "" when the server gave no "event:" line
    std::string data;   // "data:" lines joined with '\n'
    std::string id;
};
class SseParser {
public:
    [[nodiscard]] std::vector<SseEvent> feed(std::string_view bytes);

private:
    std::string buffer_;
    SseEvent pending_;
    bool has_data_ = false;
};

}  // namespace flywall::cli
