#include "config/tc_rules.hpp"

#include <charconv>
#include <cstdio>

namespace flywall::config {

namespace {

bool parse_uint(std::string_view s, unsigned long& out, int base = 10) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && p == s.data() + s.size();
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Result<PortSpan> parse_port_span(std::string_view text) {
    auto dash = text.find('-');
    std::string_view a = text.substr(0, dash), b = dash == std::string_view::npos ? a : text.substr(dash + 1);
    unsigned long lo = 0, hi = 0;
    if (!parse_uint(a, lo) || !parse_uint(b, hi) || lo > 65535 || hi > 65535)
        return Error::invalid("port \"" + std::string(text) + "\": expected PORT or LOW-HIGH (0..65535)");
    if (lo > hi) return Error::invalid("port range \"" + std::string(text) + "\": low end above high end");
    return PortSpan{static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

Result<std::uint8_t> parse_ip_proto(std::string_view text) {
    if (text == "tcp") return std::uint8_t{6};
    if (text == "udp") return std::uint8_t{17};
    if (text == "icmp") return std::uint8_t{1};
    if (text == "icmpv6") return std::uint8_t{58};
    unsigned long v = 0;
    if (parse_uint(text, v) && v <= 255) return static_cast<std::uint8_t>(v);
    return Error::invalid("protocol \"" + std::string(text) + "\": expected tcp, udp, icmp, icmpv6 or 0..255");
}

Result<std::uint32_t> parse_class_handle(std::string_view text) {
    auto colon = text.find(':');
    unsigned long major = 0, minor = 0;
    if (colon == std::string_view::npos || !parse_uint(text.substr(0, colon), major, 16) ||
        !parse_uint(text.substr(colon + 1), minor, 16) || major > 0xffff || minor > 0xffff)
        return Error::invalid("class \"" + std::string(text) + "\": expected MAJOR:MINOR in hexadecimal (e.g. 1:10)");
    return static_cast<std::uint32_t>((major << 16) | minor);
}

Result<std::vector<std::uint8_t>> parse_escaped_bytes(std::string_view text) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '\\') {
            out.push_back(static_cast<std::uint8_t>(c));
            continue;
        }
        if (++i >= text.size()) return Error::invalid("bytes: '\\' at the end");
        switch (text[i]) {
            case '\\': out.push_back('\\'); break;
            case '"': out.push_back('"'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case '0': out.push_back(0); break;
            case 'x': {
                int h = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
                int l = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
                if (h < 0 || l < 0) return Error::invalid("bytes: \\x needs two hex digits (at offset " + std::to_string(i - 1) + ")");
                out.push_back(static_cast<std::uint8_t>(h * 16 + l));
                i += 2;
                break;
            }
            default:
                return Error::invalid(std::string("bytes: unknown escape \\") + text[i] + " (at offset " +
                                      std::to_string(i - 1) + ")");
        }
    }
    return out;
}

Result<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text) {
    std::vector<std::uint8_t> out;
    int pending = -1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == ' ' || c == ':') {
            if (pending >= 0) return Error::invalid("hex: odd number of digits before offset " + std::to_string(i));
            continue;
        }
        int d = hex_digit(c);
        if (d < 0) return Error::invalid("hex: '" + std::string(1, c) + "' is not a hex digit (offset " + std::to_string(i) + ")");
        if (pending < 0) pending = d;
        else {
            out.push_back(static_cast<std::uint8_t>(pending * 16 + d));
            pending = -1;
        }
    }
    if (pending >= 0) return Error::invalid("hex: odd number of digits");
    return out;
}

Status check_pattern_length(const std::vector<std::uint8_t>& bytes) {
    if (bytes.size() < kIpsPatternMin || bytes.size() > kIpsPatternMax)
        return Error::invalid("pattern is " + std::to_string(bytes.size()) + " bytes; it must be " +
                              std::to_string(kIpsPatternMin) + " to " + std::to_string(kIpsPatternMax));
    return {};
}

Result<IpsActionConfig> parse_ips_action(std::string_view text) {
    if (text == "alert") return IpsActionConfig::Alert;
    if (text == "drop") return IpsActionConfig::Drop;
    return Error::invalid("action \"" + std::string(text) + "\": expected \"alert\" or \"drop\"");
}

const char* to_string(IpsActionConfig a) { return a == IpsActionConfig::Drop ? "drop" : "alert"; }

std::string class_handle_string(std::uint32_t classid) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%x:%x", classid >> 16, classid & 0xffff);
    return buf;
}

}  // namespace flywall::config
