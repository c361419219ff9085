// The one parser of IP addresses and CIDR prefixes, used by the config, the API and the CLI.
//
// Accepted: "A.B.C.D", "A.B.C.D/N" (0..32), an IPv6 address in any form inet_pton(3) takes,
// optionally "/N" (0..128). Strict: the text is exactly that (no spaces, no NUL or other bytes
// after the address, no zone "%eth0", no leading zeros in the prefix length beyond three digits).
// IPv4-mapped IPv6 ("::ffff:198.18.10.6", "::ffff:198.18.0.0/112") is the IPv4 address it maps:
// the datapath sees IPv4 packets, so a mapped entry stored as IPv6 would never match; a mapped
// prefix shorter than /96 also covers non-mapped addresses and is rejected. Host bits of a
// CIDR are cleared ("198.18.0.7/24" is 198.18.0.0/24).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/text.hpp"

namespace flywall {

// An address or CIDR prefix with host bits cleared.
struct IpPrefix {
    uint8_t family = 4;              // 4 or 6
    uint8_t prefix_len = 32;         // 0..32 or 0..128
    std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes

    bool is_host() const { return prefix_len == (family == 4 ? 32 : 128); }
    // "198.18.0.1", "198.18.0.0/24", "2001:db8::/48"
    std::string to_string() const {
        char buf[INET6_ADDRSTRLEN] = {};
        if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf))) return "?";
        std::string s = buf;
        if (!is_host()) s += "/" + std::to_string(prefix_len);
        return s;
    }
    friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

inline void clear_host_bits(IpPrefix& p) {
    const size_t bytes = p.family == 4 ? 4 : 16;
    for (size_t i = 0; i < bytes; ++i) {
        int keep = static_cast<int>(p.prefix_len) - static_cast<int>(i * 8);
        if (keep >= 8) continue;
        p.addr[i] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xFF << (8 - keep));
    }
    for (size_t i = bytes; i < 16; ++i) p.addr[i] = 0;
}

// Parses text as described above. Errors (EINVAL) quote the input through text::safe.
inline Result<IpPrefix> parse_ip_prefix(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return Error::invalid("invalid IP address or CIDR \"" + text::safe(text) + "\": " + why);
    };
    if (text.empty()) return bad("empty");
    if (text.size() > INET6_ADDRSTRLEN + 4) return bad("too long");
    for (char c : text) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
                        c == ':' || c == '/';
        if (!ok) return bad("not an IPv4 or IPv6 address (unexpected character '" + text::safe(std::string_view(&c, 1)) + "')");
    }
    std::string_view addr_part = text, len_part;
    bool has_len = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr_part = text.substr(0, slash);
        len_part = text.substr(slash + 1);
        has_len = true;
    }
    IpPrefix p;
    const std::string addr_str(addr_part);
    if (addr_str.find(':') != std::string::npos) {
        p.family = 6;
        if (inet_pton(AF_INET6, addr_str.c_str(), p.addr.data()) != 1) return bad("not an IPv6 address");
    } else {
        p.family = 4;
        if (inet_pton(AF_INET, addr_str.c_str(), p.addr.data()) != 1) return bad("not an IPv4 address");
    }
    unsigned max_len = p.family == 4 ? 32 : 128;
    unsigned n = max_len;
    if (has_len) {
        if (len_part.empty() || len_part.size() > 3) return bad("prefix length must be a number");
        n = 0;
        for (char c : len_part) {
            if (c < '0' || c > '9') return bad("prefix length must be a number");
            n = n * 10 + static_cast<unsigned>(c - '0');
        }
        if (n > max_len) return bad(p.family == 4 ? "prefix length must be 0..32" : "prefix length must be 0..128");
    }
    p.prefix_len = static_cast<uint8_t>(n);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (p.family == 6 && std::equal(kMapped, kMapped + 12, p.addr.begin())) {
        if (n < 96) return bad("an IPv4-mapped prefix shorter than /96 covers addresses that are not IPv4");
        IpPrefix v4;
        v4.family = 4;
        v4.prefix_len = static_cast<uint8_t>(n - 96);
        std::copy(p.addr.begin() + 12, p.addr.end(), v4.addr.begin());
        p = v4;
    }
    clear_host_bits(p);
    return p;
}

// True for "localhost" and for addresses in 127.0.0.0/8 or ::1 (also IPv4-mapped): the hosts an
// API listener may use without TLS.
inline bool is_loopback_host(std::string_view host) {
    if (host == "localhost") return true;
    auto p = parse_ip_prefix(host);
    if (!p.ok() || !p->is_host()) return false;
    if (p->family == 4) return p->addr[0] == 127;
    static constexpr std::array<uint8_t, 16> kLoopback6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return p->addr == kLoopback6;
}

}  // namespace flywall
