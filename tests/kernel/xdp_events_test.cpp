// Ring-buffer events read back with ring_buffer__new/consume and decoded: blocked IP, blocked
// domain (with its dotted name), rate-limit trip (once per source per second), new flow (only
// when enabled); the BPF-side cap, sampling and a full ring are all counted, none silent.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include "runtime/events_decode.hpp"
#include "runtime/ratelimit.hpp"
#include "xdp_feature_util.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

struct Reader {
    std::vector<XdpEvent> events;
    std::vector<std::string> errors;
    ring_buffer* rb = nullptr;
    explicit Reader(int fd) {
        rb = ring_buffer__new(fd, &Reader::on_event, this, nullptr);
        EXPECT_NE(rb, nullptr);
    }
    ~Reader() { ring_buffer__free(rb); }
    static int on_event(void* ctx, void* data, size_t size) {
        auto* self = static_cast<Reader*>(ctx);
        auto e = events::decode(data, size);
        if (e.ok())
            self->events.push_back(*e);
        else
            self->errors.push_back(e.error().message());
        return 0;
    }
    size_t drain() {
        int n = ring_buffer__consume(rb);
        EXPECT_GE(n, 0);
        return events.size();
    }
};

Bytes udp_from(const char* src) {
    return PacketBuilder().eth().ipv4(src, "198.18.1.1", 17).udp(1234, 4321).pad_to(64).build();
}

class XdpEvents : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        fp_.emplace(load_fast_path(FW_F_EVENTS | FW_F_IP_BLOCKLIST));
        auto a = ip4("198.18.0.66");
        std::memcpy(&blocked_, a.data(), 4);
        fw_ip_entry e{};
        e.flags = FW_ENTRY_MATCH_SRC;
        ASSERT_TRUE(fp_->block4().update(blocked_, e).ok());
        fp_->config().tables |= FW_T_BLOCK4_EXACT_SRC;
    }
    std::optional<XdpFastPath> fp_;
    __u32 blocked_ = 0;
};

TEST_F(XdpEvents, BlockedIpEventDecoded) {
    Reader r(fp_->events_fd());
    EXPECT_EQ(run_verdict(*fp_, udp_from("198.18.0.66")), XDP_DROP);
    ASSERT_EQ(r.drain(), 1u);
    const auto& e = r.events[0];
    EXPECT_EQ(e.type, XdpEventType::IpBlocked);
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.proto, 17);
    EXPECT_EQ(e.src, "198.18.0.66");
    EXPECT_EQ(e.dst, "198.18.1.1");
    EXPECT_EQ(e.sport, 1234);
    EXPECT_EQ(e.dport, 4321);
    EXPECT_EQ(e.reason_text, "ip_blocklist");
    EXPECT_GT(e.ts_ns, 0u);
    EXPECT_EQ(to_json(e).find("\"type\":\"ip_blocked\""), 1u);
    EXPECT_EQ(stats_of(*fp_).events_emitted, 1u);
}

TEST_F(XdpEvents, BlockedDomainEventCarriesTheQueriedName) {
    fp_->config().features |= FW_F_DNS_BLOCKLIST;
    fp_->config().dns_action = FW_DNS_ACTION_NXDOMAIN;
    ASSERT_TRUE(DomainBlocklist::of(*fp_).add({"ads.example.com"}).ok());
    Reader r(fp_->events_fd());
    auto payload = dns_query_payload(raw_wire({"Www", "ads", "example", "com"}));
    EXPECT_EQ(run_verdict(*fp_, dns_packet(payload, Net::V6)), XDP_TX);
    ASSERT_EQ(r.drain(), 1u);
    const auto& e = r.events[0];
    EXPECT_EQ(e.type, XdpEventType::DomainBlocked);
    EXPECT_EQ(e.domain, "Www.ads.example.com");
    EXPECT_EQ(e.family, 6);
    EXPECT_EQ(e.src, "2001:db8::10");
    EXPECT_EQ(e.dport, 53);
    EXPECT_EQ(e.reason_text, "nxdomain");
    EXPECT_NE(to_json(e).find("\"domain\":\"Www.ads.example.com\""), std::string::npos);
}

