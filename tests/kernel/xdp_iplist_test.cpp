// IP allowlist/blocklist of xdp_blocklist driven through IpLists, checked with
// BPF_PROG_TEST_RUN: exact vs CIDR, IPv4 and IPv6, source vs destination, allowlist precedence,
// expiry and reaping, per-entry hits, statistics, feature switches at run time, LPM guards, and
// the bookkeeping (table bits, guard reference counts, rebuild from the maps).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "bpf_test_run.hpp"
#include "flywall/guard.h"
#include "packet_builder.hpp"
#include "runtime/iplists.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;
using namespace std::chrono_literals;

namespace {

constexpr uint8_t kGuardAllow = 1, kGuardBlock = 2;

Bytes udp_packet(const char* src, const char* dst) {
    bool v6 = std::string(src).find(':') != std::string::npos;
    PacketBuilder b;
    b.eth();
    if (v6) b.ipv6(src, dst, 17);
    else b.ipv4(src, dst, 17);
    return b.udp(4000, 53).pad_to(64).build();
}

IpPrefix P(const char* s) {
    auto p = parse_ip_prefix(s);
    EXPECT_TRUE(p.ok()) << s;
    return p.ok() ? *p : IpPrefix{};
}

class XdpIpList : public ::testing::Test {
public:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto fp = XdpFastPath::load();
        ASSERT_TRUE(fp.ok()) << fp.error().message();
        fp_.emplace(std::move(*fp));
        lists_.emplace(*fp_);
    }
    uint32_t verdict(const char* src, const char* dst) {
        auto r = run_prog(fp_->prog_fd(), udp_packet(src, dst));
        EXPECT_TRUE(r.ok()) << r.error().message();
        return r.ok() ? r->retval : 0xFFFFFFFFu;
    }
    void add(const char* text, IpListKind list, MatchDir dir = MatchDir::Src,
             std::optional<std::chrono::nanoseconds> ttl = {}) {
        auto st = lists_->add(text, list, dir, ttl);
        ASSERT_TRUE(st.ok()) << text << ": " << st.error().message();
    }
    uint64_t hits(const char* text, IpListKind list) {
        auto e = lists_->get(P(text), list);
        EXPECT_TRUE(e.ok() && e->has_value()) << text;
        return e.ok() && e->has_value() ? (*e)->hits : ~0ull;
    }
    fw_stats stats() {
        auto s = fp_->stats_total();
        EXPECT_TRUE(s.ok()) << s.error().message();
        return s.ok() ? *s : fw_stats{};
    }
    uint8_t guard4(uint32_t slot) {
        auto v = fp_->guard4().lookup(slot);
        return v.ok() && v->has_value() ? **v : 0xFF;
    }
    uint8_t guard6(uint32_t slot) {
        auto v = fp_->guard6().lookup(slot);
        return v.ok() && v->has_value() ? **v : 0xFF;
    }
    // The program sees exactly the bits the bookkeeping computed.
    void expect_tables_published() {
        EXPECT_EQ(fp_->config().tables & 0x3FFFFu, lists_->table_bits());
    }

    std::optional<XdpFastPath> fp_;
    std::optional<IpLists> lists_;
};

struct MatchCase {
    const char* src;
    const char* dst;
    uint32_t verdict;
};

void run_cases(XdpIpList& t, uint32_t (XdpIpList::*verdict)(const char*, const char*),
               std::initializer_list<MatchCase> cases) {
    for (const auto& c : cases)
        EXPECT_EQ((t.*verdict)(c.src, c.dst), c.verdict) << c.src << " -> " << c.dst;
}

