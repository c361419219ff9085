// Parsing in xdp_blocklist, through BPF_PROG_TEST_RUN: every parse path (VLAN, QinQ, IPv4
// options, IPv6 extension headers, fragments) proves it found the addresses by having a blocked
// source dropped and an unlisted one passed; truncation at every header boundary is counted under
// its own malformed reason; the malformed verdict is configurable.
//
// Frames shorter than an Ethernet header (FW_MAL_ETH) cannot be handed to an XDP program here:
// BPF_PROG_TEST_RUN rejects them with EINVAL, also behind metadata (the kernel wants ETH_HLEN
// bytes after xdp_md.data). EthernetRuntsNeverReachTheProgram pins that down; the bounds check
// stays in the parser for drivers that might deliver runts.
#include <gtest/gtest.h>

#include <cstring>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/iplists.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

constexpr const char* kBlocked4 = "198.18.0.66";
constexpr const char* kOpen4 = "198.18.0.1";
constexpr const char* kDst4 = "198.18.1.1";
constexpr const char* kBlocked6 = "2001:db8::66";
constexpr const char* kOpen6 = "2001:db8::1";
constexpr const char* kDst6 = "2001:db8:1::1";

constexpr uint8_t kHop = 0, kRouting = 43, kFrag = 44, kDstOpts = 60;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58;

// Runs the program on the first `len` bytes of frame.
Result<RunResult> run_prefix(int prog_fd, const Bytes& frame, size_t len) {
    return run_prog(prog_fd, Bytes(frame.begin(), frame.begin() + std::min(len, frame.size())));
}

// Hands the kernel `meta` bytes of metadata followed by `frame` (xdp_md.data = meta).
int run_with_metadata(int prog_fd, const Bytes& frame, size_t meta) {
    Bytes buf(meta, 0);
    buf.insert(buf.end(), frame.begin(), frame.end());
    xdp_md ctx{};
    ctx.data = static_cast<__u32>(meta);
    ctx.data_end = static_cast<__u32>(buf.size());
    Bytes out(buf.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(buf.size()), .data_size_out = static_cast<__u32>(out.size()),
                .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
    return bpf_prog_test_run_opts(prog_fd, &opts) == 0 ? 0 : errno;
}

const char* mal_name(int reason) {
    static const char* names[] = {"eth", "vlan", "vlan_depth", "ipv4", "ipv6", "ipv6_ext", "l4", "dns"};
    return reason >= 0 && reason < 8 ? names[reason] : "none";
}

class XdpParse : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto fp = XdpFastPath::load();
        ASSERT_TRUE(fp.ok()) << fp.error().message();
        fp_.emplace(std::move(*fp));
        lists_.emplace(*fp_);
        ASSERT_TRUE(lists_->add(kBlocked4, IpListKind::Block).ok());
        ASSERT_TRUE(lists_->add(kBlocked6, IpListKind::Block).ok());
    }
    // Verdict of one run, with statistics reset before it.
    RunResult run(const Bytes& frame, size_t len = SIZE_MAX) {
        EXPECT_TRUE(fp_->reset_stats().ok());
        auto r = run_prefix(fp_->prog_fd(), frame, len == SIZE_MAX ? frame.size() : len);
        EXPECT_TRUE(r.ok()) << r.error().message();
        return r.ok() ? *r : RunResult{};
    }
    fw_stats stats() {
        auto s = fp_->stats_total();
        EXPECT_TRUE(s.ok()) << s.error().message();
        return s.ok() ? *s : fw_stats{};
    }
    uint64_t malformed_total(const fw_stats& s) {
        uint64_t n = 0;
        for (auto v : s.malformed) n += v;
        return n;
    }
    std::optional<XdpFastPath> fp_;
    std::optional<IpLists> lists_;
};

// ---------------------------------------------------------------- parse paths

struct PathCase {
    const char* name;
    // Builds the frame with the given source address.
    Bytes (*build)(const char* src);
    uint8_t family;
    bool fragment;
};

