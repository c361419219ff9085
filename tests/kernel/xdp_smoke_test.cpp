// Smoke test of the load path: the XDP fast path loads, passes an unlisted packet, drops a
// blocklisted source and counts both in the per-CPU statistics.
#include <gtest/gtest.h>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;

TEST(XdpSmoke, LoadsPassesAndDropsBlocklistedSource) {
    FW_REQUIRE_BPF();
    auto fp = XdpFastPath::load();
    ASSERT_TRUE(fp.ok()) << fp.error().message();

    auto blocked = ip4("198.18.0.66");
    __u32 key;
    std::memcpy(&key, blocked.data(), 4);
    fw_ip_entry e{};
    e.flags = FW_ENTRY_MATCH_SRC;
    ASSERT_TRUE(fp->block4().update(key, e).ok());
    fp->config().tables |= FW_T_BLOCK4_EXACT_SRC;

    auto pass_pkt = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
    auto drop_pkt = PacketBuilder().eth().ipv4("198.18.0.66", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();

    auto r1 = run_prog(fp->prog_fd(), pass_pkt);
    ASSERT_TRUE(r1.ok()) << r1.error().message();
    EXPECT_EQ(r1->retval, XDP_PASS);
    auto r2 = run_prog(fp->prog_fd(), drop_pkt);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->retval, XDP_DROP);

    auto st = fp->stats_total();
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(st->processed, 2u);
    EXPECT_EQ(st->passed, 1u);
    EXPECT_EQ(st->dropped, 1u);
    EXPECT_EQ(st->drop_reason[FW_DROP_IP_BLOCKLIST], 1u);

    auto hit = fp->block4().lookup(key);
    ASSERT_TRUE(hit.ok() && hit->has_value());
    EXPECT_EQ((*hit)->hits, 1u);
}
