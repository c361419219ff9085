// Domain names for the DNS blocklist: validation limits, the {hash, length} key shared with the
// kernel (hash checked against a bytewise reference written here), word lower-casing against
// the bytewise one, entry names round-tripping.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "flywall/dns_hash.h"

#include "runtime/domains.hpp"

using namespace flywall;

namespace {

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
        {".a.b", false},       {"a b.com", false},        {"x_y-z.com", true},    {"*.example.com", true},
        {"caf\xc3\xa9.fr", false}, {"xn--caf-dma.fr", true},
    };
    for (const auto& c : cases) EXPECT_EQ(normalize_domain(c.name).ok(), c.ok) << c.name;
}

// Reference key hash written independently of flywall/dns_hash.h's word tricks: labels right
// to left, each as its length then its bytes lower-cased one by one, packed 8 to a word.
uint64_t mix(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 32);
}
uint64_t reference_hash(const std::vector<std::string>& labels) {
    uint64_t h = 0x6a09e667f3bcc909ull;
    for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
        h = mix(h, it->size());
        for (size_t k = 0; k < it->size(); k += 8) {
            uint64_t w = 0;
            for (size_t i = 0; i < 8 && k + i < it->size(); ++i) {
                unsigned char c = static_cast<unsigned char>((*it)[k + i]);
                if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
                w |= uint64_t(c) << (8 * i);
            }
            h = mix(h, w);
        }
    }
    return h;
}

TEST(DomainKey, IsHashAndLengthOfLowerCasedWireFormatWithoutRoot) {
    auto k = domain_key("ADS.example.com");
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->len, std::string("\3ads\7example\3com").size());
    EXPECT_EQ(k->hash, reference_hash({"ads", "example", "com"}));
    EXPECT_EQ(k->pad, 0u);
    EXPECT_EQ(domain_bloom_hash(*k), k->hash);
    const std::string long_label(63, 'Q');
    auto l = domain_key(long_label + ".Test");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->hash, reference_hash({long_label, "test"}));
}

TEST(DomainKey, CaseInsensitiveAndBoundaryAware) {
    auto a = domain_key("ads.example.com"), b = domain_key("AdS.ExAmPlE.CoM"), c = domain_key("badads.example.com");
    auto d = domain_key("ads.example.co"), e = domain_key("adsexample.com");
    ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok() && e.ok());
    EXPECT_EQ(a->hash, b->hash);
    EXPECT_NE(a->hash, c->hash);
    EXPECT_NE(a->hash, d->hash);
    EXPECT_NE(a->hash, e->hash);
}

TEST(DomainKey, WordLowerCaseMatchesBytewiseForEveryByte) {
    for (unsigned v = 0; v < 256; ++v) {
        for (int pos = 0; pos < 8; ++pos) {
            uint64_t w = 0x5A41617A405B7F80ull ^ (uint64_t(v) << (8 * pos));  // neighbours near the edges
            uint64_t expect = 0;
            for (int i = 0; i < 8; ++i) expect |= uint64_t(fw_dns_lower(uint8_t(w >> (8 * i)))) << (8 * i);
            ASSERT_EQ(fw_dns_lower8(w), expect) << "byte " << v << " at " << pos;
        }
    }
}

TEST(DomainKey, MalformedWireHashesToZero) {
    const uint8_t bad_len[] = {3, 'a', 'b'};
    const uint8_t zero_label[] = {0, 1, 'a'};
    const uint8_t long_label[] = {64, 'a'};
    EXPECT_EQ(fw_dns_name_hash(bad_len, sizeof(bad_len)), 0u);
    EXPECT_EQ(fw_dns_name_hash(zero_label, sizeof(zero_label)), 0u);
    EXPECT_EQ(fw_dns_name_hash(long_label, sizeof(long_label)), 0u);
}

TEST(DomainKey, EntryNameRoundTripsAndWireFormat) {
    for (const char* d : {"a", "ads.example.com", "x_y.z-1.test"}) {
        auto w = domain_to_wire(d);
        ASSERT_TRUE(w.ok());
        fw_dns_entry e{};
        std::copy(w->begin(), w->end() - 1, e.name);
        auto back = domain_from_entry(e);
        ASSERT_TRUE(back.ok()) << back.error().message();
        EXPECT_EQ(*back, d);
    }
    auto w = domain_to_wire("Ab.c");
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*w, (std::vector<uint8_t>{2, 'a', 'b', 1, 'c', 0}));
    fw_dns_entry bad{};
    bad.name[0] = 64;  // label longer than 63
    EXPECT_FALSE(domain_from_entry(bad).ok());
    fw_dns_entry empty{};
    EXPECT_FALSE(domain_from_entry(empty).ok());
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