Bytes plain4(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kUdp).udp(1, 53).pad_to(64).build(); }
Bytes tcp4(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kTcp).tcp(1000, 80).build(); }
Bytes icmp4(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kIcmp).icmp_echo(7, 1).build(); }
Bytes vlan4(const char* s) { return PacketBuilder().eth().vlan(10).ipv4(s, kDst4, kUdp).udp(1, 53).build(); }
Bytes qinq4(const char* s) {
    return PacketBuilder().eth().vlan(100, 0x88A8).vlan(10, 0x8100).ipv4(s, kDst4, kTcp).tcp(1, 2).build();
}
Bytes qinq6(const char* s) {
    return PacketBuilder().eth().vlan(100, 0x88A8).vlan(10, 0x8100).ipv6(s, kDst6, kUdp).udp(1, 2).build();
}
Bytes opts4(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kUdp, 12).udp(1, 53).build(); }
Bytes opts4_max(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kTcp, 40).tcp(1, 2).build(); }
Bytes plain6(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kUdp).udp(1, 53).build(); }
Bytes tcp6(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kTcp).tcp(1, 443).build(); }
Bytes icmp6(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kIcmp6).icmp_echo(7, 1, true).build(); }
Bytes hop6(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kUdp).ipv6_ext(kHop, kUdp).udp(1, 2).build(); }
Bytes rt6(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kTcp).ipv6_ext(kRouting, kTcp, 2).tcp(1, 2).build(); }
Bytes dst6(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kIcmp6).ipv6_ext(kDstOpts, kIcmp6, 1).icmp_echo(1, 1, true).build(); }
Bytes frag6_first(const char* s) { return PacketBuilder().eth().ipv6(s, kDst6, kUdp).ipv6_frag(kUdp, 0, true).udp(1, 2).build(); }
Bytes chain4_6(const char* s) {
    return PacketBuilder().eth().ipv6(s, kDst6, kUdp)
        .ipv6_ext(kHop, kDstOpts).ipv6_ext(kDstOpts, kRouting).ipv6_ext(kRouting, kFrag, 1)
        .ipv6_frag(kUdp, 0, true).udp(1, 2).build();
}
// The longest chain the parser follows: eight headers.
Bytes chain8_6(const char* s) {
    return PacketBuilder().eth().ipv6(s, kDst6, kUdp)
        .ipv6_ext(kHop, kDstOpts).ipv6_ext(kDstOpts, kRouting).ipv6_ext(kRouting, kFrag, 1)
        .ipv6_frag(kDstOpts, 0, true).ipv6_ext(kDstOpts, kRouting, 2).ipv6_ext(kRouting, kDstOpts)
        .ipv6_ext(kDstOpts, kFrag).ipv6_frag(kUdp, 0, true).udp(1, 2).build();
}
// Non-first fragments carry no L4 header: 3 bytes of payload would be a truncated TCP header if
// the parser looked at it.
Bytes frag4_first(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kTcp, 0, 0x2000).tcp(1, 2).build(); }
Bytes frag4_later(const char* s) {
    return PacketBuilder().eth().ipv4(s, kDst4, kTcp, 0, 0x2000 | 185).payload("abc").build();
}
Bytes frag4_last(const char* s) { return PacketBuilder().eth().ipv4(s, kDst4, kTcp, 0, 370).payload("abc").build(); }
Bytes frag6_later(const char* s) {
    return PacketBuilder().eth().ipv6(s, kDst6, kTcp).ipv6_frag(kTcp, 185, true).payload("abc").build();
}
Bytes frag6_later_after_ext(const char* s) {
    return PacketBuilder().eth().ipv6(s, kDst6, kTcp).ipv6_ext(kHop, kFrag).ipv6_frag(kTcp, 1, false).payload("x").build();
}

class XdpParsePaths : public XdpParse, public ::testing::WithParamInterface<PathCase> {};

