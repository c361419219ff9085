// Domain names for the DNS blocklist: validation limits, the reversed wire-format key shared with
// the kernel, its FNV-1a bloom hash (known answers computed independently here), round trips.
#include <gtest/gtest.h>

#include <string>

#include "runtime/domains.hpp"

using namespace flywall;

namespace {

uint64_t fnv1a(const std::string& bytes) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

TEST(DomainNormalize, LowerCasesAndStripsTrailingDot) {
    auto n = normalize_domain("Ads.Example.COM.");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, "ads.example.com");
}

TEST(DomainNormalize, LimitsAndBadInputTable) {
    struct Case {
        std::string name;
        bool ok;
    };
    const std::string l63(63, 'a'), l64(64, 'a');
    const std::string n253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
    const Case cases[] = {
        {"a", true},           {l63 + ".test", true},     {l64 + ".test", false}, {n253, true},
        {n253 + "c", false},   {"", false},               {".", false},           {"a..b", false},
        {".a.b", false},       {"a b.com", false},        {"x_y-z.com", true},    {"*.example.com", false},
        {"caf\xc3\xa9.fr", false}, {"xn--caf-dma.fr", true},
    };
    for (const auto& c : cases) EXPECT_EQ(normalize_domain(c.name).ok(), c.ok) << c.name;
}

TEST(DomainKey, IsReversedLowerCasedWireFormatWithoutRoot) {
    auto k = domain_key("ADS.example.com");
    ASSERT_TRUE(k.ok());
    const std::string wire = std::string("\3ads\7example\3com");
    const std::string reversed(wire.rbegin(), wire.rend());
    ASSERT_EQ(k->len, wire.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(k->name), k->len), reversed);
    for (size_t i = k->len; i < sizeof(k->name); ++i) ASSERT_EQ(k->name[i], 0) << "zero padded at " << i;
}

TEST(DomainKey, SuffixKeyIsPrefixOfSubdomainKey) {
    auto parent = domain_key("ads.example.com");
    auto child = domain_key("x.y.ads.example.com");
    ASSERT_TRUE(parent.ok() && child.ok());
    EXPECT_EQ(std::memcmp(parent->name, child->name, parent->len), 0);
    auto other = domain_key("badads.example.com");
    ASSERT_TRUE(other.ok());
    EXPECT_NE(std::memcmp(parent->name, other->name, parent->len), 0) << "no match inside a label";
}

TEST(DomainKey, BloomHashKnownAnswers) {
    for (const char* d : {"com", "ads.example.com", "x.y.ads.example.com"}) {
        auto k = domain_key(d);
        ASSERT_TRUE(k.ok());
        EXPECT_EQ(domain_bloom_hash(*k), fnv1a(std::string(reinterpret_cast<const char*>(k->name), k->len))) << d;
    }
    // FNV-1a-64 reference value for "a" (published test vector: af63dc4c8601ec8c).
    EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cull);
    auto a = domain_key("a");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(domain_bloom_hash(*a), fnv1a(std::string("a\1", 2)));
}

TEST(DomainKey, RoundTripsAndWireFormat) {
    for (const char* d : {"a", "ads.example.com", "x_y.z-1.test"}) {
        auto k = domain_key(d);
        ASSERT_TRUE(k.ok());
        auto back = domain_from_key(*k);
        ASSERT_TRUE(back.ok()) << back.error().message();
        EXPECT_EQ(*back, d);
    }
    auto w = domain_to_wire("Ab.c");
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*w, (std::vector<uint8_t>{2, 'a', 'b', 1, 'c', 0}));
    fw_dns_key bad{};
    bad.len = 3;
    bad.name[0] = 'x';
    bad.name[1] = 'y';
    bad.name[2] = 9;  // reversed: label of 9 with 2 bytes
    EXPECT_FALSE(domain_from_key(bad).ok());
}

TEST(DomainAction, ParsesAndPrints) {
    for (const char* a : {"drop", "nxdomain", "default"}) {
        auto p = parse_domain_action(a);
        ASSERT_TRUE(p.ok()) << a;
        EXPECT_EQ(to_string(*p), a);
    }
    EXPECT_FALSE(parse_domain_action("reject").ok());
}

}  // namespace