TEST_F(XdpIpList, ExactAndCidrIpv4AndIpv6) {
    add("198.18.1.5", IpListKind::Block);
    add("198.18.2.0/24", IpListKind::Block);
    add("2001:db8:1::5", IpListKind::Block);
    add("2001:db8:2::/48", IpListKind::Block);
    const auto& n = lists_->counts();
    EXPECT_EQ(n[table_index(IpListKind::Block, 4, false)].entries, 1u);
    EXPECT_EQ(n[table_index(IpListKind::Block, 4, true)].entries, 1u);
    EXPECT_EQ(n[table_index(IpListKind::Block, 6, false)].entries, 1u);
    EXPECT_EQ(n[table_index(IpListKind::Block, 6, true)].entries, 1u);
    expect_tables_published();
    EXPECT_EQ(lists_->table_bits(), FW_T_BLOCK4_EXACT_SRC | FW_T_BLOCK4_LPM_SRC | FW_T_BLOCK6_EXACT_SRC |
                                        FW_T_BLOCK6_LPM_SRC);
    run_cases(*this, &XdpIpList::verdict,
              {{"198.18.1.5", "198.18.9.9", XDP_DROP},
               {"198.18.1.6", "198.18.9.9", XDP_PASS},
               {"198.18.2.0", "198.18.9.9", XDP_DROP},
               {"198.18.2.77", "198.18.9.9", XDP_DROP},
               {"198.18.2.255", "198.18.9.9", XDP_DROP},
               {"198.18.3.1", "198.18.9.9", XDP_PASS},
               {"198.18.9.9", "198.18.1.5", XDP_PASS},  // source match only
               {"2001:db8:1::5", "2001:db8:9::9", XDP_DROP},
               {"2001:db8:1::6", "2001:db8:9::9", XDP_PASS},
               {"2001:db8:2:ffff::1", "2001:db8:9::9", XDP_DROP},
               {"2001:db8:3::1", "2001:db8:9::9", XDP_PASS}});
    EXPECT_EQ(hits("198.18.1.5", IpListKind::Block), 1u);
    EXPECT_EQ(hits("198.18.2.0/24", IpListKind::Block), 3u);
    EXPECT_EQ(hits("2001:db8:1::5", IpListKind::Block), 1u);
    EXPECT_EQ(hits("2001:db8:2::/48", IpListKind::Block), 1u);
}

TEST_F(XdpIpList, SourceDestinationAndBoth) {
    add("198.18.5.1", IpListKind::Block, MatchDir::Dst);
    add("198.18.6.0/24", IpListKind::Block, MatchDir::Dst);
    add("198.18.7.1", IpListKind::Block, MatchDir::Both);
    add("2001:db8:5::1", IpListKind::Block, MatchDir::Dst);
    add("2001:db8:6::/64", IpListKind::Block, MatchDir::Both);
    expect_tables_published();
    EXPECT_EQ(lists_->table_bits(), FW_T_BLOCK4_EXACT_DST | FW_T_BLOCK4_LPM_DST | FW_T_BLOCK4_EXACT_SRC |
                                        FW_T_BLOCK6_EXACT_DST | FW_T_BLOCK6_LPM_SRC | FW_T_BLOCK6_LPM_DST);
    run_cases(*this, &XdpIpList::verdict,
              {{"198.18.5.1", "198.18.9.9", XDP_PASS},  // dst-only entry as source
               {"198.18.9.9", "198.18.5.1", XDP_DROP},
               {"198.18.6.20", "198.18.9.9", XDP_PASS},
               {"198.18.9.9", "198.18.6.20", XDP_DROP},
               {"198.18.7.1", "198.18.9.9", XDP_DROP},
               {"198.18.9.9", "198.18.7.1", XDP_DROP},
               {"2001:db8:5::1", "2001:db8:9::9", XDP_PASS},
               {"2001:db8:9::9", "2001:db8:5::1", XDP_DROP},
               {"2001:db8:6::7", "2001:db8:9::9", XDP_DROP},
               {"2001:db8:9::9", "2001:db8:6::7", XDP_DROP}});
    // Re-adding replaces the direction and keeps the hit counter.
    uint64_t before = hits("198.18.5.1", IpListKind::Block);
    add("198.18.5.1", IpListKind::Block, MatchDir::Src);
    EXPECT_EQ(hits("198.18.5.1", IpListKind::Block), before);
    const auto& c = lists_->counts()[table_index(IpListKind::Block, 4, false)];
    EXPECT_EQ(c, (TableCounts{2, 2, 1}));  // 198.18.5.1 src, 198.18.7.1 both
    expect_tables_published();
    EXPECT_EQ(verdict("198.18.5.1", "198.18.9.9"), XDP_DROP);
    EXPECT_EQ(verdict("198.18.9.9", "198.18.5.1"), XDP_PASS);
}

