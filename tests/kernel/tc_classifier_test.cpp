// Kernel tests of tc_classifier over BPF_PROG_TEST_RUN (SCHED_CLS, with a struct __sk_buff
// context in and out so skb->priority is visible): TCP state machine and per-direction
// counters, QoS class/priority and DSCP rewrite, IPS drop + verdict cache + events, runtime
// feature switches, and the ns/packet figure beside the tc_pass floor.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <cstdio>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/tc_classifier.hpp"
#include "tc_pass.skel.h"

using namespace flywall;
using namespace flywall::test;

namespace flywall {
template <>
struct SkeletonTraits<tc_pass> {
    static constexpr const char* name = "tc_pass";
    static tc_pass* open() { return tc_pass__open(); }
    static int load(tc_pass* s) { return tc_pass__load(s); }
    static void destroy(tc_pass* s) { tc_pass__destroy(s); }
};
}  // namespace flywall

namespace {

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10;

struct SkbRun {
    int retval = 0;
    Bytes out;
    __sk_buff ctx{};
    uint32_t duration_ns = 0;
};

// BPF_PROG_TEST_RUN with a __sk_buff in and out (priority and mark are copied both ways).
SkbRun run_skb(int fd, const Bytes& pkt, uint32_t priority_in = 0, uint32_t repeat = 1) {
    SkbRun r;
    r.out.resize(pkt.size() + 256);
    __sk_buff in{};
    in.priority = priority_in;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(pkt.size()),
                .data_size_out = static_cast<uint32_t>(r.out.size()), .ctx_in = &in,
                .ctx_out = &r.ctx, .ctx_size_in = sizeof(in), .ctx_size_out = sizeof(r.ctx),
                .repeat = static_cast<int>(repeat));
    int rc = bpf_prog_test_run_opts(fd, &opts);
    EXPECT_EQ(rc, 0) << "BPF_PROG_TEST_RUN: " << strerror(errno);
    r.out.resize(opts.data_size_out);
    r.retval = static_cast<int>(opts.retval);
    r.duration_ns = opts.duration;
    return r;
}

Bytes tcp4(const char* s, uint16_t sp, const char* d, uint16_t dp, uint8_t flags, const std::string& payload = {}) {
    return PacketBuilder().eth().ipv4(s, d, IPPROTO_TCP).tcp(sp, dp, flags).payload(payload).build();
}
Bytes udp4(const char* s, uint16_t sp, const char* d, uint16_t dp, const std::string& payload = "x", uint8_t tos = 0) {
    auto b = PacketBuilder().eth().ipv4(s, d, IPPROTO_UDP).udp(sp, dp).payload(payload).build();
    if (tos) {  // set TOS and redo the header checksum
        b[15] = tos;
        b[24] = b[25] = 0;
        uint16_t c = csum_fold(csum_add(0, &b[14], 20));
        b[24] = c >> 8;
        b[25] = c & 0xff;
    }
    return b;
}

fw_tc_flow_key key4(const char* s, uint16_t sp, const char* d, uint16_t dp, uint8_t proto) {
    auto a = ip4(s), b = ip4(d);
    return tc_flow_key(4, a.data(), sp, b.data(), dp, proto);
}

class TcClassifierTest : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto tc = TcClassifier::load();
        ASSERT_TRUE(tc.ok()) << tc.error().message();
        tc_.emplace(std::move(tc).value());
    }
    int fd() { return tc_->prog_fd(); }
    fw_tc_flow flow(const fw_tc_flow_key& k) {
        auto f = tc_->flow(k);
        EXPECT_TRUE(f.ok());
        EXPECT_TRUE(f.ok() && f->has_value()) << "flow missing";
        return f.ok() && f->has_value() ? **f : fw_tc_flow{};
    }
    std::vector<fw_tc_event> drain() {
        std::vector<fw_tc_event> evs;
        auto n = tc_->poll_events(0, [&](const fw_tc_event& e) { evs.push_back(e); });
        EXPECT_TRUE(n.ok()) << n.error().message();
        return evs;
    }
    std::optional<TcClassifier> tc_;
};

}  // namespace