TEST_F(XdpEvents, RateLimitTripOncePerSourcePerSecond) {
    RateLimitSettings s;
    s.pps = 1;
    s.burst_packets = 1;
    ASSERT_TRUE(apply_rate_limits(fp_->config(), s).ok());
    Reader r(fp_->events_fd());
    for (int i = 0; i < 10; ++i) run_verdict(*fp_, udp_from("198.18.0.7"));
    for (int i = 0; i < 10; ++i) run_verdict(*fp_, udp_from("198.18.0.8"));
    ASSERT_EQ(r.drain(), 2u);
    EXPECT_EQ(r.events[0].type, XdpEventType::RateLimited);
    EXPECT_EQ(r.events[0].src, "198.18.0.7");
    EXPECT_EQ(r.events[0].reason_text, "packets");
    EXPECT_EQ(r.events[1].src, "198.18.0.8");
    EXPECT_EQ(stats_of(*fp_).rl_limited, 18u);
}

TEST_F(XdpEvents, NewFlowEventsOnlyWhenEnabled) {
    fp_->config().features |= FW_F_FLOW_TRACKING;
    Reader r(fp_->events_fd());
    run_verdict(*fp_, udp_from("198.18.0.9"));
    EXPECT_EQ(r.drain(), 0u);
    fp_->config().features |= FW_F_NEW_FLOW_EVENTS;
    run_verdict(*fp_, udp_from("198.18.0.10"));
    run_verdict(*fp_, udp_from("198.18.0.10"));  // existing flow: no event
    ASSERT_EQ(r.drain(), 1u);
    EXPECT_EQ(r.events[0].type, XdpEventType::NewFlow);
    EXPECT_EQ(r.events[0].src, "198.18.0.10");
}

TEST_F(XdpEvents, CapSuppressesAndCounts) {
    fp_->config().max_events_per_sec = 1;  // no refill during the test
    fp_->config().event_burst = 5;
    Reader r(fp_->events_fd());
    for (int i = 0; i < 20; ++i) EXPECT_EQ(run_verdict(*fp_, udp_from("198.18.0.66")), XDP_DROP);
    EXPECT_EQ(r.drain(), 5u);
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.events_emitted, 5u);
    EXPECT_EQ(st.events_suppressed_rate, 15u);
    EXPECT_EQ(st.dropped, 20u) << "the cap limits events, never verdicts";
    fp_->event_cap_state() = 0;  // refill the cap bucket
    run_verdict(*fp_, udp_from("198.18.0.66"));
    EXPECT_EQ(r.drain(), 6u);
}

TEST_F(XdpEvents, SamplingCounted) {
    fp_->config().event_sample_shift = 2;
    Reader r(fp_->events_fd());
    for (int i = 0; i < 400; ++i) run_verdict(*fp_, udp_from("198.18.0.66"));
    size_t got = r.drain();
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.events_emitted + st.events_sampled_out, 400u);
    EXPECT_EQ(got, st.events_emitted);
    EXPECT_GE(got, 50u);
    EXPECT_LE(got, 160u);
}

TEST_F(XdpEvents, FullRingCountedNotLost) {
    Reader r(fp_->events_fd());
    const uint32_t n = 20000;  // the 4 MiB ring holds about 12,700 records of 320 + 8 bytes
    auto res = run_prog(fp_->prog_fd(), udp_from("198.18.0.66"), n);
    ASSERT_TRUE(res.ok());
    auto st = stats_of(*fp_);
    EXPECT_GT(st.events_suppressed_ring_full, 0u);
    EXPECT_EQ(st.events_emitted + st.events_suppressed_ring_full, n);
    EXPECT_EQ(r.drain(), st.events_emitted) << "every emitted event is readable";
    EXPECT_TRUE(r.errors.empty());
    run_verdict(*fp_, udp_from("198.18.0.66"));
    EXPECT_EQ(r.drain(), st.events_emitted + 1) << "drained ring accepts events again";
}

TEST(XdpEventDecode, RejectsShortAndUnknownRecords) {
    fw_event raw{};
    EXPECT_FALSE(events::decode(&raw, sizeof(raw) - 1).ok());
    raw.type = 99;
    raw.family = 4;
    EXPECT_FALSE(events::decode(&raw, sizeof(raw)).ok());
    raw.type = FW_EV_DOMAIN_BLOCKED;
    raw.name_len = 0;
    EXPECT_FALSE(events::decode(&raw, sizeof(raw)).ok()) << "domain event without a name";
    raw.name_len = 3;
    std::memcpy(raw.name, "a\"\x01", 4);
    auto e = events::decode(&raw, sizeof(raw));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->domain, "a\"\\001");
    EXPECT_NE(to_json(*e).find("\"domain\":\"a\\\"\\\\001\""), std::string::npos) << to_json(*e);
}

}  // namespace