TEST_F(XdpIpList, AllowlistTakesPrecedence) {
    add("198.18.10.0/24", IpListKind::Block);
    add("198.18.10.7", IpListKind::Allow);  // allow /32 inside a blocked /24
    add("198.18.11.9", IpListKind::Block);
    add("198.18.11.0/24", IpListKind::Allow);  // allow CIDR over a blocked exact entry
    add("2001:db8:10::/48", IpListKind::Block);
    add("2001:db8:10::7", IpListKind::Allow);
    add("2001:db8:11::9", IpListKind::Block);
    add("2001:db8:11::/48", IpListKind::Allow);
    add("198.18.12.0/24", IpListKind::Allow, MatchDir::Dst);  // allow by destination
    add("198.18.13.1", IpListKind::Block);
    ASSERT_TRUE(fp_->reset_stats().ok());
    run_cases(*this, &XdpIpList::verdict,
              {{"198.18.10.7", "198.18.9.9", XDP_PASS},
               {"198.18.10.8", "198.18.9.9", XDP_DROP},
               {"198.18.11.9", "198.18.9.9", XDP_PASS},
               {"2001:db8:10::7", "2001:db8:9::9", XDP_PASS},
               {"2001:db8:10::8", "2001:db8:9::9", XDP_DROP},
               {"2001:db8:11::9", "2001:db8:9::9", XDP_PASS},
               {"198.18.13.1", "198.18.12.5", XDP_PASS},
               {"198.18.13.1", "198.18.14.5", XDP_DROP}});
    auto st = stats();
    EXPECT_EQ(st.allowlist_hits, 5u);
    EXPECT_EQ(st.blocklist_hits, 3u);
    EXPECT_EQ(hits("198.18.10.7", IpListKind::Allow), 1u);
    EXPECT_EQ(hits("198.18.11.9", IpListKind::Block), 0u);  // never reached: allowed first
    EXPECT_EQ(hits("198.18.11.0/24", IpListKind::Allow), 1u);
}

TEST_F(XdpIpList, ExpiredEntriesDoNotMatchAndAreReaped) {
    add("198.18.20.1", IpListKind::Block, MatchDir::Src, 1h);
    add("198.18.20.2", IpListKind::Block, MatchDir::Src, 1ns);
    add("198.18.21.0/24", IpListKind::Block, MatchDir::Src, 1ns);
    add("2001:db8:20::2", IpListKind::Block, MatchDir::Src, 1ns);
    add("198.18.22.0/24", IpListKind::Allow, MatchDir::Src, 1ns);
    add("198.18.22.0/23", IpListKind::Block);
    std::this_thread::sleep_for(2ms);
    run_cases(*this, &XdpIpList::verdict,
              {{"198.18.20.1", "198.18.9.9", XDP_DROP},
               {"198.18.20.2", "198.18.9.9", XDP_PASS},
               {"198.18.21.3", "198.18.9.9", XDP_PASS},
               {"2001:db8:20::2", "2001:db8:9::9", XDP_PASS},
               {"198.18.22.3", "198.18.9.9", XDP_DROP}});  // expired allow no longer overrides
    EXPECT_EQ(hits("198.18.20.2", IpListKind::Block), 0u);

    auto live = lists_->get(P("198.18.20.1"), IpListKind::Block);
    ASSERT_TRUE(live.ok() && live->has_value());
    ASSERT_TRUE((*live)->remaining_ns.has_value());
    EXPECT_GT(*(*live)->remaining_ns, uint64_t(3590) * 1000000000ull);
    EXPECT_LE(*(*live)->remaining_ns, uint64_t(3600) * 1000000000ull);
    auto dead = lists_->get(P("198.18.20.2"), IpListKind::Block);
    ASSERT_TRUE(dead.ok() && dead->has_value());
    EXPECT_EQ((*dead)->remaining_ns, std::optional<uint64_t>(0));

    auto reaped = lists_->reap_expired();
    ASSERT_TRUE(reaped.ok()) << reaped.error().message();
    EXPECT_EQ(*reaped, 4u);
    auto all = lists_->list();
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 2u);
    EXPECT_EQ(lists_->total_entries(), 2u);
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Block, 6, false)], TableCounts{});
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Allow, 4, true)], TableCounts{});
    expect_tables_published();
    EXPECT_EQ(lists_->table_bits(), FW_T_BLOCK4_EXACT_SRC | FW_T_BLOCK4_LPM_SRC);
    EXPECT_EQ(guard4((198u << 8) | 18u), kGuardBlock);  // the /23 remains, the allow /24 left
    auto again = lists_->reap_expired();
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0u);
}