TEST_F(TcClassifierTest, TcpHandshakeAndCloseDriveTheStateMachine) {
    const char *c = "198.18.0.1", *s = "198.18.1.1";
    auto k = key4(c, 40000, s, 80, IPPROTO_TCP);
    // the key is the same whichever side sends
    auto k_rev = key4(s, 80, c, 40000, IPPROTO_TCP);
    ASSERT_EQ(0, std::memcmp(&k, &k_rev, sizeof(k)));

    struct Step {
        bool from_client;
        uint8_t flags;
        uint8_t state;
    } steps[] = {
        {true, SYN, FW_TCP_SYN_SENT},        {false, SYN | ACK, FW_TCP_SYN_RECV},
        {true, ACK, FW_TCP_ESTABLISHED},     {true, ACK, FW_TCP_ESTABLISHED},
        {false, ACK, FW_TCP_ESTABLISHED},    {true, FIN | ACK, FW_TCP_FIN_WAIT},
        {false, FIN | ACK, FW_TCP_CLOSED},   {true, ACK, FW_TCP_CLOSED},
    };
    int n = 0;
    for (const auto& st : steps) {
        auto pkt = st.from_client ? tcp4(c, 40000, s, 80, st.flags) : tcp4(s, 80, c, 40000, st.flags);
        auto r = run_skb(fd(), pkt);
        EXPECT_EQ(r.retval, TC_ACT_OK);
        auto f = flow(k);
        EXPECT_EQ(f.tcp_state, st.state) << "after step " << n << ": " << tcp_state_name(f.tcp_state);
        ++n;
    }
    auto f = flow(k);
    EXPECT_EQ(f.packets[FW_DIR_ORIG], 5u);
    EXPECT_EQ(f.packets[FW_DIR_REPLY], 3u);
    EXPECT_EQ(f.bytes[FW_DIR_ORIG], 5u * tcp4(c, 1, s, 1, 0).size());
    EXPECT_EQ(f.ifindex, 1u);  // BPF_PROG_TEST_RUN runs on loopback
    EXPECT_EQ(f.tcp_flags_seen[FW_DIR_ORIG], SYN | ACK | FIN);
    EXPECT_GT(f.last_seen_ns, 0u);
    EXPECT_GE(f.last_seen_ns, f.first_seen_ns);

    auto st = tc_->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->flows_new, 1u);
    EXPECT_EQ(st->flows_closed, 1u);
    EXPECT_EQ(st->packets, 8u);
}

TEST_F(TcClassifierTest, RstClosesAndANewSynReopensWithTheNewOriginator) {
    const char *a = "198.18.0.1", *b = "198.18.1.1";
    auto k = key4(a, 5555, b, 22, IPPROTO_TCP);
    run_skb(fd(), tcp4(a, 5555, b, 22, SYN));
    run_skb(fd(), tcp4(b, 22, a, 5555, RST | ACK));
    EXPECT_EQ(flow(k).tcp_state, FW_TCP_CLOSED);
    // the tuple is reused, this time opened from the other side
    run_skb(fd(), tcp4(b, 22, a, 5555, SYN));
    auto f = flow(k);
    EXPECT_EQ(f.tcp_state, FW_TCP_SYN_SENT);
    run_skb(fd(), tcp4(a, 5555, b, 22, SYN | ACK));
    EXPECT_EQ(flow(k).tcp_state, FW_TCP_SYN_RECV);
}

