// Self-timing of tc_classifier (fw_tc_stats.timed_*), as xdp_self_timing_test does for XDP:
// exactly packets >> shift timed on every CPU, nothing counted without statistics.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "bpf_test_run.hpp"
#include "flywall/abi.h"
#include "packet_builder.hpp"
#include "runtime/tc_classifier.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

struct TcCase {
    const char* name;
    __u32 shift;
    std::uint32_t packets;
};

class TcSelfTiming : public ::testing::TestWithParam<TcCase> {};

TEST_P(TcSelfTiming, TimesExactlyOneIn2PowShiftOnEveryCpu) {
    FW_REQUIRE_BPF();
    const TcCase c = GetParam();
    auto tc = TcClassifier::load();
    ASSERT_TRUE(tc.ok()) << tc.error().message();
    EXPECT_EQ(tc->config().time_sample_shift, static_cast<__u32>(FW_TIME_SAMPLE_SHIFT_DEFAULT));
    tc->config().time_sample_shift = c.shift;

    auto pkt = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", IPPROTO_UDP).udp(1000, 2000).pad_to(64).build();
    auto r = run_prog(tc->prog_fd(), pkt, c.packets);
    ASSERT_TRUE(r.ok()) << r.error().message();

    auto per_cpu = tc->stats().lookup_all(0);
    ASSERT_TRUE(per_cpu.ok()) << per_cpu.error().message();
    std::uint64_t packets = 0, timed = 0, timed_ns = 0;
    for (const fw_tc_stats& s : *per_cpu) {
        EXPECT_EQ(s.timed_packets, s.packets >> c.shift);
        packets += s.packets;
        timed += s.timed_packets;
        timed_ns += s.timed_ns;
    }
    EXPECT_EQ(packets, c.packets);
    EXPECT_LE(timed, static_cast<std::uint64_t>(c.packets >> c.shift));
    EXPECT_GE(timed + per_cpu->size(), static_cast<std::uint64_t>(c.packets >> c.shift));
    if (c.packets >> c.shift) {
        EXPECT_GT(timed, 0u);
        EXPECT_GT(timed_ns, 0u);
    } else {
        EXPECT_EQ(timed_ns, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Shifts, TcSelfTiming,
                         ::testing::Values(TcCase{"every_packet", 0, 100}, TcCase{"one_in_8", 3, 1000},
                                           TcCase{"default_one_in_1024", FW_TIME_SAMPLE_SHIFT_DEFAULT, 5000},
                                           TcCase{"fewer_packets_than_period", 10, 1000}),
                         [](const ::testing::TestParamInfo<TcCase>& i) { return std::string(i.param.name); });

TEST(TcSelfTimingOff, NothingCountedWithoutStatistics) {
    FW_REQUIRE_BPF();
    auto tc = TcClassifier::load();
    ASSERT_TRUE(tc.ok()) << tc.error().message();
    tc->config().time_sample_shift = 0;
    tc->config().features &= ~static_cast<__u32>(FW_TC_F_STATS);
    auto pkt = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", IPPROTO_UDP).udp(1000, 2000).pad_to(64).build();
    ASSERT_TRUE(run_prog(tc->prog_fd(), pkt, 50).ok());
    auto st = tc->stats_total();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->packets, 0u);
    EXPECT_EQ(st->timed_packets, 0u);
    EXPECT_EQ(st->timed_ns, 0u);
}

}  // namespace