TEST_F(XdpIpList, PerEntryHitCountersAndStatistics) {
    add("198.18.30.1", IpListKind::Block);
    add("198.18.31.0/24", IpListKind::Block);
    add("198.18.32.1", IpListKind::Allow);
    add("2001:db8:30::/64", IpListKind::Block);
    ASSERT_TRUE(fp_->reset_stats().ok());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(verdict("198.18.30.1", "198.18.9.9"), XDP_DROP);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(verdict("198.18.31.200", "198.18.9.9"), XDP_DROP);
    EXPECT_EQ(verdict("198.18.32.1", "198.18.9.9"), XDP_PASS);
    EXPECT_EQ(verdict("2001:db8:30::1", "2001:db8:9::9"), XDP_DROP);
    EXPECT_EQ(verdict("198.18.33.1", "198.18.9.9"), XDP_PASS);
    EXPECT_EQ(hits("198.18.30.1", IpListKind::Block), 3u);
    EXPECT_EQ(hits("198.18.31.0/24", IpListKind::Block), 2u);
    EXPECT_EQ(hits("198.18.32.1", IpListKind::Allow), 1u);
    EXPECT_EQ(hits("2001:db8:30::/64", IpListKind::Block), 1u);
    auto all = lists_->list();
    ASSERT_TRUE(all.ok());
    uint64_t listed_hits = 0;
    for (const auto& e : *all) listed_hits += e.hits;
    EXPECT_EQ(listed_hits, 7u);

    auto st = stats();
    EXPECT_EQ(st.processed, 8u);
    EXPECT_EQ(st.dropped, 6u);
    EXPECT_EQ(st.passed, 2u);
    EXPECT_EQ(st.drop_reason[FW_DROP_IP_BLOCKLIST], 6u);
    EXPECT_EQ(st.blocklist_hits, 6u);
    EXPECT_EQ(st.allowlist_hits, 1u);
    EXPECT_EQ(st.ipv4, 7u);
    EXPECT_EQ(st.ipv6, 1u);
    EXPECT_EQ(st.bytes, 7u * 64u + udp_packet("2001:db8:30::1", "2001:db8:9::9").size());
}