TEST_F(TcClassifierTest, MidStreamPickupAndUdpFlows) {
    auto k = key4("198.18.0.9", 1234, "198.18.1.9", 443, IPPROTO_TCP);
    run_skb(fd(), tcp4("198.18.1.9", 443, "198.18.0.9", 1234, ACK, "data"));
    auto f = flow(k);
    EXPECT_EQ(f.tcp_state, FW_TCP_ESTABLISHED);
    EXPECT_EQ(f.packets[FW_DIR_ORIG], 1u);  // the first packet seen defines "orig"

    auto ku = key4("198.18.0.9", 5353, "198.18.1.9", 53, IPPROTO_UDP);
    run_skb(fd(), udp4("198.18.0.9", 5353, "198.18.1.9", 53));
    run_skb(fd(), udp4("198.18.1.9", 53, "198.18.0.9", 5353));
    run_skb(fd(), udp4("198.18.1.9", 53, "198.18.0.9", 5353));
    auto fu = flow(ku);
    EXPECT_EQ(fu.tcp_state, FW_TCP_NEW);
    EXPECT_EQ(fu.packets[FW_DIR_ORIG], 1u);
    EXPECT_EQ(fu.packets[FW_DIR_REPLY], 2u);
}

TEST_F(TcClassifierTest, Ipv6FlowIsTracked) {
    auto p = PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2", IPPROTO_TCP).tcp(1000, 80, SYN).build();
    run_skb(fd(), p);
    auto a = ip6("2001:db8::1"), b = ip6("2001:db8::2");
    auto k = tc_flow_key(6, a.data(), 1000, b.data(), 80, IPPROTO_TCP);
    EXPECT_EQ(flow(k).tcp_state, FW_TCP_SYN_SENT);
}

TEST_F(TcClassifierTest, QosRulesSetPriorityClassAndFirstMatchWins) {
    QosRule voice;
    voice.proto = IPPROTO_UDP;
    voice.dport = PortRange{5000, 5010};
    voice.classid = tc_class_handle(1, 10);
    QosRule web;
    web.proto = IPPROTO_TCP;
    web.dport = PortRange{443, 443};
    web.dport_matches_either = true;
    web.classid = tc_class_handle(1, 20);
    web.priority = 6;  // explicit priority instead of the class handle
    QosRule any_udp;
    any_udp.proto = IPPROTO_UDP;
    any_udp.classid = tc_class_handle(1, 30);
    ASSERT_TRUE(tc_->add_qos_rule(voice).ok());
    ASSERT_TRUE(tc_->add_qos_rule(web).ok());
    auto idx = tc_->add_qos_rule(any_udp);
    ASSERT_TRUE(idx.ok());
    EXPECT_EQ(*idx, 2u);

    struct Case {
        Bytes pkt;
        uint32_t priority;
    } cases[] = {
        {udp4("198.18.0.1", 40000, "198.18.1.1", 5004), tc_class_handle(1, 10)},
        {udp4("198.18.0.1", 40000, "198.18.1.1", 5011), tc_class_handle(1, 30)},
        {tcp4("198.18.0.1", 40001, "198.18.1.1", 443, SYN), 6},
        {tcp4("198.18.1.1", 443, "198.18.0.1", 40001, SYN | ACK), 6},  // PORT_EITHER
        {tcp4("198.18.0.1", 40002, "198.18.1.1", 80, SYN), 77},        // no rule: untouched
    };
    for (size_t i = 0; i < std::size(cases); ++i) {
        auto r = run_skb(fd(), cases[i].pkt, 77);
        EXPECT_EQ(r.retval, TC_ACT_OK);
        EXPECT_EQ(r.ctx.priority, cases[i].priority) << "case " << i;
    }
    // a second packet of the first flow comes from the per-flow cache
    auto r = run_skb(fd(), udp4("198.18.0.1", 40000, "198.18.1.1", 5004), 0);
    EXPECT_EQ(r.ctx.priority, tc_class_handle(1, 10));
    auto f = flow(key4("198.18.0.1", 40000, "198.18.1.1", 5004, IPPROTO_UDP));
    EXPECT_EQ(f.qos_classid, tc_class_handle(1, 10));
    EXPECT_EQ(f.qos_rule, 1u);
    auto cs = tc_->qos_class_stats(0);
    ASSERT_TRUE(cs.ok());
    EXPECT_EQ(cs->packets, 2u);
    auto st = tc_->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->qos_cache_hits, 2u);  // the SYN|ACK of the 443 flow and the repeat above
    EXPECT_EQ(st->qos_classified, 5u);

    // removing the voice rule reclassifies the cached flow (generation bump)
    ASSERT_TRUE(tc_->remove_qos_rule(0).ok());
    r = run_skb(fd(), udp4("198.18.0.1", 40000, "198.18.1.1", 5004), 0);
    EXPECT_EQ(r.ctx.priority, tc_class_handle(1, 30));

    // switched off at run time: nothing is classified, no reload
    tc_->set_feature(FW_TC_F_QOS, false);
    r = run_skb(fd(), udp4("198.18.0.1", 40000, "198.18.1.1", 5004), 5);
    EXPECT_EQ(r.ctx.priority, 5u);
}

