// DNS domain blocking in the XDP fast path: suffix matching at label boundaries, case, name and
// label limits, malformed names, the bloom prefilter never dropping on its own, per-domain and
// global actions, and the NXDOMAIN answer checked byte for byte (IPv4, IPv6, VLAN tags).
#include <gtest/gtest.h>

#include "runtime/flows.hpp"
#include "xdp_feature_util.hpp"
#include "xdp_pass.skel.h"

using namespace flywall;
using namespace flywall::test;

namespace {

struct DnsCase {
    const char* what;
    Bytes qname;
    uint32_t verdict;
    bool malformed = false;
};

std::string label(char c, size_t n) { return std::string(n, c); }

// A 253-character name: 3 labels of 63 + 1 of 61 = 63*3+61 + 3 dots = 253.
std::string max_name() { return label('a', 63) + "." + label('b', 63) + "." + label('c', 63) + "." + label('d', 61); }

class XdpDns : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        fp_.emplace(load_fast_path(FW_F_DNS_BLOCKLIST));
        fp_->config().dns_action = FW_DNS_ACTION_DROP;
        auto dl = DomainBlocklist::of(*fp_);
        for (const char* d : {"ads.example.com", "tracker.test", "l63.test"}) ASSERT_TRUE(dl.add({d}).ok()) << d;
        ASSERT_TRUE(dl.add({max_name()}).ok());
        ASSERT_TRUE(dl.add({label('x', 63) + ".test"}).ok());
    }
    // Sends one UDP packet 198.18.0.10:1000 -> 198.18.1.1:2000 and marks its flow trusted.
    bool make_trusted_udp_flow() {
        auto udp = PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
        run_verdict(*fp_, udp);
        auto k = make_flow_key("198.18.0.10", "198.18.1.1", 1000, 2000, 17, 1);
        if (!k) return false;
        auto t = FlowTable::of(*fp_).set_trusted(*k, true);
        return t.ok() && *t;
    }
    std::optional<XdpFastPath> fp_;
};

TEST_F(XdpDns, SuffixMatchingCaseAndLimitsTable) {
    const DnsCase cases[] = {
        {"exact", wire_of("ads.example.com"), XDP_DROP},
        {"subdomain", wire_of("x.ads.example.com"), XDP_DROP},
        {"deep subdomain", wire_of("x.y.ads.example.com"), XDP_DROP},
        {"upper case", raw_wire({"ADS", "Example", "COM"}), XDP_DROP},
        {"mixed case subdomain", raw_wire({"WwW", "aDs", "eXaMpLe", "cOm"}), XDP_DROP},
        {"not at a label boundary", wire_of("badads.example.com"), XDP_PASS},
        {"parent domain", wire_of("example.com"), XDP_PASS},
        {"tld only", wire_of("com"), XDP_PASS},
        {"blocked name as a prefix", wire_of("ads.example.com.evil"), XDP_PASS},
        {"sibling", wire_of("bds.example.com"), XDP_PASS},
        {"another list entry", wire_of("a.b.tracker.test"), XDP_DROP},
        {"253-character name", wire_of(max_name()), XDP_DROP},
        {"63-character label", wire_of(label('x', 63) + ".test"), XDP_DROP},
        {"62-character label differs", wire_of(label('x', 62) + ".test"), XDP_PASS},
        {"root name", Bytes{0}, XDP_PASS},
        {"label of 64", raw_wire({label('x', 64), "test"}), XDP_PASS, true},
        {"254-character name", raw_wire({"e", label('a', 63), label('b', 63), label('c', 63), label('d', 60)}),
         XDP_PASS, true},
        {"compression pointer", Bytes{3, 'a', 'd', 's', 0xC0, 0x0C}, XDP_PASS, true},
        {"extended label type", Bytes{0x41, 'a', 0}, XDP_PASS, true},
        {"no terminating label", Bytes{3, 'a', 'd', 's'}, XDP_PASS, true},
    };
    for (const auto& c : cases) {
        ASSERT_TRUE(fp_->reset_stats().ok());
        auto payload = dns_query_payload(c.qname);
        if (std::string(c.what) == "no terminating label") payload.resize(12 + c.qname.size());
        for (Net net : {Net::V4, Net::V6, Net::V4Vlan, Net::V6QinQ}) {
            EXPECT_EQ(run_verdict(*fp_, dns_packet(payload, net)), c.verdict)
                << c.what << " net " << static_cast<int>(net);
        }
        auto st = stats_of(*fp_);
        EXPECT_EQ(st.malformed[FW_MAL_DNS], c.malformed ? 4u : 0u) << c.what;
        EXPECT_EQ(st.dns_blocked_drop, c.verdict == XDP_DROP ? 4u : 0u) << c.what;
    }
}