TEST_F(XdpIpList, FeatureSwitchesToggleAtRunTimeWithoutReload) {
    add("198.18.40.0/24", IpListKind::Block);
    add("198.18.40.7", IpListKind::Allow);
    int fd = fp_->prog_fd();
    EXPECT_EQ(verdict("198.18.40.1", "198.18.9.9"), XDP_DROP);
    fp_->config().features &= ~FW_F_IP_BLOCKLIST;
    EXPECT_EQ(verdict("198.18.40.1", "198.18.9.9"), XDP_PASS);
    fp_->config().features |= FW_F_IP_BLOCKLIST;
    EXPECT_EQ(verdict("198.18.40.1", "198.18.9.9"), XDP_DROP);

    EXPECT_EQ(verdict("198.18.40.7", "198.18.9.9"), XDP_PASS);
    fp_->config().features &= ~FW_F_IP_ALLOWLIST;  // allowlist off: the /24 block applies
    EXPECT_EQ(verdict("198.18.40.7", "198.18.9.9"), XDP_DROP);
    fp_->config().features |= FW_F_IP_ALLOWLIST;
    EXPECT_EQ(verdict("198.18.40.7", "198.18.9.9"), XDP_PASS);

    ASSERT_TRUE(fp_->reset_stats().ok());
    fp_->config().features &= ~FW_F_STATS;
    EXPECT_EQ(verdict("198.18.40.1", "198.18.9.9"), XDP_DROP);
    EXPECT_EQ(stats().processed, 0u);
    fp_->config().features |= FW_F_STATS;
    EXPECT_EQ(verdict("198.18.40.1", "198.18.9.9"), XDP_DROP);
    EXPECT_EQ(stats().processed, 1u);
    EXPECT_EQ(fp_->prog_fd(), fd);  // same program throughout
}

TEST_F(XdpIpList, GuardGatesTheTrieLookup) {
    // An entry written straight into the trie without its guard slot is not looked up: the
    // guard is what lets passing packets skip the trie.
    fw_lpm4_key k{24, {198, 18, 50, 0}};
    fw_ip_entry e{};
    e.flags = FW_ENTRY_MATCH_SRC;
    ASSERT_TRUE(fp_->block4_lpm().update(k, e).ok());
    fp_->config().tables |= FW_T_BLOCK4_LPM_SRC;
    EXPECT_EQ(verdict("198.18.50.1", "198.18.9.9"), XDP_PASS);
    // A prefix in another /16 sets only its own slot: still no match for 198.18.50.1.
    add("198.19.50.0/24", IpListKind::Block);
    EXPECT_EQ(guard4((198u << 8) | 19u), kGuardBlock);
    EXPECT_EQ(guard4((198u << 8) | 18u), 0u);
    EXPECT_EQ(verdict("198.18.50.1", "198.18.9.9"), XDP_PASS);
    EXPECT_EQ(verdict("198.19.50.1", "198.18.9.9"), XDP_DROP);
    // Same for IPv6: a /48 in another /32.
    fw_lpm6_key k6{48, {}};
    std::memcpy(k6.addr, P("2001:db8:50::").addr.data(), 16);
    ASSERT_TRUE(fp_->block6_lpm().update(k6, e).ok());
    add("2001:db9:50::/48", IpListKind::Block);
    EXPECT_EQ(verdict("2001:db8:50::1", "2001:db8:9::9"), XDP_PASS);
    EXPECT_EQ(verdict("2001:db9:50::1", "2001:db8:9::9"), XDP_DROP);
    EXPECT_EQ(guard6(fw_guard6_slot(P("2001:db9::").addr.data())), kGuardBlock);
}