TEST_F(TcClassifierTest, QosMatchesDscpAndRewritesItWithAValidChecksum) {
    QosRule ef;
    ef.proto = IPPROTO_UDP;
    ef.dscp = 10;  // AF11
    ef.classid = tc_class_handle(1, 5);
    ef.set_dscp = 46;  // EF
    ASSERT_TRUE(tc_->add_qos_rule(ef).ok());

    auto pkt = udp4("198.18.0.1", 1000, "198.18.1.1", 2000, "voice", 10 << 2 | 1 /* ECN bit */);
    auto r = run_skb(fd(), pkt);
    EXPECT_EQ(r.retval, TC_ACT_OK);
    EXPECT_EQ(r.ctx.priority, tc_class_handle(1, 5));
    ASSERT_EQ(r.out.size(), pkt.size());
    EXPECT_EQ(r.out[15], (46 << 2) | 1);  // DSCP rewritten, ECN kept
    EXPECT_EQ(csum_fold(csum_add(0, &r.out[14], 20)), 0) << "IPv4 header checksum broken";

    // not AF11: no match, no rewrite
    auto other = udp4("198.18.0.2", 1000, "198.18.1.1", 2000, "x", 0);
    r = run_skb(fd(), other);
    EXPECT_EQ(r.out[15], 0);
    auto st = tc_->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->qos_dscp_rewritten, 1u);

    // IPv6: traffic class rewritten, no checksum involved
    QosRule v6;
    v6.proto = IPPROTO_TCP;
    v6.classid = tc_class_handle(1, 6);
    v6.set_dscp = 34;
    ASSERT_TRUE(tc_->add_qos_rule(v6).ok());
    auto p6 = PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2", IPPROTO_TCP).tcp(1, 2, SYN).build();
    r = run_skb(fd(), p6);
    EXPECT_EQ(r.ctx.priority, tc_class_handle(1, 6));
    const uint8_t tc_class = static_cast<uint8_t>(((r.out[14] & 0x0f) << 4) | (r.out[15] >> 4));
    EXPECT_EQ(tc_class >> 2, 34);
    EXPECT_EQ(r.out[14] >> 4, 6);  // still version 6
}

