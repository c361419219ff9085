// Self-timing of xdp_blocklist (fw_stats.timed_*): 1 packet in 2^time_sample_shift is timed,
// chosen by the per-CPU `processed` count, so on every CPU exactly processed >> shift packets were
// timed; without statistics nothing is counted.
#include <gtest/gtest.h>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

struct Case {
    const char* name;
    __u32 shift;
    std::uint32_t packets;  // run as BPF_PROG_TEST_RUN repeats
};

class XdpSelfTiming : public ::testing::TestWithParam<Case> {};

TEST_P(XdpSelfTiming, TimesExactlyOneIn2PowShiftOnEveryCpu) {
    FW_REQUIRE_BPF();
    const Case c = GetParam();
    auto fp = XdpFastPath::load();
    ASSERT_TRUE(fp.ok()) << fp.error().message();
    EXPECT_EQ(fp->config().time_sample_shift, static_cast<__u32>(FW_TIME_SAMPLE_SHIFT_DEFAULT))
        << "loaded with the default";
    fp->config().time_sample_shift = c.shift;

    auto pkt = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
    auto r = run_prog(fp->prog_fd(), pkt, c.packets);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->retval, XDP_PASS);

    // The repeats may move between CPUs (the kernel reschedules between batches): exact per CPU.
    auto per_cpu = fp->stats().lookup_all(0);
    ASSERT_TRUE(per_cpu.ok()) << per_cpu.error().message();
    std::uint64_t processed = 0, timed = 0, timed_ns = 0;
    for (const fw_stats& s : *per_cpu) {
        EXPECT_EQ(s.timed_packets, s.processed >> c.shift);
        if (s.timed_packets == 0) {
            EXPECT_EQ(s.timed_ns, 0u);
        }
        processed += s.processed;
        timed += s.timed_packets;
        timed_ns += s.timed_ns;
    }
    EXPECT_EQ(processed, c.packets);
    EXPECT_LE(timed, static_cast<std::uint64_t>(c.packets >> c.shift));
    EXPECT_GE(timed + per_cpu->size(), static_cast<std::uint64_t>(c.packets >> c.shift));
    if (c.packets >> c.shift) {
        EXPECT_GT(timed, 0u);
        EXPECT_GT(timed_ns, 0u) << "two bpf_ktime_get_ns() reads around the body";
        // A plausible per-packet time: above 0 and below a millisecond.
        EXPECT_LT(timed_ns / timed, 1'000'000u);
    } else {
        EXPECT_EQ(timed, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Shifts, XdpSelfTiming,
                         ::testing::Values(Case{"every_packet", 0, 100}, Case{"one_in_8", 3, 1000},
                                           Case{"default_one_in_1024", FW_TIME_SAMPLE_SHIFT_DEFAULT, 5000},
                                           Case{"fewer_packets_than_period", 10, 1000},
                                           Case{"huge_shift", 63, 1000}),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(XdpSelfTimingOff, NothingCountedWithoutStatistics) {
    FW_REQUIRE_BPF();
    auto fp = XdpFastPath::load();
    ASSERT_TRUE(fp.ok()) << fp.error().message();
    fp->config().time_sample_shift = 0;
    fp->config().features &= ~static_cast<__u32>(FW_F_STATS);
    auto pkt = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
    auto r = run_prog(fp->prog_fd(), pkt, 50);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->retval, XDP_PASS);
    auto st = fp->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->processed, 0u);
    EXPECT_EQ(st->timed_packets, 0u);
    EXPECT_EQ(st->timed_ns, 0u);
}

}  // namespace
