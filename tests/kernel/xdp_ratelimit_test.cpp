// Per-source rate limiting: burst then drop, refill after real time passes and after the stored
// bucket state is moved into the past, bytes/s, per-protocol limits, IPv6 prefix grouping,
// occupancy, and exactness under two CPUs (no token is spent twice).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "runtime/flows.hpp"
#include "runtime/ratelimit.hpp"
#include "xdp_feature_util.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

Bytes udp_from(const char* src, size_t size = 64) {
    return PacketBuilder().eth().ipv4(src, "198.18.1.1", 17).udp(1000, 2000).pad_to(size).build();
}

class XdpRateLimit : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        fp_.emplace(load_fast_path(0));
    }
    void limits(const RateLimitSettings& s) { ASSERT_TRUE(apply_rate_limits(fp_->config(), s).ok()); }
    int passes(const Bytes& pkt, int n) {
        int ok = 0;
        for (int i = 0; i < n; ++i) ok += run_verdict(*fp_, pkt) == XDP_PASS;
        return ok;
    }
    // Two threads run `pkt` 20 x 1000 times each at once (BPF_PROG_TEST_RUN runs on the
    // calling thread's CPU); returns the seconds it took (the refill the bucket may add).
    double flood_from_two_cpus(const Bytes& pkt) {
        auto t0 = std::chrono::steady_clock::now();
        auto worker = [&] {
            for (int i = 0; i < 20; ++i) ASSERT_TRUE(run_prog(fp_->prog_fd(), pkt, 1000).ok());
        };
        std::thread t1(worker), t2(worker);
        t1.join();
        t2.join();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    fw_flow_key flow_key_of(const char* src) {
        auto k = make_flow_key(src, "198.18.1.1", 1000, 2000, 17, 1);
        EXPECT_TRUE(k.ok());
        return k.ok() ? *k : fw_flow_key{};
    }
    std::optional<XdpFastPath> fp_;
};

TEST_F(XdpRateLimit, BurstThenDropThenRefillAfterStateMovesIntoThePast) {
    RateLimitSettings s;
    s.pps = 1;  // so slow that no refill happens during the test
    s.burst_packets = 5;
    limits(s);
    auto a = udp_from("198.18.0.1"), b = udp_from("198.18.0.2");
    EXPECT_EQ(passes(a, 8), 5);
    EXPECT_EQ(passes(b, 1), 1) << "another source has its own bucket";
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.rl_limited, 3u);
    EXPECT_EQ(st.drop_reason[FW_DROP_RATE_LIMIT], 3u);
    EXPECT_EQ(st.rl_sources_new, 2u);

    auto table = RateLimiterTable::of(*fp_);
    auto key = rate_limit_key("198.18.0.1");
    ASSERT_TRUE(key.ok());
    auto state = table.lookup(*key);
    ASSERT_TRUE(state.ok() && state->has_value());
    EXPECT_EQ((*state)->limited, 3u);
    auto occ = table.occupancy();
    ASSERT_TRUE(occ.ok());
    EXPECT_EQ(*occ, 2u);
    auto top = table.top_limited(10);
    ASSERT_TRUE(top.ok());
    ASSERT_EQ(top->size(), 1u);
    EXPECT_EQ(format_rate_limit_key(top->front().key), "198.18.0.1");

    // Move the bucket's theoretical arrival time into the past: the bucket is full again.
    fw_rl_state past = **state;
    past.pkt.tat_ns = 0;
    auto stored = table.store(*key, past);
    ASSERT_TRUE(stored.ok() && *stored);
    EXPECT_EQ(passes(a, 8), 5);
}

TEST_F(XdpRateLimit, RefillsWithRealTime) {
    RateLimitSettings s;
    s.pps = 1000;  // one token per millisecond
    s.burst_packets = 3;
    limits(s);
    auto a = udp_from("198.18.0.3");
    int first = passes(a, 10);
    EXPECT_GE(first, 3);
    EXPECT_LE(first, 4);  // at most one refill during ten test runs
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int second = passes(a, 10);
    EXPECT_GE(second, 3) << "bucket refilled, capped at the burst";
    EXPECT_LE(second, 4);
}

TEST_F(XdpRateLimit, BytesPerSecond) {
    RateLimitSettings s;
    s.bps = 1;  // no refill during the test
    s.burst_bytes = 250;
    limits(s);
    EXPECT_EQ(passes(udp_from("198.18.0.4", 100), 5), 2);
    EXPECT_EQ(passes(udp_from("198.18.0.4", 60), 1), 0) << "50 bytes left, 60 asked";
    EXPECT_EQ(passes(udp_from("198.18.0.5", 250), 2), 1);
}