TEST_F(TcClassifierTest, IpsDropPatternShootsTheFlowAndTheVerdictIsCached) {
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(701, "EVIL-PAYLOAD", IpsAction::Drop)).ok());
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(702, "suspicious", IpsAction::Alert)).ok());
    // a pattern sharing the leading byte pair with 701 must not confuse the prefix table
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(703, "EVxx", IpsAction::Alert)).ok());
    const char *c = "198.18.0.5", *s = "198.18.1.5";

    std::string body(100, 'a');
    body += "EVIL-PAYLOAD";
    body += std::string(50, 'b');
    run_skb(fd(), tcp4(c, 33000, s, 80, SYN));
    auto r = run_skb(fd(), tcp4(c, 33000, s, 80, ACK, body));
    EXPECT_EQ(r.retval, TC_ACT_SHOT);

    auto evs = drain();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].type, FW_TC_EV_IPS_DROP);
    EXPECT_EQ(evs[0].pattern_id, 701u);
    EXPECT_EQ(evs[0].payload_offset, 100u);
    EXPECT_EQ(evs[0].proto, IPPROTO_TCP);
    EXPECT_EQ(ntohs(evs[0].dport), 80);
    EXPECT_EQ(0, std::memcmp(evs[0].saddr, ip4(c).data(), 4));

    // later packets of the flow, clean or not, either direction: dropped without scanning
    r = run_skb(fd(), tcp4(s, 80, c, 33000, ACK, "clean reply"));
    EXPECT_EQ(r.retval, TC_ACT_SHOT);
    auto f = flow(key4(c, 33000, s, 80, IPPROTO_TCP));
    EXPECT_EQ(f.verdict, FW_TC_VERDICT_DROP);
    EXPECT_EQ(f.ips_pattern_id, 701u);
    auto st = tc_->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->ips_drops, 1u);
    EXPECT_EQ(st->ips_cached_drops, 1u);
    EXPECT_EQ(st->shot, 2u);
    EXPECT_TRUE(drain().empty()) << "cached drops emit no events";

    // another flow is unaffected; alert patterns pass and report
    r = run_skb(fd(), udp4(c, 9999, s, 53, "very suspicious query"));
    EXPECT_EQ(r.retval, TC_ACT_OK);
    evs = drain();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].type, FW_TC_EV_IPS_ALERT);
    EXPECT_EQ(evs[0].pattern_id, 702u);
    EXPECT_EQ(evs[0].payload_offset, 5u);

    // forgetting the flow clears the verdict
    ASSERT_TRUE(tc_->forget_flow(key4(c, 33000, s, 80, IPPROTO_TCP)).ok());
    r = run_skb(fd(), tcp4(s, 80, c, 33000, ACK, "clean reply"));
    EXPECT_EQ(r.retval, TC_ACT_OK);
}

// A flow's cached DROP lasts only as long as the pattern that set it: removed, turned into an
// alert, replaced by another pattern in its slot, or IPS switched off, and the flow's next clean
// packet passes (before, the verdict stayed cached until the flow expired).
TEST_F(TcClassifierTest, CachedDropEndsWithItsPattern) {
    const char *c = "198.18.0.6", *s = "198.18.1.6";
    const std::string evil = std::string(20, 'a') + "EVIL-PAYLOAD";
    auto dropped_flow = [&](uint16_t port) {
        run_skb(fd(), tcp4(c, port, s, 80, SYN));
        EXPECT_EQ(run_skb(fd(), tcp4(c, port, s, 80, ACK, evil)).retval, TC_ACT_SHOT);
        EXPECT_EQ(run_skb(fd(), tcp4(c, port, s, 80, ACK, "clean")).retval, TC_ACT_SHOT) << "cached";
        drain();
    };
    auto clean = [&](uint16_t port) { return run_skb(fd(), tcp4(c, port, s, 80, ACK, "clean")).retval; };

    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(801, "EVIL-PAYLOAD", IpsAction::Drop)).ok());
    dropped_flow(34001);
    ASSERT_TRUE(tc_->remove_ips_pattern(801).ok());
    EXPECT_EQ(clean(34001), TC_ACT_OK) << "pattern removed";
    EXPECT_EQ(flow(key4(c, 34001, s, 80, IPPROTO_TCP)).verdict, FW_TC_VERDICT_NONE);

    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(802, "EVIL-PAYLOAD", IpsAction::Drop)).ok());
    dropped_flow(34002);
    ASSERT_TRUE(tc_->remove_ips_pattern(802).ok());  // replaced (as the API does): same id, now an alert
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(802, "EVIL-PAYLOAD", IpsAction::Alert)).ok());
    EXPECT_EQ(clean(34002), TC_ACT_OK) << "pattern turned into an alert";

    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(803, "EVIL-PAYLOAD", IpsAction::Drop)).ok());
    dropped_flow(34003);
    auto cfg = tc_->config().features;
    tc_->config().features = cfg & ~static_cast<__u32>(FW_TC_F_IPS);
    EXPECT_EQ(clean(34003), TC_ACT_OK) << "IPS switched off";
    tc_->config().features = cfg;

    // Unrelated pattern changes leave a standing verdict alone.
    ASSERT_TRUE(tc_->remove_ips_pattern(802).ok());
    dropped_flow(34004);
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(804, "other", IpsAction::Drop)).ok());
    EXPECT_EQ(clean(34004), TC_ACT_SHOT) << "the flow's own pattern still stands";
    ASSERT_TRUE(tc_->remove_ips_pattern(803).ok());
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(805, "EVIL-PAYLOAD", IpsAction::Drop)).ok());
    EXPECT_EQ(clean(34004), TC_ACT_OK) << "another pattern (other id) in the slot does not inherit the verdict";
}

