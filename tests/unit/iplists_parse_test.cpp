// Pure parts of IpLists: entry parsing and normalisation, guard slot computation, table bits.
#include <gtest/gtest.h>

#include "flywall/guard.h"
#include "runtime/iplists.hpp"

using namespace flywall;

namespace {

struct ParseCase {
    const char* text;
    uint8_t family;
    uint8_t len;
    const char* canonical;  // to_string() of the parsed prefix
};

class IpListsParseOk : public ::testing::TestWithParam<ParseCase> {};

TEST_P(IpListsParseOk, ParsesAndNormalises) {
    const auto& c = GetParam();
    auto p = parse_ip_prefix(c.text);
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(p->family, c.family);
    EXPECT_EQ(p->prefix_len, c.len);
    EXPECT_EQ(p->to_string(), c.canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IpListsParseOk,
    ::testing::Values(ParseCase{"198.18.0.1", 4, 32, "198.18.0.1"},
                      ParseCase{"198.18.0.1/32", 4, 32, "198.18.0.1"},
                      ParseCase{"198.18.0.0/24", 4, 24, "198.18.0.0/24"},
                      ParseCase{"198.18.0.77/24", 4, 24, "198.18.0.0/24"},    // host bits cleared
                      ParseCase{"198.19.255.255/15", 4, 15, "198.18.0.0/15"},
                      ParseCase{"10.1.2.3/0", 4, 0, "0.0.0.0/0"},
                      ParseCase{"198.18.0.129/25", 4, 25, "198.18.0.128/25"},
                      ParseCase{"2001:db8::1", 6, 128, "2001:db8::1"},
                      ParseCase{"2001:db8::1/128", 6, 128, "2001:db8::1"},
                      ParseCase{"2001:db8::/48", 6, 48, "2001:db8::/48"},
                      ParseCase{"2001:db8:ffff:1::5/48", 6, 48, "2001:db8:ffff::/48"},
                      ParseCase{"2001:db8::/32", 6, 32, "2001:db8::/32"},
                      ParseCase{"2001:db9::/31", 6, 31, "2001:db8::/31"},
                      ParseCase{"::/0", 6, 0, "::/0"},
                      ParseCase{"::ffff:198.18.0.1", 4, 32, "198.18.0.1"}));

class IpListsParseBad : public ::testing::TestWithParam<const char*> {};

TEST_P(IpListsParseBad, RejectsWithErrorNamingTheInput) {
    std::string text = GetParam();
    auto p = parse_ip_prefix(text);
    ASSERT_FALSE(p.ok()) << text << " parsed as " << p->to_string();
    EXPECT_EQ(p.error().errnum(), EINVAL);
    EXPECT_NE(p.error().message().find("\"" + text + "\""), std::string::npos) << p.error().message();
}

INSTANTIATE_TEST_SUITE_P(Cases, IpListsParseBad,
                         ::testing::Values("", "198.18.0", "198.18.0.256", "198.18.0.1/33", "198.18.0.1/",
                                           "198.18.0.1/-1", "198.18.0.1/2x", "198.18.0.1/0008", " 198.18.0.1",
                                           "198.18.0.1 ", "198.018.0.1", "2001:db8::/129", "2001:db8:::1",
                                           "2001:db8::g", "example.com", "198.18.0.1/24/1", "/24"));

TEST(IpListsParse, ListAndDirectionNames) {
    EXPECT_EQ(*parse_list_kind("allow"), IpListKind::Allow);
    EXPECT_EQ(*parse_list_kind("block"), IpListKind::Block);
    EXPECT_FALSE(parse_list_kind("deny").ok());
    EXPECT_EQ(*parse_match_dir("src"), MatchDir::Src);
    EXPECT_EQ(*parse_match_dir("dst"), MatchDir::Dst);
    EXPECT_EQ(*parse_match_dir("both"), MatchDir::Both);
    auto bad = parse_match_dir("source");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("source"), std::string::npos);
}

IpPrefix P(const char* s) {
    auto p = parse_ip_prefix(s);
    EXPECT_TRUE(p.ok()) << s;
    return p.ok() ? *p : IpPrefix{};
}

TEST(IpListsGuards, HostEntriesMarkNoSlot) {
    EXPECT_EQ(guard_slots(P("198.18.0.1")).count, 0u);
    EXPECT_EQ(guard_slots(P("2001:db8::1")).count, 0u);
    EXPECT_FALSE(guard_slots(P("2001:db8::1")).unguarded);
}

TEST(IpListsGuards, Ipv4PrefixesAtOrBelowSlash16MarkOneSlot) {
    for (const char* s : {"198.18.0.0/24", "198.18.7.0/31", "198.18.0.0/16"}) {
        auto g = guard_slots(P(s));
        EXPECT_EQ(g.count, 1u) << s;
        EXPECT_EQ(g.first, (198u << 8) | 18u) << s;
        EXPECT_FALSE(g.unguarded);
    }
}

TEST(IpListsGuards, ShortIpv4PrefixesMarkEveryOverlappedSlot) {
    auto g15 = guard_slots(P("198.18.0.0/15"));
    EXPECT_EQ(g15.first, (198u << 8) | 18u);
    EXPECT_EQ(g15.count, 2u);
    auto g8 = guard_slots(P("10.0.0.0/8"));
    EXPECT_EQ(g8.first, 10u << 8);
    EXPECT_EQ(g8.count, 256u);
    auto g0 = guard_slots(P("0.0.0.0/0"));
    EXPECT_EQ(g0.first, 0u);
    EXPECT_EQ(g0.count, 65536u);
    auto g12 = guard_slots(P("172.16.0.0/12"));
    EXPECT_EQ(g12.first, (172u << 8) | 16u);
    EXPECT_EQ(g12.count, 16u);
}

TEST(IpListsGuards, EveryAddressInsideAPrefixHitsOneOfItsSlots) {
    // The BPF side computes fw_guard4_slot/fw_guard6_slot of the packet's address: every address
    // inside the prefix must land in a slot the prefix marked.
    for (const char* s : {"10.0.0.0/8", "198.18.0.0/15", "198.18.3.0/24", "0.0.0.0/2"}) {
        IpPrefix p = P(s);
        auto g = guard_slots(p);
        uint32_t base = (uint32_t(p.addr[0]) << 24) | (uint32_t(p.addr[1]) << 16);
        uint32_t span = p.prefix_len == 0 ? 0xFFFFFFFFu : (0xFFFFFFFFu >> p.prefix_len);
        for (uint32_t off : {0u, 1u, span / 3, span / 2, span}) {
            uint32_t a = base + off;
            uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
            uint32_t slot = fw_guard4_slot(b);
            EXPECT_GE(slot, g.first) << s;
            EXPECT_LT(slot, g.first + g.count) << s;
        }
    }
    for (const char* s : {"2001:db8::/32", "2001:db8:1234::/48", "2001:db8:1:2::/64"}) {
        IpPrefix p = P(s);
        auto g = guard_slots(p);
        ASSERT_EQ(g.count, 1u);
        IpPrefix inside = p;
        inside.addr[15] = 0x42;
        inside.addr[7] |= 0x01;
        EXPECT_EQ(fw_guard6_slot(inside.addr.data()), g.first) << s;
    }
}

TEST(IpListsGuards, Ipv6PrefixesShorterThan32AreUnguarded) {
    EXPECT_TRUE(guard_slots(P("2001:db8::/31")).unguarded);
    EXPECT_TRUE(guard_slots(P("::/0")).unguarded);
    EXPECT_EQ(guard_slots(P("2001:db8::/31")).count, 0u);
    EXPECT_FALSE(guard_slots(P("2001:db8::/32")).unguarded);
}

TEST(IpListsTables, BitsFollowTheAbiLayout) {
    EXPECT_EQ(table_bit(IpListKind::Allow, 4, false, MatchDir::Src), FW_T_ALLOW4_EXACT_SRC);
    EXPECT_EQ(table_bit(IpListKind::Allow, 4, false, MatchDir::Dst), FW_T_ALLOW4_EXACT_DST);
    EXPECT_EQ(table_bit(IpListKind::Allow, 4, true, MatchDir::Src), FW_T_ALLOW4_LPM_SRC);
    EXPECT_EQ(table_bit(IpListKind::Allow, 6, true, MatchDir::Dst), FW_T_ALLOW6_LPM_DST);
    EXPECT_EQ(table_bit(IpListKind::Block, 4, false, MatchDir::Src), FW_T_BLOCK4_EXACT_SRC);
    EXPECT_EQ(table_bit(IpListKind::Block, 4, true, MatchDir::Dst), FW_T_BLOCK4_LPM_DST);
    EXPECT_EQ(table_bit(IpListKind::Block, 6, false, MatchDir::Dst), FW_T_BLOCK6_EXACT_DST);
    EXPECT_EQ(table_bit(IpListKind::Block, 6, true, MatchDir::Src), FW_T_BLOCK6_LPM_SRC);
    EXPECT_EQ(table_name(table_index(IpListKind::Block, 6, true)), "block6_lpm");
    EXPECT_EQ(table_name(table_index(IpListKind::Allow, 4, false)), "allow4");
}

}  // namespace
