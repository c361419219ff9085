// Exact-address fast tables of xdp_blocklist (bpf/lib/fw_fasttable.h) driven through IpLists and
// checked with BPF_PROG_TEST_RUN: entries beyond the probe bound overflow into the kernel hash
// and still match; the hash is consulted only while it holds entries and only for keys whose home
// slot is hinted; tombstones are reused;
// compaction moves overflow entries into freed slots keeping their hits; rebuild() recovers
// overflow counts and re-places a table written under another seed.
// Tables of 16 slots (= FW_FT_MAX_PROBE) make overflow deterministic: the 17th entry of a list
// cannot fit. Concurrent reads during writes are argued in fw_fasttable.h, not tested.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/iplists.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

Bytes udp_from(const std::string& src) {
    bool v6 = src.find(':') != std::string::npos;
    PacketBuilder b;
    b.eth();
    if (v6) b.ipv6(src.c_str(), "2001:db8:ffff::1", 17);
    else b.ipv4(src.c_str(), "198.18.255.1", 17);
    return b.udp(4000, 53).pad_to(64).build();
}

std::string v4(int i) { return "198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256); }
std::string v6(int i) { return "2001:db8:" + std::to_string(i) + "::1"; }

IpPrefix P(const std::string& s) {
    auto p = parse_ip_prefix(s);
    EXPECT_TRUE(p.ok()) << s;
    return p.ok() ? *p : IpPrefix{};
}

class XdpFastTable : public ::testing::Test {
public:
    void load(uint32_t slots) {
        XdpLoadOptions o;
        o.ft_slots4 = slots;
        o.ft_slots6 = slots;
        o.ft_seed = std::array<uint64_t, 2>{0x0123456789abcdefull, 0xfedcba9876543210ull};
        auto fp = XdpFastPath::load(o);
        ASSERT_TRUE(fp.ok()) << fp.error().message();
        fp_.emplace(std::move(*fp));
        lists_.emplace(*fp_);
    }
    void SetUp() override {
        FW_REQUIRE_BPF();
        load(16);
    }
    uint32_t verdict(const std::string& src) {
        auto r = run_prog(fp_->prog_fd(), udp_from(src));
        EXPECT_TRUE(r.ok()) << r.error().message();
        return r.ok() ? r->retval : 0xFFFFFFFFu;
    }
    void add_block(const std::vector<std::string>& addrs) {
        auto n = lists_->add_bulk(std::span<const std::string>(addrs), IpListKind::Block);
        ASSERT_TRUE(n.ok()) << n.error().message();
    }
    uint64_t hits(const std::string& a) {
        auto e = lists_->get(P(a), IpListKind::Block);
        EXPECT_TRUE(e.ok() && e->has_value()) << a;
        return e.ok() && e->has_value() ? (*e)->hits : ~0ull;
    }
    bool in_hash4(const std::string& a) {
        __u32 k;
        std::memcpy(&k, P(a).addr.data(), 4);
        auto v = fp_->block4().lookup(k);
        return v.ok() && v->has_value();
    }
    bool hash_skipped(unsigned table) { return fp_->ft_config().hash_skip & (1u << table); }

    std::optional<XdpFastPath> fp_;
    std::optional<IpLists> lists_;
};

TEST_F(XdpFastTable, EntriesBeyondTheProbeBoundOverflowIntoTheHashAndMatch) {
    std::vector<std::string> a4, a6;
    for (int i = 0; i < 40; ++i) a4.push_back(v4(i));
    for (int i = 0; i < 20; ++i) a6.push_back(v6(i));
    add_block(a4);
    add_block(a6);
    auto s4 = lists_->exact_stats(IpListKind::Block, 4);
    EXPECT_EQ(s4.slots, 16u);
    EXPECT_EQ(s4.used, 16u);
    EXPECT_EQ(s4.overflow, 24u);
    EXPECT_EQ(s4.table_bytes, 16u * sizeof(fw_ft4_slot));
    EXPECT_EQ(lists_->exact_stats(IpListKind::Block, 6).overflow, 4u);
    EXPECT_FALSE(hash_skipped(FW_FT_BLOCK4));
    EXPECT_FALSE(hash_skipped(FW_FT_BLOCK6));
    EXPECT_TRUE(hash_skipped(FW_FT_ALLOW4));
    auto cnt = fp_->block4().count();
    ASSERT_TRUE(cnt.ok());
    EXPECT_EQ(*cnt, 24u);
    for (const auto& a : a4) EXPECT_EQ(verdict(a), XDP_DROP) << a;
    for (const auto& a : a6) EXPECT_EQ(verdict(a), XDP_DROP) << a;
    EXPECT_EQ(verdict(v4(41)), XDP_PASS);
    EXPECT_EQ(verdict(v6(21)), XDP_PASS);
    for (const auto& a : a4) EXPECT_EQ(hits(a), 1u) << a;  // table and overflow entries alike
    auto all = lists_->list();
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 60u);
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Block, 4, false)].entries, 40u);

    // Re-adding an overflow entry updates it in the hash (no duplicate in the table).
    ASSERT_TRUE(lists_->add(a4[39], IpListKind::Block, MatchDir::Dst).ok());
    EXPECT_EQ(lists_->exact_stats(IpListKind::Block, 4).overflow, 24u);
    EXPECT_EQ(verdict(a4[39]), XDP_PASS);  // now destination-only
    EXPECT_EQ(hits(a4[39]), 1u);
}

