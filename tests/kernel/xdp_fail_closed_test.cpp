// Fail closed (DESIGN.md, security rules): a packet xdp_blocklist cannot fully parse is still
// checked against the address lists as soon as its IP header has given up the addresses; only a
// packet from an unlisted source (or one whose addresses are unknown) gets the malformed verdict.
//
// Regression for issue 8, defect 3: a blocked IPv6 source passed with five extension headers
// (more than the parser followed), and a truncated TCP/UDP header after a valid IP header let a
// blocked source through the same way, because the malformed verdict (default pass) was applied
// before the lists ran.
#include <gtest/gtest.h>

#include <bpf/libbpf.h>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/events_decode.hpp"
#include "runtime/iplists.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

constexpr const char* kBlocked4 = "198.18.0.66";
constexpr const char* kBlockedNet4 = "198.18.40.0/24";
constexpr const char* kInBlockedNet4 = "198.18.40.9";
constexpr const char* kAllowed4 = "198.18.0.77";
constexpr const char* kOpen4 = "198.18.0.1";
constexpr const char* kDst4 = "198.18.1.1";
constexpr const char* kBlockedDst4 = "198.18.1.66";
constexpr const char* kBlocked6 = "2001:db8::66";
constexpr const char* kBlockedNet6 = "2001:db8:40::/48";
constexpr const char* kInBlockedNet6 = "2001:db8:40::9";
constexpr const char* kAllowed6 = "2001:db8::77";
constexpr const char* kOpen6 = "2001:db8::1";
constexpr const char* kDst6 = "2001:db8:1::1";
constexpr const char* kBlockedDst6 = "2001:db8:1::66";

constexpr uint8_t kHop = 0, kRouting = 43, kFrag = 44, kDstOpts = 60;
constexpr uint8_t kTcp = 6, kUdp = 17;

// IPv6 / n extension headers (hop-by-hop, then destination options, routing and first-fragment
// headers in turn) / UDP. Lengths vary (0..2 extra 8-byte units) so offsets are not all equal.
Bytes ext_chain6(const char* src, const char* dst, int n) {
    static const uint8_t cycle[] = {kDstOpts, kRouting, kFrag, kDstOpts};
    PacketBuilder b;
    b.eth().ipv6(src, dst, kUdp);
    for (int i = 0; i < n; ++i) {
        uint8_t type = i == 0 ? kHop : cycle[i % 4];
        if (type == kFrag) b.ipv6_frag(kUdp, 0, true);
        else b.ipv6_ext(type, kUdp, static_cast<uint8_t>(i % 3));
    }
    return b.udp(1000, 53).build();
}

// IPv4 or IPv6 / TCP or UDP, cut `short_by` bytes before the end of the L4 header.
Bytes truncated_l4(const char* src, const char* dst, bool v6, uint8_t proto, size_t short_by) {
    PacketBuilder b;
    b.eth();
    if (v6) b.ipv6(src, dst, proto);
    else b.ipv4(src, dst, proto);
    if (proto == kTcp) b.tcp(1000, 80);
    else b.udp(1000, 53);
    Bytes f = b.build();
    f.resize(f.size() - short_by);
    return f;
}

IpPrefix P(const char* s) {
    auto p = parse_ip_prefix(s);
    EXPECT_TRUE(p.ok()) << s;
    return p.ok() ? *p : IpPrefix{};
}

class XdpFailClosed : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto fp = XdpFastPath::load();
        ASSERT_TRUE(fp.ok()) << fp.error().message();
        fp_.emplace(std::move(*fp));
        lists_.emplace(*fp_);
        for (const char* a : {kBlocked4, kBlockedNet4, kBlocked6, kBlockedNet6})
            ASSERT_TRUE(lists_->add(a, IpListKind::Block).ok()) << a;
        for (const char* a : {kBlockedDst4, kBlockedDst6})
            ASSERT_TRUE(lists_->add(a, IpListKind::Block, MatchDir::Dst).ok()) << a;
        for (const char* a : {kAllowed4, kAllowed6}) ASSERT_TRUE(lists_->add(a, IpListKind::Allow).ok()) << a;
    }
    // Verdict of one run, statistics reset before it.
    uint32_t run(const Bytes& frame) {
        EXPECT_TRUE(fp_->reset_stats().ok());
        auto r = run_prog(fp_->prog_fd(), frame);
        EXPECT_TRUE(r.ok()) << r.error().message();
        return r.ok() ? r->retval : 0xFFFFFFFFu;
    }
    fw_stats stats() {
        auto s = fp_->stats_total();
        EXPECT_TRUE(s.ok()) << s.error().message();
        return s.ok() ? *s : fw_stats{};
    }
    uint64_t hits(const char* text, IpListKind list) {
        auto e = lists_->get(P(text), list);
        EXPECT_TRUE(e.ok() && e->has_value()) << text;
        return e.ok() && e->has_value() ? (*e)->hits : ~0ull;
    }
    uint64_t malformed_total(const fw_stats& s) {
        uint64_t n = 0;
        for (auto v : s.malformed) n += v;
        return n;
    }
    // Dropped as a blocklist hit, whatever the malformed verdict, and never as malformed.
    void expect_blocked(const Bytes& frame, const std::string& what) {
        for (uint32_t verdict : {FW_VERDICT_PASS, FW_VERDICT_DROP}) {
            fp_->config().malformed_verdict = verdict;
            EXPECT_EQ(run(frame), XDP_DROP) << what << " (malformed_verdict " << verdict << ")";
            auto st = stats();
            EXPECT_EQ(st.blocklist_hits, 1u) << what;
            EXPECT_EQ(st.drop_reason[FW_DROP_IP_BLOCKLIST], 1u) << what;
            EXPECT_EQ(st.drop_reason[FW_DROP_MALFORMED], 0u) << what;
            EXPECT_EQ(st.dropped, 1u) << what;
        }
        fp_->config().malformed_verdict = FW_VERDICT_PASS;
    }
    std::optional<XdpFastPath> fp_;
    std::optional<IpLists> lists_;
};