TEST_F(TcClassifierTest, IpsScanWindowBoundariesAndPatternFilters) {
    ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(1, "XYZZY", IpsAction::Drop)).ok());
    IpsPattern udp_only = IpsPattern::from_string(2, "GETROOT", IpsAction::Drop);
    udp_only.proto = IPPROTO_UDP;
    udp_only.port = 69;
    ASSERT_TRUE(tc_->add_ips_pattern(udp_only).ok());
    const char *c = "198.18.0.7", *s = "198.18.1.7";
    uint16_t port = 20000;
    auto verdict = [&](const std::string& payload) {
        return run_skb(fd(), udp4(c, port++, s, 7000, payload)).retval;
    };
    // exactly at the end of the 256-byte window: matched
    EXPECT_EQ(verdict(std::string(251, '.') + "XYZZY"), TC_ACT_SHOT);
    // one byte past the window: not matched
    EXPECT_EQ(verdict(std::string(252, '.') + "XYZZY"), TC_ACT_OK);
    // at offset 0 and as the whole payload
    EXPECT_EQ(verdict("XYZZY"), TC_ACT_SHOT);
    // truncated at the end of the packet: no match against bytes beyond the payload
    EXPECT_EQ(verdict("XYZZ"), TC_ACT_OK);
    EXPECT_EQ(verdict("xyzzy"), TC_ACT_OK);  // case-sensitive
    // port/proto filtered pattern
    EXPECT_EQ(run_skb(fd(), udp4(c, port++, s, 69, "..GETROOT")).retval, TC_ACT_SHOT);
    EXPECT_EQ(run_skb(fd(), udp4(c, port++, s, 70, "..GETROOT")).retval, TC_ACT_OK);
    EXPECT_EQ(run_skb(fd(), tcp4(c, port++, s, 69, ACK, "..GETROOT")).retval, TC_ACT_OK);

    // a smaller window at run time
    ASSERT_TRUE(tc_->set_ips_scan_bytes(64).ok());
    EXPECT_EQ(verdict(std::string(60, '.') + "XYZZY"), TC_ACT_OK);
    EXPECT_EQ(verdict(std::string(59, '.') + "XYZZY"), TC_ACT_SHOT);
    // IPS off, then pattern removed
    tc_->set_feature(FW_TC_F_IPS, false);
    EXPECT_EQ(verdict("XYZZY"), TC_ACT_OK);
    tc_->set_feature(FW_TC_F_IPS, true);
    auto removed = tc_->remove_ips_pattern(1);
    ASSERT_TRUE(removed.ok() && *removed);
    EXPECT_EQ(verdict("XYZZY"), TC_ACT_OK);
    EXPECT_FALSE(tc_->add_ips_pattern(IpsPattern::from_string(9, "X", IpsAction::Drop)).ok());
    EXPECT_FALSE(tc_->add_ips_pattern(IpsPattern::from_string(2, "dup", IpsAction::Drop)).ok());
}