TEST_F(XdpIpList, GuardClearedOnlyWhenTheLastPrefixOfItsSlotGoes) {
    const uint32_t slot = (198u << 8) | 18u;
    add("198.18.60.0/24", IpListKind::Block);
    add("198.18.61.0/24", IpListKind::Block);
    add("198.18.0.0/15", IpListKind::Allow, MatchDir::Dst);  // covers slots 198.18 and 198.19
    EXPECT_EQ(lists_->guard4_refs(IpListKind::Block, slot), 2u);
    EXPECT_EQ(guard4(slot), kGuardBlock | kGuardAllow);
    EXPECT_EQ(guard4(slot + 1), kGuardAllow);

    auto r = lists_->remove("198.18.60.0/24", IpListKind::Block);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(lists_->guard4_refs(IpListKind::Block, slot), 1u);
    EXPECT_EQ(guard4(slot), kGuardBlock | kGuardAllow);
    EXPECT_EQ(verdict("198.18.60.1", "198.17.9.9"), XDP_PASS);
    EXPECT_EQ(verdict("198.18.61.1", "198.17.9.9"), XDP_DROP);

    r = lists_->remove("198.18.61.0/24", IpListKind::Block);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(lists_->guard4_refs(IpListKind::Block, slot), 0u);
    EXPECT_EQ(guard4(slot), kGuardAllow);
    EXPECT_EQ(lists_->table_bits(), FW_T_ALLOW4_LPM_DST);
    expect_tables_published();
    r = lists_->remove("198.18.61.0/24", IpListKind::Block);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(*r);  // already gone

    r = lists_->remove("198.18.0.0/15", IpListKind::Allow);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(guard4(slot), 0u);
    EXPECT_EQ(guard4(slot + 1), 0u);
    EXPECT_EQ(fp_->config().tables & 0x3FFFFu, 0u);

    // IPv6: two /48s in one /32 share a slot; a /31 is unguarded.
    uint32_t s6 = fw_guard6_slot(P("2001:db8::").addr.data());
    add("2001:db8:60::/48", IpListKind::Block);
    add("2001:db8:61::/48", IpListKind::Block);
    add("2001:db8::/31", IpListKind::Block, MatchDir::Dst);
    EXPECT_EQ(lists_->guard6_refs(IpListKind::Block, s6), 2u);
    EXPECT_EQ(lists_->unguarded6_refs(IpListKind::Block), 1u);
    EXPECT_TRUE(fp_->config().tables & FW_T_BLOCK6_LPM_UNGUARDED);
    EXPECT_EQ(verdict("2001:db8:9::1", "2001:db9:77::1"), XDP_DROP);  // via the unguarded /31
    ASSERT_TRUE(lists_->remove("2001:db8:60::/48", IpListKind::Block).ok());
    EXPECT_EQ(guard6(s6), kGuardBlock);
    ASSERT_TRUE(lists_->remove("2001:db8:61::/48", IpListKind::Block).ok());
    EXPECT_EQ(guard6(s6), 0u);
    ASSERT_TRUE(lists_->remove("2001:db8::/31", IpListKind::Block).ok());
    EXPECT_FALSE(fp_->config().tables & FW_T_BLOCK6_LPM_UNGUARDED);
    EXPECT_EQ(verdict("2001:db8:9::1", "2001:db9:77::1"), XDP_PASS);
}