// The reported defect: 5 headers, and chains well past any limit the parser might follow.
TEST_F(XdpFailClosed, BlockedIpv6SourceDroppedWithManyExtensionHeaders) {
    for (int n : {5, 6, 8, 9, 10, 16}) {
        std::string what = std::to_string(n) + " extension headers";
        uint64_t before = hits(kBlocked6, IpListKind::Block);
        expect_blocked(ext_chain6(kBlocked6, kDst6, n), what);
        EXPECT_EQ(hits(kBlocked6, IpListKind::Block), before + 2) << what;  // one per verdict setting
        expect_blocked(ext_chain6(kInBlockedNet6, kDst6, n), what + ", CIDR source");
        expect_blocked(ext_chain6(kOpen6, kBlockedDst6, n), what + ", blocked destination");
    }
    // 100 of 100 packets of the report arrived; now none does.
    fp_->config().malformed_verdict = FW_VERDICT_PASS;
    Bytes five = ext_chain6(kBlocked6, kDst6, 5);
    ASSERT_TRUE(fp_->reset_stats().ok());
    for (int i = 0; i < 100; ++i) {
        auto r = run_prog(fp_->prog_fd(), five);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->retval, XDP_DROP);
    }
    EXPECT_EQ(stats().drop_reason[FW_DROP_IP_BLOCKLIST], 100u);
}

TEST_F(XdpFailClosed, BlockedSourceDroppedWithTruncatedTransportHeader) {
    for (bool v6 : {false, true}) {
        for (uint8_t proto : {kTcp, kUdp}) {
            size_t l4_len = proto == kTcp ? 20 : 8;
            for (size_t short_by : {size_t{1}, l4_len / 2, l4_len}) {
                std::string what = std::string(v6 ? "IPv6" : "IPv4") + (proto == kTcp ? " TCP" : " UDP") +
                                   " header short by " + std::to_string(short_by);
                Bytes f = truncated_l4(v6 ? kBlocked6 : kBlocked4, v6 ? kDst6 : kDst4, v6, proto, short_by);
                expect_blocked(f, what);
                EXPECT_EQ(stats().malformed[FW_MAL_L4], 1u) << what << ": still counted as malformed";
                expect_blocked(truncated_l4(v6 ? kInBlockedNet6 : kInBlockedNet4, v6 ? kDst6 : kDst4, v6, proto,
                                            short_by),
                               what + ", CIDR source");
                expect_blocked(truncated_l4(v6 ? kOpen6 : kOpen4, v6 ? kBlockedDst6 : kBlockedDst4, v6, proto,
                                            short_by),
                               what + ", blocked destination");
            }
        }
    }
}

TEST_F(XdpFailClosed, BlockedIpv4SourceDroppedWithTruncatedOptions) {
    // IHL says 60 bytes; the frame ends after the fixed 20: the addresses are there.
    Bytes f = PacketBuilder().eth().ipv4(kBlocked4, kDst4, kTcp, 40).tcp(1, 2).build();
    f.resize(14 + 20 + 8);
    expect_blocked(f, "IPv4 options cut short");
    EXPECT_EQ(stats().malformed[FW_MAL_IPV4], 1u);
}

TEST_F(XdpFailClosed, BlockedIpv6SourceDroppedWithTruncatedExtensionHeader) {
    Bytes f = ext_chain6(kBlocked6, kDst6, 3);
    f.resize(14 + 40 + 8 + 3);  // inside the second extension header
    expect_blocked(f, "IPv6 extension header cut short");
    EXPECT_EQ(stats().malformed[FW_MAL_IPV6_EXT], 1u);
}