TEST_F(XdpFastTable, HashConsultedOnlyWhileItHoldsEntries) {
    load(1u << 10);
    add_block({v4(1)});
    EXPECT_TRUE(hash_skipped(FW_FT_BLOCK4));
    EXPECT_EQ(lists_->exact_stats(IpListKind::Block, 4).overflow, 0u);
    // An entry written straight into the hash, behind the owner's back, is not looked up...
    __u32 k;
    std::memcpy(&k, P(v4(2)).addr.data(), 4);
    fw_ip_entry e{};
    e.flags = FW_ENTRY_MATCH_SRC;
    ASSERT_TRUE(fp_->block4().update(k, e).ok());
    EXPECT_EQ(verdict(v4(2)), XDP_PASS);
    EXPECT_EQ(verdict(v4(1)), XDP_DROP);
    // ...until a rebuild counts it as overflow and clears the skip bit.
    ASSERT_TRUE(lists_->rebuild().ok());
    EXPECT_EQ(lists_->exact_stats(IpListKind::Block, 4).overflow, 1u);
    EXPECT_FALSE(hash_skipped(FW_FT_BLOCK4));
    EXPECT_EQ(verdict(v4(2)), XDP_DROP);
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Block, 4, false)].entries, 2u);
    // Removing it empties the hash again.
    auto r = lists_->remove(v4(2), IpListKind::Block);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_TRUE(hash_skipped(FW_FT_BLOCK4));
    EXPECT_EQ(verdict(v4(2)), XDP_PASS);
}

TEST_F(XdpFastTable, MissesConsultTheHashOnlyWhereAKeyOverflowed) {
    load(1u << 8);
    // Fill one home's probe window: 17 keys with the same home, the last overflows.
    FtCounts scratch;
    FastTable<__u32> view(fp_->ft_block4(), fp_->ft_config().seed, &scratch);
    std::vector<std::string> same_home, other;
    uint32_t home = 0;
    for (int i = 0; same_home.size() < FW_FT_MAX_PROBE + 1 || other.empty(); ++i) {
        __u32 k;
        std::memcpy(&k, P(v4(i)).addr.data(), 4);
        if (same_home.empty()) home = view.home(k);
        if (view.home(k) == home) same_home.push_back(v4(i));
        else if (view.home(k) / 64 != home / 64 && other.empty()) other.push_back(v4(i));
    }
    add_block(same_home);
    ASSERT_EQ(lists_->exact_stats(IpListKind::Block, 4).overflow, 1u);
    EXPECT_FALSE(hash_skipped(FW_FT_BLOCK4));
    EXPECT_EQ(fp_->ft_hints(FW_FT_BLOCK4)[home / 64], __u64(1) << (home % 64));
    for (const auto& a : same_home) EXPECT_EQ(verdict(a), XDP_DROP) << a;
    // A key put straight into the hash with an unhinted home is never looked up...
    __u32 k;
    std::memcpy(&k, P(other[0]).addr.data(), 4);
    fw_ip_entry e{};
    e.flags = FW_ENTRY_MATCH_SRC;
    ASSERT_TRUE(fp_->block4().update(k, e).ok());
    EXPECT_EQ(verdict(other[0]), XDP_PASS);
    // ...and is found once its home is hinted.
    uint32_t h = view.home(k);
    fp_->ft_hints(FW_FT_BLOCK4)[h / 64] |= __u64(1) << (h % 64);
    EXPECT_EQ(verdict(other[0]), XDP_DROP);
}

TEST_F(XdpFastTable, TombstonesAreSkippedByProbesAndReused) {
    std::vector<std::string> a;
    for (int i = 0; i < 16; ++i) a.push_back(v4(i));
    add_block(a);
    ASSERT_EQ(lists_->exact_stats(IpListKind::Block, 4).used, 16u);
    // Two removals in a full table leave tombstones (below the compaction threshold of 1/8).
    std::vector<IpPrefix> gone{P(a[3]), P(a[9])};
    auto r = lists_->remove_bulk(std::span<const IpPrefix>(gone), IpListKind::Block);
    ASSERT_TRUE(r.ok() && *r == 2u);
    auto s = lists_->exact_stats(IpListKind::Block, 4);
    EXPECT_EQ(s.used, 14u);
    EXPECT_EQ(s.tombstones, 2u);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(verdict(a[i]), (i == 3 || i == 9) ? XDP_PASS : XDP_DROP) << a[i];
    // New entries take the tombstones' slots: nothing overflows.
    add_block({v4(100), v4(101)});
    s = lists_->exact_stats(IpListKind::Block, 4);
    EXPECT_EQ(s.used, 16u);
    EXPECT_EQ(s.tombstones, 0u);
    EXPECT_EQ(s.overflow, 0u);
    EXPECT_EQ(verdict(v4(100)), XDP_DROP);
    EXPECT_EQ(verdict(v4(101)), XDP_DROP);
    // And the removed ones can come back (they overflow now: the table is full).
    add_block({a[3]});
    EXPECT_EQ(lists_->exact_stats(IpListKind::Block, 4).overflow, 1u);
    EXPECT_EQ(verdict(a[3]), XDP_DROP);
}

