// Helpers shared by the issue-3 XDP kernel tests (DNS, rate limiting, flows, events): DNS query
// construction, a fresh fast path with a given feature set, and statistics shortcuts.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/domains.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall::test {

// DNS header + question (+ optional EDNS0 OPT record in the additional section).
inline Bytes dns_query_payload(const Bytes& qname_wire, uint16_t id = 0xBEEF, uint16_t flags = 0x0100,
                               uint16_t qtype = 1, bool edns = false, uint16_t qdcount = 1) {
    Bytes b = {uint8_t(id >> 8), uint8_t(id), uint8_t(flags >> 8), uint8_t(flags), uint8_t(qdcount >> 8),
               uint8_t(qdcount), 0, 0, 0, 0, 0, uint8_t(edns ? 1 : 0)};
    b.insert(b.end(), qname_wire.begin(), qname_wire.end());
    b.insert(b.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
    if (edns) b.insert(b.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});  // OPT, 4096, no options
    return b;
}

inline Bytes wire_of(const std::string& name) {
    auto w = domain_to_wire(name);
    EXPECT_TRUE(w.ok()) << name;
    return w.ok() ? *w : Bytes{};
}

// Wire name built verbatim from labels (no validation, any case): for malformed/limit cases.
inline Bytes raw_wire(const std::vector<std::string>& labels) {
    Bytes w;
    for (const auto& l : labels) {
        w.push_back(static_cast<uint8_t>(l.size()));
        w.insert(w.end(), l.begin(), l.end());
    }
    w.push_back(0);
    return w;
}

enum class Net { V4, V6, V4Vlan, V6QinQ };

inline Bytes dns_packet(const Bytes& payload, Net net = Net::V4, uint16_t dport = 53) {
    PacketBuilder b;
    b.eth();
    if (net == Net::V4Vlan) b.vlan(10);
    if (net == Net::V6QinQ) b.vlan(20, 0x88A8).vlan(30);
    if (net == Net::V4 || net == Net::V4Vlan)
        b.ipv4("198.18.0.10", "198.18.0.53", 17);
    else
        b.ipv6("2001:db8::10", "2001:db8::53", 17);
    b.udp(40000, dport).payload(payload.data(), payload.size());
    return b.build();
}

inline XdpFastPath load_fast_path(uint32_t features) {
    auto fp = XdpFastPath::load();
    EXPECT_TRUE(fp.ok()) << fp.error().message();
    if (!fp.ok()) std::abort();
    fp->config().features = features | FW_F_STATS;
    return std::move(*fp);
}

inline fw_stats stats_of(const XdpFastPath& fp) {
    auto s = fp.stats_total();
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? *s : fw_stats{};
}

inline uint32_t run_verdict(const XdpFastPath& fp, const Bytes& pkt, Bytes* out = nullptr) {
    auto r = run_prog(fp.prog_fd(), pkt);
    EXPECT_TRUE(r.ok()) << r.error().message();
    if (!r.ok()) return 0xFFFF;
    if (out) *out = r->out;
    return r->retval;
}

}  // namespace flywall::test