TEST_F(XdpFailClosed, AllowlistedSourcePassesWithTooManyExtensionHeaders) {
    fp_->config().malformed_verdict = FW_VERDICT_DROP;  // allowlisted wins over the malformed verdict
    for (int n : {5, 10, 16}) {
        EXPECT_EQ(run(ext_chain6(kAllowed6, kDst6, n)), XDP_PASS) << n;
        auto st = stats();
        EXPECT_EQ(st.allowlist_hits, 1u) << n;
        EXPECT_EQ(st.passed, 1u) << n;
        EXPECT_EQ(st.drop_reason[FW_DROP_MALFORMED], 0u) << n;
    }
    EXPECT_EQ(run(truncated_l4(kAllowed4, kDst4, false, kTcp, 5)), XDP_PASS);
    EXPECT_EQ(stats().allowlist_hits, 1u);
    // Allowed before blocked, as for parsed packets: allowlisted source to a blocked destination.
    EXPECT_EQ(run(ext_chain6(kAllowed6, kBlockedDst6, 12)), XDP_PASS);
    EXPECT_EQ(hits(kAllowed6, IpListKind::Allow), 4u);
}

TEST_F(XdpFailClosed, UnlistedSourceGetsTheMalformedVerdict) {
    Bytes deep = ext_chain6(kOpen6, kDst6, 16);  // deeper than any parser limit
    EXPECT_EQ(run(deep), XDP_PASS);
    auto st = stats();
    EXPECT_EQ(st.malformed[FW_MAL_IPV6_EXT], 1u);
    EXPECT_EQ(malformed_total(st), 1u);
    EXPECT_EQ(st.passed, 1u);
    EXPECT_EQ(st.blocklist_hits + st.allowlist_hits, 0u);

    fp_->config().malformed_verdict = FW_VERDICT_DROP;
    EXPECT_EQ(run(deep), XDP_DROP);
    st = stats();
    EXPECT_EQ(st.malformed[FW_MAL_IPV6_EXT], 1u);
    EXPECT_EQ(st.drop_reason[FW_DROP_MALFORMED], 1u);
    EXPECT_EQ(st.drop_reason[FW_DROP_IP_BLOCKLIST], 0u);
    EXPECT_EQ(st.dropped, 1u);

    EXPECT_EQ(run(truncated_l4(kOpen4, kDst4, false, kUdp, 3)), XDP_DROP);
    st = stats();
    EXPECT_EQ(st.malformed[FW_MAL_L4], 1u);
    EXPECT_EQ(st.drop_reason[FW_DROP_MALFORMED], 1u);
}

TEST_F(XdpFailClosed, AddressesUnknownGetTheMalformedVerdict) {
    // The IPv6 header itself is cut: no address to check, so the malformed verdict decides even
    // for bytes that would have been a blocked source.
    Bytes f = ext_chain6(kBlocked6, kDst6, 0);
    f.resize(14 + 39);
    EXPECT_EQ(run(f), XDP_PASS);
    EXPECT_EQ(stats().malformed[FW_MAL_IPV6], 1u);
    EXPECT_EQ(stats().blocklist_hits, 0u);
    fp_->config().malformed_verdict = FW_VERDICT_DROP;
    EXPECT_EQ(run(f), XDP_DROP);
    EXPECT_EQ(stats().drop_reason[FW_DROP_MALFORMED], 1u);
    // A bad IPv4 version: the header is not an IPv4 header, its bytes are no addresses.
    Bytes v = truncated_l4(kBlocked4, kDst4, false, kTcp, 0);
    v[14] = 0x55;
    EXPECT_EQ(run(v), XDP_DROP);
    EXPECT_EQ(stats().malformed[FW_MAL_IPV4], 1u);
    EXPECT_EQ(stats().drop_reason[FW_DROP_MALFORMED], 1u);
}

TEST_F(XdpFailClosed, IpListsOffMeansTheMalformedVerdictOnly) {
    fp_->config().features &= ~(FW_F_IP_BLOCKLIST | FW_F_IP_ALLOWLIST);
    Bytes f = ext_chain6(kBlocked6, kDst6, 16);
    EXPECT_EQ(run(f), XDP_PASS);
    fp_->config().malformed_verdict = FW_VERDICT_DROP;
    EXPECT_EQ(run(f), XDP_DROP);
    EXPECT_EQ(stats().drop_reason[FW_DROP_MALFORMED], 1u);
    EXPECT_EQ(stats().blocklist_hits, 0u);
}

TEST_F(XdpFailClosed, BlockedMalformedPacketRaisesTheBlockedEvent) {
    fp_->config().features |= FW_F_EVENTS;
    std::vector<XdpEvent> seen;
    auto cb = [](void* ctx, void* data, size_t size) -> int {
        auto e = events::decode(data, size);
        if (e.ok()) static_cast<std::vector<XdpEvent>*>(ctx)->push_back(*e);
        return 0;
    };
    ring_buffer* rb = ring_buffer__new(fp_->events_fd(), cb, &seen, nullptr);
    ASSERT_NE(rb, nullptr);
    EXPECT_EQ(run(ext_chain6(kBlocked6, kDst6, 12)), XDP_DROP);
    EXPECT_GE(ring_buffer__consume(rb), 0);
    ring_buffer__free(rb);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].type, XdpEventType::IpBlocked);
    EXPECT_EQ(seen[0].family, 6);
    EXPECT_EQ(seen[0].src, kBlocked6);
    EXPECT_EQ(seen[0].dst, kDst6);
    EXPECT_EQ(seen[0].reason_text, "ip_blocklist");
}

}  // namespace
