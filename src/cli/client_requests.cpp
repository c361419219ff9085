#include "cli/client_requests.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "common/domain_name.hpp"
#include "core/bpf_stats.hpp"
#include "common/ip_prefix.hpp"

namespace flywall::cli {
namespace {

using nlohmann::json;

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

Result<json> ip_entries(const IpListArgs& args, bool with_ttl) {
    json entries = json::array();
    for (const auto& e : args.entries) {
        FW_TRY_ASSIGN(std::string norm, normalize_ip_entry(e));
        json entry{{"value", norm},
                   {"direction", std::string(to_string(args.direction))},
                   {"list", args.allow ? "allow" : "block"}};
        if (with_ttl && args.ttl_sec) entry["ttl"] = *args.ttl_sec;
        entries.push_back(std::move(entry));
    }
    return entries;
}

Result<json> domain_entries(const DomainListArgs& args, bool with_ttl) {
    json entries = json::array();
    for (const auto& d : args.domains) {
        FW_TRY_ASSIGN(std::string norm, normalize_domain(d));
        json entry{{"value", norm}};
        if (with_ttl && args.ttl_sec) entry["ttl"] = *args.ttl_sec;
        if (with_ttl && args.action) entry["action"] = *args.action;
        entries.push_back(std::move(entry));
    }
    return entries;
}

std::string url_encode_segment(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

std::string_view to_string(Method method) {
    switch (method) {
        case Method::Get: return "GET";
        case Method::Post: return "POST";
        case Method::Delete: return "DELETE";
    }
    return "GET";
}

std::string_view to_string(Direction direction) {
    switch (direction) {
        case Direction::Source: return "src";
        case Direction::Destination: return "dst";
        case Direction::Both: return "both";
    }
    return "src";
}

Result<std::uint64_t> parse_ttl(std::string_view text) {
    const std::string_view t = trim(text);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (ec != std::errc{} || end == t.data())
        return Error::invalid("invalid TTL '" + std::string(text) + "': expected a number of seconds or 30s/15m/2h/1d");
    const std::string_view unit = t.substr(static_cast<std::size_t>(end - t.data()));
    std::uint64_t mult = 0;
    if (unit.empty() || unit == "s") mult = 1;
    else if (unit == "m") mult = 60;
    else if (unit == "h") mult = 3600;
    else if (unit == "d") mult = 86400;
    else return Error::invalid("invalid TTL unit '" + std::string(unit) + "' in '" + std::string(text) + "': use s, m, h or d");
    if (value == 0) return Error::invalid("invalid TTL '" + std::string(text) + "': must be greater than zero");
    if (value > UINT64_MAX / mult) return Error::invalid("invalid TTL '" + std::string(text) + "': too large");
    return value * mult;
}

Result<std::string> normalize_ip_entry(std::string_view text) {
    // The one address parser (common/ip_prefix.hpp), shared with the config and the daemon.
    const std::string_view t = trim(text);
    FW_TRY_ASSIGN(IpPrefix p, parse_ip_prefix(t));
    std::string out = p.to_string();
    if (p.is_host() && t.find('/') != std::string_view::npos) out += "/" + std::to_string(p.prefix_len);
    return out;
}

Result<std::string> normalize_domain(std::string_view text) {
    // The one domain parser (common/domain_name.hpp), shared with the config and the daemon.
    return parse_domain_name(trim(text));
}

Result<ApiRequest> block_add_request(const IpListArgs& args) {
    if (args.entries.empty()) return Error::invalid("no addresses given");
    FW_TRY_ASSIGN(json entries, ip_entries(args, true));
    return ApiRequest{Method::Post, "/api/ebpf/blocklist/ips", json{{"entries", std::move(entries)}}, {}};
}

Result<ApiRequest> block_del_request(const IpListArgs& args) {
    if (args.entries.empty()) return Error::invalid("no addresses given");
    FW_TRY_ASSIGN(json entries, ip_entries(args, false));
    return ApiRequest{Method::Delete, "/api/ebpf/blocklist/ips", json{{"entries", std::move(entries)}}, {}};
}

namespace {
std::string page_query(std::uint64_t limit, const std::string& after) {
    std::string q;
    if (limit) q += "?limit=" + std::to_string(limit);
    if (!after.empty()) q += (q.empty() ? "?" : "&") + std::string("after=") + url_encode_segment(after);
    return q;
}
}  // namespace

ApiRequest block_list_request(std::uint64_t limit, const std::string& after) {
    return ApiRequest{Method::Get, "/api/ebpf/blocklist/ips" + page_query(limit, after), {}, {}};
}

ApiRequest block_import_request(std::string text, const IpListArgs& options) {
    std::string path = "/api/ebpf/blocklist/ips/import?list=" + std::string(options.allow ? "allow" : "block") +
                       "&direction=" + std::string(to_string(options.direction));
    if (options.ttl_sec) path += "&ttl=" + std::to_string(*options.ttl_sec);
    return ApiRequest{Method::Post, std::move(path), {}, std::move(text)};
}

Result<ApiRequest> domain_add_request(const DomainListArgs& args) {
    if (args.domains.empty()) return Error::invalid("no domains given");
    FW_TRY_ASSIGN(json entries, domain_entries(args, true));
    return ApiRequest{Method::Post, "/api/ebpf/blocklist/domains", json{{"entries", std::move(entries)}}, {}};
}

Result<ApiRequest> domain_del_request(const DomainListArgs& args) {
    if (args.domains.empty()) return Error::invalid("no domains given");
    FW_TRY_ASSIGN(json entries, domain_entries(args, false));
    return ApiRequest{Method::Delete, "/api/ebpf/blocklist/domains", json{{"entries", std::move(entries)}}, {}};
}

ApiRequest domain_list_request(std::uint64_t limit, const std::string& after) {
    return ApiRequest{Method::Get, "/api/ebpf/blocklist/domains" + page_query(limit, after), {}, {}};
}

ApiRequest domain_import_request(std::string text, const DomainListArgs& options) {
    std::string path = "/api/ebpf/blocklist/domains/import";
    char sep = '?';
    if (options.ttl_sec) {
        path += sep + ("ttl=" + std::to_string(*options.ttl_sec));
        sep = '&';
    }
    if (options.action) path += sep + ("action=" + url_encode_segment(*options.action));
    return ApiRequest{Method::Post, std::move(path), {}, std::move(text)};
}
ApiRequest status_request() { return ApiRequest{Method::Get, "/api/ebpf/health", {}, {}}; }
ApiRequest stats_request() { return ApiRequest{Method::Get, "/api/stats/ebpf", {}, {}}; }
ApiRequest features_request() { return ApiRequest{Method::Get, "/api/ebpf/features", {}, {}}; }

Result<ApiRequest> profile_request(std::int64_t seconds) {
    if (seconds < 1 || seconds > KernelStatsWindow::kMaxLength.count())
        return Error::invalid("--seconds must be 1.." + std::to_string(KernelStatsWindow::kMaxLength.count()));
    return ApiRequest{Method::Post, "/api/ebpf/profile?seconds=" + std::to_string(seconds), {}, {}};
}

Result<ApiRequest> feature_toggle_request(std::string_view name, bool enable, bool force) {
    if (name.empty()) return Error::invalid("feature name is empty");
    std::string path = "/api/ebpf/features/" + url_encode_segment(name) + (enable ? "/enable" : "/disable");
    if (force) path += "?force=true";
    return ApiRequest{Method::Post, std::move(path), {}, {}};
}

ApiRequest maps_request() { return ApiRequest{Method::Get, "/api/ebpf/maps", {}, {}}; }
ApiRequest hooks_request() { return ApiRequest{Method::Get, "/api/ebpf/hooks", {}, {}}; }

ApiRequest flows_request(std::optional<std::uint32_t> limit) {
    return ApiRequest{Method::Get, limit ? "/api/ebpf/flows?limit=" + std::to_string(*limit) : "/api/ebpf/flows", {}, {}};
}

ApiRequest events_request(std::optional<std::uint64_t> limit) {
    return ApiRequest{Method::Get, limit ? "/api/ebpf/events?limit=" + std::to_string(*limit) : "/api/ebpf/events", {}, {}};
}

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
    buffer_.append(bytes);
    std::vector<SseEvent> out;
    std::size_t start = 0;
    for (;;) {
        const auto nl = buffer_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(buffer_.data() + start, nl - start);
        start = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {  // dispatch
            if (has_data_) out.push_back(std::move(pending_));
            pending_ = SseEvent{};
            has_data_ = false;
            continue;
        }
        if (line.front() == ':') continue;  // comment / keep-alive
        const auto colon = line.find(':');
        const std::string_view field = line.substr(0, colon);
        std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (field == "data") {
            if (has_data_) pending_.data += '\n';
            pending_.data.append(value);
            has_data_ = true;
        } else if (field == "event") {
            pending_.event = std::string(value);
        } else if (field == "id") {
            pending_.id = std::string(value);
        }
    }
    buffer_.erase(0, start);
    return out;
}

}  // namespace flywall::cli
