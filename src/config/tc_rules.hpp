// QoS rules and IPS patterns as the configuration and the API write them, and the parsers of
// their text forms. Pure functions (no kernel types): the config schema, the HTTP API and the
// unit tests share them; core/tc_rules.hpp turns them into TC classifier rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace flywall::config {

struct PortSpan {
    std::uint16_t lo = 0, hi = 65535;
    bool operator==(const PortSpan&) const = default;
};

// qos { rule "name" { proto = "tcp"; dport = "5000-5100"; dscp = 46; class = "1:10";
//                     priority = N; set_dscp = N } }
struct QosRuleConfig {
    std::string name;
    std::optional<std::uint8_t> proto;   // IP protocol number
    std::optional<PortSpan> sport;
    std::optional<PortSpan> dport;
    std::optional<std::uint8_t> dscp;    // match, 0..63
    std::uint32_t classid = 0;           // (major << 16) | minor
    std::uint32_t priority = 0;          // skb->priority; 0 = classid
    std::optional<std::uint8_t> set_dscp;
    bool operator==(const QosRuleConfig&) const = default;
};

enum class IpsActionConfig { Alert, Drop };

// ips { pattern "name" { bytes = "GET /\x00admin" (or hex = "474554"); action = "drop";
//                        proto = "tcp"; port = 80 } }
struct IpsPatternConfig {
    std::string name;
    std::vector<std::uint8_t> bytes;     // 2..32
    IpsActionConfig action = IpsActionConfig::Alert;
    std::uint8_t proto = 0;              // 0 = TCP and UDP
    std::uint16_t port = 0;              // 0 = any
    bool operator==(const IpsPatternConfig&) const = default;
};

inline constexpr std::size_t kIpsPatternMin = 2, kIpsPatternMax = 32;

// "80" or "5000-5100" (lo <= hi).
Result<PortSpan> parse_port_span(std::string_view text);
// "tcp", "udp", "icmp", "icmpv6" or a number 0..255.
Result<std::uint8_t> parse_ip_proto(std::string_view text);
// tc(8) class handle "MAJOR:MINOR", both hexadecimal 0..ffff ("1:10" = major 1, minor 0x10).
Result<std::uint32_t> parse_class_handle(std::string_view text);
// Text with C escapes: \xHH, \\, \", \n, \r, \t, \0. Anything else after '\' is an error.
Result<std::vector<std::uint8_t>> parse_escaped_bytes(std::string_view text);
// Hex digits, optionally separated by spaces or ':' ("474554", "47 45 54").
Result<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text);
// 2..32 bytes (what the TC classifier can match).
Status check_pattern_length(const std::vector<std::uint8_t>& bytes);
Result<IpsActionConfig> parse_ips_action(std::string_view text);
[[nodiscard]] const char* to_string(IpsActionConfig a);
[[nodiscard]] std::string class_handle_string(std::uint32_t classid);  // "1:10"

}  // namespace flywall::config