TEST_F(XdpDns, OnlyPort53QueriesAreInspected) {
    auto payload = dns_query_payload(wire_of("ads.example.com"));
    EXPECT_EQ(run_verdict(*fp_, dns_packet(payload, Net::V4, 5353)), XDP_PASS);
    auto response = dns_query_payload(wire_of("ads.example.com"), 1, 0x8180);
    EXPECT_EQ(run_verdict(*fp_, dns_packet(response)), XDP_PASS);
    auto two_questions = dns_query_payload(wire_of("ads.example.com"), 1, 0x0100, 1, false, 2);
    EXPECT_EQ(run_verdict(*fp_, dns_packet(two_questions)), XDP_PASS);
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.dns_not_inspected, 2u);
    EXPECT_EQ(st.dns_queries, 0u);
    fp_->config().features &= ~static_cast<__u32>(FW_F_DNS_BLOCKLIST);
    EXPECT_EQ(run_verdict(*fp_, dns_packet(payload)), XDP_PASS) << "feature switch off";
}

TEST_F(XdpDns, BloomFalsePositiveNeverDrops) {
    // "fp.test" is in the bloom filter only: the exact hash must overrule it.
    auto key = domain_key("fp.test");
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(fp_->dns_bloom().push(domain_bloom_hash(*key)).ok());
    auto maybe = fp_->dns_bloom().maybe_contains(domain_bloom_hash(*key));
    ASSERT_TRUE(maybe.ok() && *maybe);
    ASSERT_TRUE(fp_->reset_stats().ok());
    EXPECT_EQ(run_verdict(*fp_, dns_packet(dns_query_payload(wire_of("fp.test")))), XDP_PASS);
    EXPECT_EQ(run_verdict(*fp_, dns_packet(dns_query_payload(wire_of("www.fp.test")))), XDP_PASS);
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.dns_bloom_false_positive, 2u);
    EXPECT_EQ(st.dns_queries, 2u);
    EXPECT_EQ(st.dropped, 0u);
}

TEST_F(XdpDns, RemovedAndExpiredEntriesStopMatching) {
    auto dl = DomainBlocklist::of(*fp_);
    auto pkt = dns_packet(dns_query_payload(wire_of("a.tracker.test")));
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP);
    auto e = dl.lookup("tracker.test");
    ASSERT_TRUE(e.ok() && e->has_value());
    EXPECT_EQ((*e)->hits, 1u);
    ASSERT_TRUE(dl.remove("tracker.test").ok());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    ASSERT_TRUE(dl.add({"tracker.test", DomainAction::Global, /*expires_ns=*/1}).ok());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS) << "expired entry";
    ASSERT_TRUE(dl.add({"tracker.test", DomainAction::Global, 0}).ok());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP);
}

// A trusted DNS flow (a client's socket to its resolver) skips the DNS check only until a domain
// is added: DomainBlocklist bumps the policy generation, so the next query is checked.
TEST_F(XdpDns, DomainAddedLaterReachesATrustedFlow) {
    fp_->config().features |= FW_F_FLOW_TRACKING | FW_F_TRUSTED_OFFLOAD;
    auto pkt = dns_packet(dns_query_payload(wire_of("late.example")));
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    auto k = make_flow_key("198.18.0.10", "198.18.0.53", 40000, 53, 17, 1);
    ASSERT_TRUE(k.ok());
    auto t = FlowTable::of(*fp_).set_trusted(*k, true);
    ASSERT_TRUE(t.ok() && *t);
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 1u);
    ASSERT_TRUE(DomainBlocklist::of(*fp_).add({"late.example"}).ok());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP);
    std::vector<DomainRule> more{{"later.example"}};
    ASSERT_TRUE(DomainBlocklist::of(*fp_).add_many(more).ok());
    EXPECT_EQ(run_verdict(*fp_, dns_packet(dns_query_payload(wire_of("x.later.example")))), XDP_DROP);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 1u);
}

// ---- NXDOMAIN byte for byte ----

uint16_t rd16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }

// Recomputes every checksum of the answer and compares the whole frame with one built from scratch.
void check_nxdomain(const Bytes& query, const Bytes& answer, Net net, const Bytes& question) {
    const bool v4 = net == Net::V4 || net == Net::V4Vlan;
    const size_t l3 = 14 + (net == Net::V4Vlan ? 4 : net == Net::V6QinQ ? 8 : 0);
    const size_t l4 = l3 + (v4 ? 20 : 40);
    const size_t dns = l4 + 8;
    ASSERT_EQ(answer.size(), dns + 12 + question.size()) << "EDNS/additional data trimmed";
    // Ethernet: MACs swapped, tags kept.
    EXPECT_TRUE(std::equal(answer.begin(), answer.begin() + 6, query.begin() + 6));
    EXPECT_TRUE(std::equal(answer.begin() + 6, answer.begin() + 12, query.begin()));
    EXPECT_TRUE(std::equal(answer.begin() + 12, answer.begin() + l3, query.begin() + 12));
    // DNS: same ID, QR=1 RD copied RA=1 RCODE=3, counts 1/0/0/0, question echoed.
    EXPECT_EQ(rd16(answer, dns), rd16(query, dns));
    EXPECT_EQ(rd16(answer, dns + 2), 0x8183);
    EXPECT_EQ(rd16(answer, dns + 4), 1);
    EXPECT_EQ(rd16(answer, dns + 6), 0);
    EXPECT_EQ(rd16(answer, dns + 8), 0);
    EXPECT_EQ(rd16(answer, dns + 10), 0);
    EXPECT_TRUE(std::equal(question.begin(), question.end(), answer.begin() + dns + 12));
    // UDP ports swapped, length right.
    EXPECT_EQ(rd16(answer, l4), rd16(query, l4 + 2));
    EXPECT_EQ(rd16(answer, l4 + 2), rd16(query, l4));
    EXPECT_EQ(rd16(answer, l4 + 4), answer.size() - l4);
    // Checksums verified by recomputation: a correct checksum sums to 0xFFFF (folds to 0).
    uint32_t sum = 0;
    if (v4) {
        EXPECT_EQ(rd16(answer, l3 + 2), answer.size() - l3);
        EXPECT_EQ(csum_fold(csum_add(0, &answer[l3], 20)), 0) << "IPv4 header checksum";
        EXPECT_TRUE(std::equal(answer.begin() + l3 + 12, answer.begin() + l3 + 16, query.begin() + l3 + 16));
        EXPECT_TRUE(std::equal(answer.begin() + l3 + 16, answer.begin() + l3 + 20, query.begin() + l3 + 12));
        sum = csum_add(sum, &answer[l3 + 12], 8);
    } else {
        EXPECT_EQ(rd16(answer, l3 + 4), answer.size() - l4);
        EXPECT_TRUE(std::equal(answer.begin() + l3 + 8, answer.begin() + l3 + 24, query.begin() + l3 + 24));
        EXPECT_TRUE(std::equal(answer.begin() + l3 + 24, answer.begin() + l3 + 40, query.begin() + l3 + 8));
        sum = csum_add(sum, &answer[l3 + 8], 32);
    }
    EXPECT_NE(rd16(answer, l4 + 6), 0) << "UDP checksum computed";
    sum += 17 + uint32_t(answer.size() - l4);
    sum = csum_add(sum, &answer[l4], answer.size() - l4);
    EXPECT_EQ(csum_fold(sum), 0) << "UDP checksum";

    // And the whole frame equals one built independently by the packet builder.
    PacketBuilder b;
    b.eth();
    if (net == Net::V4Vlan) b.vlan(10);
    if (net == Net::V6QinQ) b.vlan(20, 0x88A8).vlan(30);
    if (v4)
        b.ipv4("198.18.0.53", "198.18.0.10", 17);
    else
        b.ipv6("2001:db8::53", "2001:db8::10", 17);
    Bytes msg = {answer[dns], answer[dns + 1], 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0};
    msg.insert(msg.end(), question.begin(), question.end());
    b.udp(53, 40000).payload(msg.data(), msg.size());
    Bytes expected = b.build();
    std::swap_ranges(expected.begin(), expected.begin() + 6, expected.begin() + 6);
    EXPECT_EQ(expected, answer);
}

TEST_F(XdpDns, NxdomainAnswerByteForByte) {
    fp_->config().dns_action = FW_DNS_ACTION_NXDOMAIN;
    for (Net net : {Net::V4, Net::V6, Net::V4Vlan, Net::V6QinQ}) {
        for (bool edns : {false, true}) {
            Bytes qname = raw_wire({"Tracker", "ADS", "example", "com"});  // case echoed as sent
            auto payload = dns_query_payload(qname, 0x1A2B, 0x0100, 28, edns);
            Bytes question(payload.begin() + 12, payload.begin() + 12 + qname.size() + 4);
            auto query = dns_packet(payload, net);
            Bytes answer;
            ASSERT_EQ(run_verdict(*fp_, query, &answer), XDP_TX) << static_cast<int>(net) << " edns " << edns;
            SCOPED_TRACE(::testing::Message() << "net " << static_cast<int>(net) << " edns " << edns);
            check_nxdomain(query, answer, net, question);
        }
    }
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.dns_blocked_nxdomain, 8u);
    EXPECT_EQ(st.tx, 8u);
}