TEST_F(XdpFastTable, CompactionMovesOverflowIntoFreedSlotsKeepingHits) {
    std::vector<std::string> a;
    for (int i = 0; i < 24; ++i) a.push_back(v4(i));
    add_block(a);
    ASSERT_EQ(lists_->exact_stats(IpListKind::Block, 4).overflow, 8u);
    std::vector<std::string> table_resident, overflowed;
    for (const auto& x : a) (in_hash4(x) ? overflowed : table_resident).push_back(x);
    ASSERT_EQ(overflowed.size(), 8u);
    for (const auto& x : overflowed) EXPECT_EQ(verdict(x), XDP_DROP);
    for (const auto& x : overflowed) EXPECT_EQ(verdict(x), XDP_DROP);
    // Removing 8 table entries leaves 8 tombstones (> 1/8 of the slots): remove_bulk compacts
    // and the 8 overflow entries move into the table, with their hits.
    std::vector<IpPrefix> gone;
    for (int i = 0; i < 8; ++i) gone.push_back(P(table_resident[i]));
    auto r = lists_->remove_bulk(std::span<const IpPrefix>(gone), IpListKind::Block);
    ASSERT_TRUE(r.ok() && *r == 8u);
    auto s = lists_->exact_stats(IpListKind::Block, 4);
    EXPECT_EQ(s.used, 16u);
    EXPECT_EQ(s.tombstones, 0u);
    EXPECT_EQ(s.overflow, 0u);
    EXPECT_TRUE(hash_skipped(FW_FT_BLOCK4));
    auto cnt = fp_->block4().count();
    ASSERT_TRUE(cnt.ok());
    EXPECT_EQ(*cnt, 0u);
    for (const auto& x : overflowed) {
        EXPECT_EQ(hits(x), 2u) << x;
        EXPECT_EQ(verdict(x), XDP_DROP) << x;
        EXPECT_EQ(hits(x), 3u) << x;  // now counted in the table slot
    }
    for (int i = 0; i < 8; ++i) EXPECT_EQ(verdict(table_resident[i]), XDP_PASS);
    for (size_t i = 8; i < table_resident.size(); ++i) EXPECT_EQ(verdict(table_resident[i]), XDP_DROP);
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Block, 4, false)], (TableCounts{16, 16, 0}));
}

TEST_F(XdpFastTable, ExplicitCompactMigratesAfterSpaceFreesUp) {
    load(1u << 10);
    std::vector<std::string> a;
    for (int i = 0; i < 30; ++i) a.push_back(v4(i));
    add_block(a);
    auto m = lists_->compact();
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ(*m, 0u);  // nothing overflowed in 1,024 slots
    EXPECT_EQ(lists_->exact_stats(IpListKind::Block, 4).used, 30u);
}

TEST_F(XdpFastTable, RebuildRepairsATableWrittenUnderAnotherSeed) {
    load(1u << 8);
    std::vector<std::string> a;
    for (int i = 0; i < 100; ++i) a.push_back(v4(i));
    for (int i = 0; i < 20; ++i) a.push_back(v6(i));
    add_block(a);
    for (const auto& x : a) ASSERT_EQ(verdict(x), XDP_DROP);
    // A new owner with another seed over the same slots (e.g. a restart reusing pinned tables).
    fp_->ft_config().seed[0] ^= 0x5555;
    size_t lost = 0;
    for (const auto& x : a) lost += verdict(x) == XDP_PASS;
    EXPECT_GT(lost, 50u);  // homes moved: most entries are out of reach until repaired
    IpLists restarted(*fp_);
    ASSERT_TRUE(restarted.rebuild().ok());
    for (const auto& x : a) EXPECT_EQ(verdict(x), XDP_DROP) << x;
    auto s4 = restarted.exact_stats(IpListKind::Block, 4);
    EXPECT_EQ(s4.used + s4.overflow, 100u);
    EXPECT_EQ(restarted.counts()[table_index(IpListKind::Block, 4, false)].entries, 100u);
    EXPECT_EQ(restarted.counts()[table_index(IpListKind::Block, 6, false)].entries, 20u);
    for (const auto& x : a) {
        auto e = restarted.get(P(x), IpListKind::Block);
        ASSERT_TRUE(e.ok() && e->has_value()) << x;
        EXPECT_GE((*e)->hits, 1u);
    }
}

TEST_F(XdpFastTable, InvalidSlotCountsAreRejected) {
    XdpLoadOptions o;
    o.ft_slots4 = 1000;
    auto fp = XdpFastPath::load(o);
    ASSERT_FALSE(fp.ok());
    EXPECT_NE(fp.error().message().find("powers of two"), std::string::npos) << fp.error().message();
}

}  // namespace
