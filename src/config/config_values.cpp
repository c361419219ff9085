// The value validators of the config reader (paths, addresses, domains, interface and feature
// names) and the helpers that phrase its messages ("did you mean", numbers, quoted values).
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "common/domain_name.hpp"
#include "common/ip_prefix.hpp"
#include "config/config_internal.hpp"

namespace flywall::config::detail {

namespace {

std::size_t levenshtein(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

// "; did you mean \"x\"?" for the closest candidate within a small edit distance, else "".
std::string suggestion(std::string_view name, const std::vector<std::string>& candidates) {
    std::size_t best = std::string::npos;
    const std::string* pick = nullptr;
    for (const auto& c : candidates) {
        std::size_t d = levenshtein(name, c);
        if (d < best) {
            best = d;
            pick = &c;
        }
    }
    std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
    if (pick == nullptr || best > limit || best >= name.size()) return {};
    return "; did you mean \"" + *pick + "\"?";
}

std::string format_double(double v) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "nan";
    return std::string(buf, p);
}

// Values in messages are shown as HCL literals, so control characters stay visible.
std::string dq(std::string_view s) { return hcl::quote(s); }

// ---- validators -----------------------------------------------------------------------------

std::optional<std::string> absolute_path(std::string& v) {
    if (v.empty() || v.front() != '/') return "must be an absolute path, got " + dq(v);
    return std::nullopt;
}

std::optional<std::string> non_empty(std::string& v) {
    if (v.empty()) return std::string("must not be empty");
    return std::nullopt;
}

std::optional<std::string> ip_or_cidr(std::string& v) {
    // The one address parser (common/ip_prefix.hpp), shared with the API and the CLI.
    if (auto p = parse_ip_prefix(v); !p.ok()) return p.error().context;
    return std::nullopt;
}

// Lower-cases and drops a trailing dot. A leading "*." (every subdomain) is allowed.
std::optional<std::string> domain(std::string& v) {
    // The one domain parser (common/domain_name.hpp), shared with the API, the CLI and the
    // runtime. The config keeps a written "*." (it reads back as written), lower-cased and
    // without the trailing dot.
    auto name = parse_domain_name(v);
    if (!name.ok()) return name.error().context;
    const bool wildcard = v.size() > 2 && v.compare(0, 2, "*.") == 0;
    v = (wildcard ? "*." : "") + *name;
    return std::nullopt;
}

// True when a (valid) listen address "host:port" / "[v6]:port" is on loopback.
bool listen_is_loopback(const std::string& v) {
    std::string host = v.substr(0, v.rfind(':'));
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    return is_loopback_host(host);
}

std::optional<std::string> listen_address(std::string& v) {
    auto bad = [&](const std::string& why) {
        return "must be \"host:port\" or \"[ipv6]:port\", got " + dq(v) + " (" + why + ")";
    };
    std::string host, port;
    if (!v.empty() && v.front() == '[') {
        auto close = v.find(']');
        if (close == std::string::npos) return bad("missing ']'");
        host = v.substr(1, close - 1);
        if (close + 1 >= v.size() || v[close + 1] != ':') return bad("missing port");
        port = v.substr(close + 2);
        unsigned char buf[16];
        if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return bad("invalid IPv6 address");
    } else {
        auto colon = v.rfind(':');
        if (colon == std::string::npos) return bad("missing port");
        host = v.substr(0, colon);
        port = v.substr(colon + 1);
        if (host.find(':') != std::string::npos) return bad("IPv6 addresses must be in brackets");
        unsigned char buf[4];
        std::string h = host;
        if (host.empty()) return bad("missing host");
        if (inet_pton(AF_INET, host.c_str(), buf) != 1 && domain(h)) return bad("invalid host");
    }
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535)
        return bad("port must be 1..65535");
    return std::nullopt;
}

std::optional<std::string> interface_name(std::string& v) {
    bool bad = v.empty() || v.size() > 15 || v == "." || v == "..";
    for (char c : v)
        if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) < 0x20)
            bad = true;
    if (bad)
        return "interface name must be 1 to 15 characters without '/', ':' or spaces, got " + dq(v);
    return std::nullopt;
}

std::optional<std::string> feature_name(std::string& v) {
    if (is_known_feature(v)) return std::nullopt;
    return "unknown feature " + dq(v) + suggestion(v, feature_names());
}

}  // namespace flywall::config::detail