TEST_F(XdpIpList, BulkAddIsAllOrNothingAndDeduplicates) {
    std::vector<std::string> bad{"198.18.70.1", "198.18.70.0/24", "2001:db8::70", "198.18.70.300", "198.18.70.2"};
    auto r = lists_->add_bulk(std::span<const std::string>(bad), IpListKind::Block);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("198.18.70.300"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("#3"), std::string::npos) << r.error().message();
    EXPECT_EQ(lists_->total_entries(), 0u);
    auto none = lists_->list();
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(fp_->config().tables & 0x3FFFFu, 0u);

    std::vector<IpEntrySpec> specs;
    for (uint32_t i = 0; i < 10000; ++i) {
        IpEntrySpec s;
        s.prefix.family = 4;
        s.prefix.prefix_len = 32;
        s.prefix.addr = {198, 18, uint8_t(100 + i / 256), uint8_t(i % 256)};
        specs.push_back(s);
    }
    specs.push_back(specs[5]);  // duplicate: the last wins
    specs.back().dir = MatchDir::Dst;
    specs.push_back(IpEntrySpec{P("198.18.0.0/16"), IpListKind::Block, MatchDir::Dst, {}, 7});
    specs.push_back(IpEntrySpec{P("2001:db8:70::/48"), IpListKind::Allow, MatchDir::Src, {}, 7});
    auto n = lists_->add_bulk(std::span<const IpEntrySpec>(specs));
    ASSERT_TRUE(n.ok()) << n.error().message();
    EXPECT_EQ(*n, 10002u);
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Block, 4, false)], (TableCounts{10000, 9999, 1}));
    auto cnt = fp_->block4().count();  // the overflow hash: empty, all fit the fast table
    ASSERT_TRUE(cnt.ok());
    auto ex = lists_->exact_stats(IpListKind::Block, 4);
    EXPECT_EQ(ex.used + *cnt, 10000u);
    EXPECT_EQ(ex.overflow, *cnt);
    expect_tables_published();
    EXPECT_EQ(verdict("198.18.100.4", "198.17.0.1"), XDP_DROP);
    EXPECT_EQ(verdict("198.18.100.5", "198.17.0.1"), XDP_PASS);  // became dst-only

    std::vector<IpPrefix> gone;
    for (uint32_t i = 0; i < 5000; ++i) gone.push_back(specs[i].prefix);
    gone.push_back(P("198.17.0.1"));  // absent: not counted
    auto removed = lists_->remove_bulk(std::span<const IpPrefix>(gone), IpListKind::Block);
    ASSERT_TRUE(removed.ok()) << removed.error().message();
    EXPECT_EQ(*removed, 5000u);
    EXPECT_EQ(lists_->counts()[table_index(IpListKind::Block, 4, false)], (TableCounts{5000, 5000, 0}));
    EXPECT_EQ(verdict("198.18.100.4", "198.17.0.1"), XDP_PASS);
    EXPECT_EQ(verdict("198.18.120.4", "198.17.0.1"), XDP_DROP);
    expect_tables_published();

    ASSERT_TRUE(lists_->clear().ok());
    EXPECT_EQ(lists_->total_entries(), 0u);
    EXPECT_EQ(fp_->config().tables & 0x3FFFFu, 0u);
    auto left = lists_->list();
    ASSERT_TRUE(left.ok());
    EXPECT_TRUE(left->empty());
    EXPECT_EQ(guard4((198u << 8) | 18u), 0u);
    EXPECT_EQ(verdict("198.18.120.4", "198.17.0.1"), XDP_PASS);
}

TEST_F(XdpIpList, RebuildRecoversBookkeepingFromTheMaps) {
    add("198.18.80.1", IpListKind::Block, MatchDir::Both);
    add("198.18.81.0/24", IpListKind::Block);
    add("10.0.0.0/8", IpListKind::Allow, MatchDir::Dst);
    add("2001:db8:80::/56", IpListKind::Allow);
    add("2001:db8::/30", IpListKind::Block);
    add("2001:db8:80::1", IpListKind::Block, MatchDir::Dst);
    // A stale guard bit from a previous owner must be cleared by the rebuild.
    ASSERT_TRUE(fp_->guard4().update(12345, kGuardBlock).ok());

    IpLists restarted(*fp_);
    fp_->config().tables = 0;
    ASSERT_TRUE(restarted.rebuild().ok());
    EXPECT_EQ(restarted.counts(), lists_->counts());
    EXPECT_EQ(restarted.table_bits(), lists_->table_bits());
    EXPECT_EQ(fp_->config().tables & 0x3FFFFu, lists_->table_bits());
    EXPECT_EQ(restarted.guard4_refs(IpListKind::Allow, 10u << 8), 1u);
    EXPECT_EQ(restarted.guard4_refs(IpListKind::Block, (198u << 8) | 18u), 1u);
    EXPECT_EQ(restarted.unguarded6_refs(IpListKind::Block), 1u);
    EXPECT_EQ(guard4(12345), 0u);
    EXPECT_EQ(guard4((10u << 8) | 77u), kGuardAllow);
    EXPECT_EQ(verdict("198.18.81.9", "198.17.0.1"), XDP_DROP);
    EXPECT_EQ(verdict("198.18.81.9", "10.1.2.3"), XDP_PASS);
    EXPECT_EQ(verdict("2001:db8:9::1", "2001:db8:80::1"), XDP_DROP);
    // The restarted owner can remove what the first one added.
    auto r = restarted.remove("198.18.81.0/24", IpListKind::Block);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(verdict("198.18.81.9", "198.17.0.1"), XDP_PASS);
}

}  // namespace