TEST_F(XdpRateLimit, PerProtocolLimitsTable) {
    struct Case {
        const char* what;
        RateLimitSettings s;
        Bytes limited;       // charged to the protocol bucket (burst 2)
        Bytes other;         // not charged to it
        __u64 fw_stats::*counter;
    };
    RateLimitSettings syn, icmp, udp;
    syn.syn_pps = 1, syn.syn_burst = 2;
    icmp.icmp_pps = 1, icmp.icmp_burst = 2;
    udp.udp_pps = 1, udp.udp_burst = 2;
    const Case cases[] = {
        {"syn", syn, PacketBuilder().eth().ipv4("198.18.0.6", "198.18.1.1", 6).tcp(1, 80, 0x02).build(),
         PacketBuilder().eth().ipv4("198.18.0.6", "198.18.1.1", 6).tcp(1, 80, 0x12).build(),
         &fw_stats::rl_limited_syn},
        {"icmp", icmp, PacketBuilder().eth().ipv4("198.18.0.7", "198.18.1.1", 1).icmp_echo(1, 1).build(),
         udp_from("198.18.0.7"), &fw_stats::rl_limited_icmp},
        {"icmpv6", icmp,
         PacketBuilder().eth().ipv6("2001:db8:1::7", "2001:db8::1", 58).icmp_echo(1, 1, true).build(),
         PacketBuilder().eth().ipv6("2001:db8:1::7", "2001:db8::1", 17).udp(1, 2).build(),
         &fw_stats::rl_limited_icmp},
        {"udp", udp, udp_from("198.18.0.8"),
         PacketBuilder().eth().ipv4("198.18.0.8", "198.18.1.1", 6).tcp(1, 80, 0x02).build(),
         &fw_stats::rl_limited_udp},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        ASSERT_TRUE(fp_->reset_stats().ok());
        limits(c.s);
        EXPECT_EQ(passes(c.limited, 5), 2);
        EXPECT_EQ(passes(c.other, 5), 5) << "other traffic of the same source is not limited";
        auto st = stats_of(*fp_);
        EXPECT_EQ(st.*(c.counter), 3u);
        EXPECT_EQ(st.rl_limited, 3u);
    }
}

TEST_F(XdpRateLimit, Ipv6SourcesGroupedByPrefix) {
    RateLimitSettings s;
    s.pps = 1;
    s.burst_packets = 2;
    limits(s);
    auto v6 = [](const char* src) {
        return PacketBuilder().eth().ipv6(src, "2001:db8::1", 17).udp(1, 2).build();
    };
    EXPECT_EQ(passes(v6("2001:db8:0:1::a"), 1), 1);
    EXPECT_EQ(passes(v6("2001:db8:0:1::b"), 3), 1) << "same /64 shares the bucket";
    EXPECT_EQ(passes(v6("2001:db8:0:2::a"), 3), 2) << "another /64 has its own";
    auto key = rate_limit_key("2001:db8:0:1:ffff::1", 64);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(format_rate_limit_key(*key), "2001:db8:0:1::/64");
    auto st = RateLimiterTable::of(*fp_).lookup(*key);
    ASSERT_TRUE(st.ok() && st->has_value()) << "kernel and user space mask the same way";
    s.ipv6_prefix_len = 128;
    limits(s);
    EXPECT_EQ(passes(v6("2001:db8:0:1::c"), 3), 2) << "/128: every address on its own";
    s.ipv6_prefix_len = 129;
    EXPECT_FALSE(apply_rate_limits(fp_->config(), s).ok());
}

TEST_F(XdpRateLimit, TwoCpusNeverSpendATokenTwice) {
    if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "SKIP: needs two CPUs";
    RateLimitSettings s;
    s.pps = 1;
    s.burst_packets = 1000;
    limits(s);
    double secs = flood_from_two_cpus(udp_from("198.18.0.9"));
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.processed, 40000u);
    EXPECT_GE(st.passed, 1000u) << "no token lost";
    EXPECT_LE(st.passed, 1000u + static_cast<uint64_t>(secs) + 1) << "no token spent twice";
    EXPECT_EQ(st.passed + st.rl_limited, 40000u);
}