TEST_F(XdpDns, PerDomainActionOverridesGlobal) {
    auto dl = DomainBlocklist::of(*fp_);
    ASSERT_TRUE(dl.add({"nx.test", DomainAction::Nxdomain}).ok());
    ASSERT_TRUE(dl.add({"dropme.test", DomainAction::Drop}).ok());
    fp_->config().dns_action = FW_DNS_ACTION_DROP;
    EXPECT_EQ(run_verdict(*fp_, dns_packet(dns_query_payload(wire_of("a.nx.test")))), XDP_TX);
    fp_->config().dns_action = FW_DNS_ACTION_NXDOMAIN;
    EXPECT_EQ(run_verdict(*fp_, dns_packet(dns_query_payload(wire_of("dropme.test")))), XDP_DROP);
    EXPECT_EQ(run_verdict(*fp_, dns_packet(dns_query_payload(wire_of("ads.example.com")))), XDP_TX);
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.dns_blocked_nxdomain, 2u);
    EXPECT_EQ(st.dns_blocked_drop, 1u);
}

TEST_F(XdpDns, NxdomainWithIpOptionsFallsBackToDrop) {
    fp_->config().dns_action = FW_DNS_ACTION_NXDOMAIN;
    auto payload = dns_query_payload(wire_of("ads.example.com"));
    auto pkt = PacketBuilder().eth().ipv4("198.18.0.10", "198.18.0.53", 17, 4).udp(40000, 53)
                   .payload(payload.data(), payload.size()).build();
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP);
    EXPECT_EQ(stats_of(*fp_).dns_nxdomain_unsupported, 1u);
}

TEST_F(XdpDns, NanosecondsPerPacketReport) {
    // Reported, not asserted (shared machine; the benchmark program owns the real figures).
    // Floor: the empty XDP program on the same packet in the same run.
    xdp_pass* floor = xdp_pass__open_and_load();
    ASSERT_NE(floor, nullptr);
    const uint32_t n = 200000;
    auto ns = [&](int fd, const Bytes& pkt) {
        auto r = run_prog(fd, pkt, n);
        EXPECT_TRUE(r.ok());
        return r.ok() ? r->duration_ns : 0u;
    };
    auto udp = PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
    auto pass = dns_packet(dns_query_payload(wire_of("www.example.org")));
    auto block = dns_packet(dns_query_payload(wire_of("www.ads.example.com")));
    uint32_t f = ns(bpf_program__fd(floor->progs.xdp_pass), udp);
    fp_->config().features = FW_F_STATS | FW_F_DNS_BLOCKLIST;
    uint32_t dns_pass = ns(fp_->prog_fd(), pass), dns_block = ns(fp_->prog_fd(), block);
    fp_->config().features = FW_F_STATS | FW_F_DNS_BLOCKLIST | FW_F_RATE_LIMIT | FW_F_FLOW_TRACKING |
                             FW_F_TRUSTED_OFFLOAD | FW_F_EVENTS | FW_F_IP_BLOCKLIST | FW_F_IP_ALLOWLIST;
    fp_->config().rl_pps = 1000000000;  // limiter on, never limiting
    uint32_t all_udp = ns(fp_->prog_fd(), udp), all_dns = ns(fp_->prog_fd(), pass);
    auto k = make_trusted_udp_flow();
    uint32_t trusted = k ? ns(fp_->prog_fd(), udp) : 0;
    fp_->config().rl_pps = 1;
    fp_->config().rl_burst_packets = 1;
    auto limited_pkt = PacketBuilder().eth().ipv4("198.18.0.77", "198.18.1.1", 17).udp(1, 2).pad_to(64).build();
    uint32_t limited = ns(fp_->prog_fd(), limited_pkt);
    std::printf("[ perf ] ns/packet (repeat %u): floor %u | DNS only: query passing %u, blocked %u | all features: "
                "UDP passing %u, DNS passing %u, trusted flow %u, rate-limited %u\n",
                n, f, dns_pass, dns_block, all_udp, all_dns, trusted, limited);
    xdp_pass__destroy(floor);
}

}  // namespace