TEST_F(TcClassifierTest, FullPatternTableStillMatchesEveryPattern) {
    for (uint32_t i = 0; i < FW_IPS_PATTERNS_MAX; ++i) {
        char text[16];
        std::snprintf(text, sizeof(text), "AB-sig-%02u", i);  // all share the prefix "AB"
        ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(1000 + i, text, IpsAction::Alert)).ok());
    }
    EXPECT_FALSE(tc_->add_ips_pattern(IpsPattern::from_string(5000, "full", IpsAction::Alert)).ok());
    auto r = run_skb(fd(), udp4("198.18.0.1", 1, "198.18.1.1", 2, "....AB-sig-63...."));
    EXPECT_EQ(r.retval, TC_ACT_OK);
    auto evs = drain();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].pattern_id, 1063u);
    EXPECT_EQ(evs[0].payload_offset, 4u);
}

TEST_F(TcClassifierTest, NonIpAndMalformedFramesPass) {
    auto arp = PacketBuilder().eth(0x0806).pad_to(60).build();
    EXPECT_EQ(run_skb(fd(), arp).retval, TC_ACT_OK);
    auto bad = PacketBuilder::truncate(tcp4("198.18.0.1", 1, "198.18.1.1", 2, SYN), 14 + 20 + 10);
    EXPECT_EQ(run_skb(fd(), bad).retval, TC_ACT_OK);
    auto st = tc_->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->non_ip, 1u);
    EXPECT_EQ(st->malformed, 1u);
    tc_->config().pass_unspec = 1;
    EXPECT_EQ(run_skb(fd(), arp).retval, TC_ACT_UNSPEC);
}

// Not a pass/fail benchmark: prints ns/packet beside the tc_pass floor for the report
// (bench/ holds the JSON benchmarks).
TEST_F(TcClassifierTest, NsPerPacketAgainstTheFloor) {
    auto floor = Skeleton<tc_pass>::open_and_load();
    ASSERT_TRUE(floor.ok()) << floor.error().message();
    const int pass_fd = bpf_program__fd(floor->get()->progs.tc_pass);
    QosRule r;
    r.proto = IPPROTO_TCP;
    r.dport = PortRange{443, 443};
    r.classid = tc_class_handle(1, 20);
    ASSERT_TRUE(tc_->add_qos_rule(r).ok());
    for (uint32_t i = 0; i < 16; ++i)
        ASSERT_TRUE(tc_->add_ips_pattern(IpsPattern::from_string(i, "attack-sig-" + std::to_string(i), IpsAction::Drop)).ok());
    std::string payload(512, 'q');
    auto pkt = tcp4("198.18.0.1", 40000, "198.18.1.1", 443, ACK, payload);
    const uint32_t repeat = 1000000;
    auto floor_run = run_skb(pass_fd, pkt, 0, repeat);
    auto full = run_skb(fd(), pkt, 0, repeat);
    tc_->set_feature(FW_TC_F_IPS, false);
    auto no_ips = run_skb(fd(), pkt, 0, repeat);
    tc_->config().features = FW_TC_F_STATS;
    auto parse_only = run_skb(fd(), pkt, 0, repeat);
    std::printf("[ perf ] tc_pass floor %u ns; tc_classifier: flows+qos+ips(16 patterns, 256 B scanned) %u ns, "
                "flows+qos %u ns, parse+stats %u ns\n",
                floor_run.duration_ns, full.duration_ns, no_ips.duration_ns, parse_only.duration_ns);
    EXPECT_EQ(full.retval, TC_ACT_OK);
    EXPECT_GT(full.duration_ns, 0u);
}