// Batched charging: a tracked flow charges burst/16 packets at once and passes on that credit.
// One flow alone gets exactly its burst (credit is never lost when nothing competes for it).
TEST_F(XdpRateLimit, TrackedFlowChargesInBatchesAndStaysExact) {
    fp_->config().features |= FW_F_FLOW_TRACKING;
    RateLimitSettings s;
    s.pps = 1;  // no refill during the test
    s.burst_packets = 160;  // batch of 10
    limits(s);
    auto a = udp_from("198.18.0.11");
    EXPECT_EQ(passes(a, 200), 160);
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.rl_limited, 40u);
    // The first packet has no flow yet (charged alone); then the batch ramps with the flow's
    // packets (1, 2, 4, 8, then the cap of 10) until fewer tokens than a batch are left, which
    // are charged one by one: 1+2+... worked out, 137 of the 160 pass on credit.
    EXPECT_EQ(st.rl_batched, 137u);
    // A second flow of the same source shares the source's buckets: nothing is left for it.
    auto b = PacketBuilder().eth().ipv4("198.18.0.11", "198.18.1.1", 17).udp(1001, 2000).pad_to(64).build();
    EXPECT_EQ(passes(b, 5), 0);
}

// Bytes/s batches use this packet's size; bigger packets later cannot ride on smaller credit.
TEST_F(XdpRateLimit, ByteCreditNeverCoversMoreBytesThanCharged) {
    fp_->config().features |= FW_F_FLOW_TRACKING;
    RateLimitSettings s;
    s.bps = 1;
    s.burst_bytes = 64 * 16 * 4;  // batch: 4096 / 16 = 256 bytes = 4 packets of 64
    limits(s);
    int small = passes(udp_from("198.18.0.12", 64), 8);
    EXPECT_EQ(small, 8);
    // 4096 - 512 bytes left; 1000-byte packets: 3 fit.
    EXPECT_EQ(passes(udp_from("198.18.0.12", 1000), 10), 3);
}

// Credit expires window/16 after it was charged, so idle flows cannot bank tokens: with a
// 1,600-packet burst at 100/s (window 16 s, expiry 1 s), credit left in a flow is gone 1 s later.
TEST_F(XdpRateLimit, FlowCreditExpires) {
    fp_->config().features |= FW_F_FLOW_TRACKING;
    RateLimitSettings s;
    s.pps = 100;
    s.burst_packets = 1600;  // batch 64 after the ramp
    limits(s);
    auto a = udp_from("198.18.0.14");
    EXPECT_EQ(passes(a, 70), 70);  // ramp 1,2,4,...,64: credit left in the flow
    auto key = flow_key_of("198.18.0.14");
    auto v = FlowTable::of(*fp_).lookup(key);
    ASSERT_TRUE(v.ok() && v->has_value());
    uint64_t credit_pkts = ((*v)->rl_credit >> 22) & 63;
    ASSERT_GT(credit_pkts, 0u) << "the flow holds credit";
    auto before = stats_of(*fp_).rl_batched;
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    EXPECT_EQ(passes(a, 1), 1);
    EXPECT_EQ(stats_of(*fp_).rl_batched, before) << "expired credit is not spent";
}

TEST_F(XdpRateLimit, TwoCpusWithBatchedFlowsNeverExceedTheBucket) {
    if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "SKIP: needs two CPUs";
    fp_->config().features |= FW_F_FLOW_TRACKING;
    RateLimitSettings s;
    s.pps = 1;
    s.burst_packets = 1000;  // batch 62
    limits(s);
    double secs = flood_from_two_cpus(udp_from("198.18.0.13"));
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.passed + st.rl_limited, 40000u);
    EXPECT_LE(st.passed, 1000u + static_cast<uint64_t>(secs) + 1) << "no token spent twice";
    std::printf("[ info ] one flow on two CPUs at once: %llu of 1000 tokens used, %llu on credit\n",
                static_cast<unsigned long long>(st.passed), static_cast<unsigned long long>(st.rl_batched));
    // Both CPUs run the same flow here, the worst case (RSS keeps a real flow on one CPU):
    // credit is merged, not overwritten, and a failed spend is retried, so little is lost (1000
    // of 1000 in quiet runs; the bound leaves room for a loaded machine).
    EXPECT_GE(st.passed, 250u);
    EXPECT_GT(st.rl_batched, 0u);
}

TEST_F(XdpRateLimit, DisabledCostsNothingAndPasses) {
    RateLimitSettings s;
    s.pps = 1;
    s.burst_packets = 1;
    limits(s);
    EXPECT_TRUE(fp_->config().features & FW_F_RATE_LIMIT);
    limits(RateLimitSettings{});
    EXPECT_FALSE(fp_->config().features & FW_F_RATE_LIMIT);
    EXPECT_EQ(passes(udp_from("198.18.0.10"), 5), 5);
    EXPECT_EQ(stats_of(*fp_).rl_sources_new, 0u);
}

}  // namespace