TEST_P(XdpParsePaths, FindsTheAddressesBehindEveryHeader) {
    const PathCase& c = GetParam();
    bool v4 = c.family == 4;
    auto blocked = run(c.build(v4 ? kBlocked4 : kBlocked6));
    EXPECT_EQ(blocked.retval, XDP_DROP) << c.name << ": blocked source must be found and dropped";
    auto st = stats();
    EXPECT_EQ(malformed_total(st), 0u) << c.name;
    EXPECT_EQ(v4 ? st.ipv4 : st.ipv6, 1u) << c.name;
    EXPECT_EQ(st.fragments, c.fragment ? 1u : 0u) << c.name;
    EXPECT_EQ(st.drop_reason[FW_DROP_IP_BLOCKLIST], 1u) << c.name;

    auto open = run(c.build(v4 ? kOpen4 : kOpen6));
    EXPECT_EQ(open.retval, XDP_PASS) << c.name;
    st = stats();
    EXPECT_EQ(malformed_total(st), 0u) << c.name;
    EXPECT_EQ(st.passed, 1u) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Paths, XdpParsePaths,
    ::testing::Values(PathCase{"ipv4_udp", plain4, 4, false}, PathCase{"ipv4_tcp", tcp4, 4, false},
                      PathCase{"ipv4_icmp", icmp4, 4, false}, PathCase{"vlan_8021q", vlan4, 4, false},
                      PathCase{"qinq_8021ad_8021q_v4", qinq4, 4, false},
                      PathCase{"qinq_8021ad_8021q_v6", qinq6, 6, false},
                      PathCase{"ipv4_options_12", opts4, 4, false}, PathCase{"ipv4_options_40", opts4_max, 4, false},
                      PathCase{"ipv6_udp", plain6, 6, false}, PathCase{"ipv6_tcp", tcp6, 6, false},
                      PathCase{"ipv6_icmpv6", icmp6, 6, false}, PathCase{"ipv6_hop_by_hop", hop6, 6, false},
                      PathCase{"ipv6_routing", rt6, 6, false}, PathCase{"ipv6_dest_opts", dst6, 6, false},
                      PathCase{"ipv6_fragment_first", frag6_first, 6, true},
                      PathCase{"ipv6_chain_of_4", chain4_6, 6, true},
                      PathCase{"ipv6_chain_of_8", chain8_6, 6, true},
                      PathCase{"ipv4_fragment_first", frag4_first, 4, true},
                      PathCase{"ipv4_fragment_middle", frag4_later, 4, true},
                      PathCase{"ipv4_fragment_last", frag4_last, 4, true},
                      PathCase{"ipv6_fragment_later", frag6_later, 6, true},
                      PathCase{"ipv6_fragment_later_after_hop", frag6_later_after_ext, 6, true}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------- malformed packets

struct MalformedCase {
    std::string name;
    Bytes frame;
    size_t len;  // bytes handed to the program
    int reason;  // fw_malformed_reason
};

// One layer of a frame: [begin, end) and the reason a cut inside it is counted under.
struct Layer {
    const char* name;
    size_t begin, end;
    int reason;
};

// Cuts every layer at its start (header absent), one byte in, and one byte short of its end.
void add_cuts(std::vector<MalformedCase>& out, const char* frame_name, const Bytes& frame,
              std::initializer_list<Layer> layers) {
    for (const Layer& l : layers) {
        std::vector<size_t> cuts{l.begin, l.begin + 1, l.end - 1};
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        for (size_t cut : cuts) {
            out.push_back({std::string(frame_name) + "_" + l.name + "_cut" + std::to_string(cut), frame, cut, l.reason});
        }
    }
}

std::vector<MalformedCase> malformed_cases() {
    std::vector<MalformedCase> v;
    // eth / ipv4 / tcp
    add_cuts(v, "v4tcp", tcp4(kOpen4), {{"ipv4", 14, 34, FW_MAL_IPV4}, {"tcp", 34, 54, FW_MAL_L4}});
    // eth / 802.1Q / ipv4 with 8 bytes of options / udp
    add_cuts(v, "vlan_v4opt_udp", PacketBuilder().eth().vlan(5).ipv4(kOpen4, kDst4, kUdp, 8).udp(1, 2).build(),
             {{"vlan", 14, 18, FW_MAL_VLAN}, {"ipv4", 18, 38, FW_MAL_IPV4},
              {"ipv4_options", 38, 46, FW_MAL_IPV4}, {"udp", 46, 54, FW_MAL_L4}});
    // eth / 802.1ad / 802.1Q / ipv6 / icmpv6
    add_cuts(v, "qinq_v6_icmp6",
             PacketBuilder().eth().vlan(100, 0x88A8).vlan(5).ipv6(kOpen6, kDst6, kIcmp6).icmp_echo(1, 1, true).build(),
             {{"outer_vlan", 14, 18, FW_MAL_VLAN}, {"inner_vlan", 18, 22, FW_MAL_VLAN},
              {"ipv6", 22, 62, FW_MAL_IPV6}, {"icmpv6", 62, 70, FW_MAL_L4}});
    // eth / ipv4 / icmp
    add_cuts(v, "v4icmp", icmp4(kOpen4), {{"icmp", 34, 42, FW_MAL_L4}});
    // eth / ipv6 / hop-by-hop / routing (16 bytes) / dest opts / fragment / udp
    add_cuts(v, "v6chain", chain4_6(kOpen6),
             {{"ipv6", 14, 54, FW_MAL_IPV6}, {"hop_by_hop", 54, 62, FW_MAL_IPV6_EXT},
              {"dest_opts", 62, 70, FW_MAL_IPV6_EXT}, {"routing", 70, 86, FW_MAL_IPV6_EXT},
              {"fragment", 86, 94, FW_MAL_IPV6_EXT}, {"udp", 94, 102, FW_MAL_L4}});
    // eth / ipv6 / tcp
    add_cuts(v, "v6tcp", tcp6(kOpen6), {{"tcp", 54, 74, FW_MAL_L4}});

    // Structurally malformed, full length.
    Bytes three_tags = PacketBuilder().eth().vlan(1, 0x88A8).vlan(2).vlan(3).ipv4(kOpen4, kDst4, kUdp).udp(1, 2).build();
    v.push_back({"three_vlan_tags", three_tags, three_tags.size(), FW_MAL_VLAN_DEPTH});
    // One more extension header than the parser follows (8).
    Bytes nine_ext = chain8_6(kOpen6);
    nine_ext[14 + 6] = kDstOpts;  // the IPv6 header names a new first header: dest opts -> hop-by-hop
    Bytes extra = {kHop, 0, 1, 4, 0, 0, 0, 0};
    nine_ext.insert(nine_ext.begin() + 14 + 40, extra.begin(), extra.end());
    v.push_back({"ipv6_nine_ext_headers", nine_ext, nine_ext.size(), FW_MAL_IPV6_EXT});
    Bytes bad_version = tcp4(kOpen4);
    bad_version[14] = 0x65;  // version 6 behind an IPv4 ethertype
    v.push_back({"ipv4_bad_version", bad_version, bad_version.size(), FW_MAL_IPV4});
    Bytes bad_ihl = tcp4(kOpen4);
    bad_ihl[14] = 0x44;  // IHL 4 < 5
    v.push_back({"ipv4_ihl_below_5", bad_ihl, bad_ihl.size(), FW_MAL_IPV4});
    Bytes ihl_past_end = PacketBuilder().eth().ipv4(kOpen4, kDst4, 253).build();
    ihl_past_end[14] = 0x4F;  // claims 60 bytes, has 20
    v.push_back({"ipv4_ihl_past_end", ihl_past_end, ihl_past_end.size(), FW_MAL_IPV4});
    Bytes ext_past_end = PacketBuilder().eth().ipv6(kOpen6, kDst6, kUdp).ipv6_ext(kHop, kUdp).udp(1, 2).build();
    ext_past_end[55] = 10;  // hop-by-hop claims 88 bytes
    v.push_back({"ipv6_ext_len_past_end", ext_past_end, ext_past_end.size(), FW_MAL_IPV6_EXT});
    return v;
}

class XdpParseMalformed : public XdpParse, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(XdpParseMalformed, CountedUnderItsReasonAndPassedByDefault) {
    const auto& c = GetParam();
    auto r = run(c.frame, c.len);
    EXPECT_EQ(r.retval, XDP_PASS) << c.name;
    auto st = stats();
    for (int i = 0; i < FW_MAL_REASON_MAX; ++i)
        EXPECT_EQ(st.malformed[i], i == c.reason ? 1u : 0u) << c.name << ": reason " << mal_name(i);
    EXPECT_EQ(st.processed, 1u);
    EXPECT_EQ(st.bytes, c.len);
    EXPECT_EQ(st.passed, 1u);
    EXPECT_EQ(st.drop_reason[FW_DROP_MALFORMED], 0u);
}

TEST_P(XdpParseMalformed, DroppedWhenTheMalformedVerdictIsDrop) {
    const auto& c = GetParam();
    fp_->config().malformed_verdict = FW_VERDICT_DROP;
    auto r = run(c.frame, c.len);
    EXPECT_EQ(r.retval, XDP_DROP) << c.name;
    auto st = stats();
    EXPECT_EQ(st.malformed[c.reason], 1u) << c.name;
    EXPECT_EQ(st.dropped, 1u);
    EXPECT_EQ(st.drop_reason[FW_DROP_MALFORMED], 1u);
    // Back to the default at run time: same program, next packet passes.
    fp_->config().malformed_verdict = FW_VERDICT_PASS;
    EXPECT_EQ(run(c.frame, c.len).retval, XDP_PASS) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Cuts, XdpParseMalformed, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return info.param.name; });

TEST_F(XdpParse, ComplementsOfTheTruncationCasesAreWellFormed) {
    // The full frames used for truncation are themselves parsed without a malformed count, so
    // every counted case above is caused by the cut alone.
    for (const Bytes& f : {tcp4(kOpen4), icmp4(kOpen4), chain4_6(kOpen6), tcp6(kOpen6),
                           PacketBuilder().eth().vlan(5).ipv4(kOpen4, kDst4, kUdp, 8).udp(1, 2).build(),
                           PacketBuilder().eth().vlan(100, 0x88A8).vlan(5).ipv6(kOpen6, kDst6, kIcmp6).icmp_echo(1, 1, true).build()}) {
        EXPECT_EQ(run(f).retval, XDP_PASS);
        EXPECT_EQ(malformed_total(stats()), 0u) << "frame of " << f.size() << " bytes";
    }
}

TEST_F(XdpParse, EthernetRuntsNeverReachTheProgram) {
    Bytes frame = tcp4(kOpen4);
    for (size_t len : {0u, 1u, 6u, 13u}) {
        auto r = run_prefix(fp_->prog_fd(), frame, len);
        ASSERT_FALSE(r.ok()) << len << "-byte frame was run";
        EXPECT_EQ(r.error().errnum(), EINVAL);
        if (len > 0) EXPECT_EQ(run_with_metadata(fp_->prog_fd(), Bytes(frame.begin(), frame.begin() + len), 4), EINVAL);
    }
    // 14 bytes behind 4 of metadata run: the program sees the Ethernet header and no IPv4 header.
    EXPECT_EQ(run_with_metadata(fp_->prog_fd(), Bytes(frame.begin(), frame.begin() + 14), 4), 0);
    auto st = stats();
    EXPECT_EQ(st.processed, 1u);
    EXPECT_EQ(st.bytes, 14u);
    EXPECT_EQ(st.malformed[FW_MAL_ETH], 0u);
    EXPECT_EQ(st.malformed[FW_MAL_IPV4], 1u);
}

TEST_F(XdpParse, NonIpFramesPassUncounted) {
    Bytes arp = PacketBuilder().eth(0x0806).pad_to(60).build();
    EXPECT_EQ(run(arp).retval, XDP_PASS);
    auto st = stats();
    EXPECT_EQ(malformed_total(st), 0u);
    EXPECT_EQ(st.ipv4 + st.ipv6, 0u);
    EXPECT_EQ(st.passed, 1u);
}

}  // namespace
