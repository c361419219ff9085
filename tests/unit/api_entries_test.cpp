#include "api/entries.hpp"

#include <gtest/gtest.h>

namespace flywall::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(ApiEntries, ParsesBulkIpEntriesWithDefaults) {
    json body = json::parse(R"({"entries":[{"value":"198.18.0.5","ttl":60,"direction":"src","list":"block"},
                                           {"value":"2001:db8::/48"},
                                           {"value":"198.18.1.0/24","list":"allow","direction":"both"}]})");
    auto p = parse_ip_entries(body, 300s);
    ASSERT_TRUE(p.ok()) << p.error->message;
    ASSERT_EQ(p.entries.size(), 3u);
    EXPECT_EQ(p.entries[0].prefix.to_string(), "198.18.0.5");
    EXPECT_EQ(p.entries[0].ttl, std::chrono::nanoseconds(60s));
    EXPECT_EQ(p.entries[1].ttl, std::chrono::nanoseconds(300s));  // default TTL applied
    EXPECT_EQ(p.entries[1].prefix.to_string(), "2001:db8::/48");
    EXPECT_EQ(p.entries[1].list, IpListKind::Block);
    EXPECT_EQ(p.entries[1].dir, MatchDir::Src);
    EXPECT_EQ(p.entries[2].list, IpListKind::Allow);
    EXPECT_EQ(p.entries[2].dir, MatchDir::Both);
}

TEST(ApiEntries, RejectsBadIpEntriesNamingTheField) {
    struct Case {
        const char* body;
        const char* field;
    } cases[] = {
        {R"({"entries":[{"value":"198.18.0.5"},{"value":"198.18.0.300"}]})", "entries[1].value"},
        {R"({"entries":[{"value":"198.18.0.5","ttl":-1}]})", "entries[0].ttl"},
        {R"({"entries":[{"value":"198.18.0.5","ttl":"60"}]})", "entries[0].ttl"},
        {R"({"entries":[{"value":"198.18.0.5","direction":"up"}]})", "entries[0].direction"},
        {R"({"entries":[{"value":"198.18.0.5","list":"grey"}]})", "entries[0].list"},
        {R"({"entries":[{"value":"198.18.0.5","colour":"red"}]})", "entries[0].colour"},
        {R"({"entries":[{"ttl":5}]})", "entries[0].value"},
        {R"({"entries":[]})", "entries"},
        {R"({"entries":{}})", "entries"},
        {R"({"entries":[{"value":"198.18.0.5"}],"extra":1})", "extra"},
        {R"([1,2])", "entries"},
        {R"({"entries":[{"value":"198.18.0.0/33"}]})", "entries[0].value"},
    };
    for (const auto& c : cases) {
        auto p = parse_ip_entries(json::parse(c.body), std::nullopt);
        ASSERT_FALSE(p.ok()) << c.body;
        EXPECT_EQ(p.error->field, c.field) << c.body << ": " << p.error->message;
        EXPECT_TRUE(p.entries.empty() || !p.ok());
    }
}

TEST(ApiEntries, ImportsNetsetWithCommentsAndOptions) {
    const char* text =
        "# FireHOL style netset\n"
        "198.18.0.5\n"
        "\n"
        "198.18.2.0/24   # a comment\n"
        "2001:db8:1::/64\r\n"
        "; semicolon comment\n";
    ImportOptions opts;
    opts.list = IpListKind::Allow;
    opts.dir = MatchDir::Dst;
    opts.ttl = 30s;
    auto p = parse_ip_import(text, opts);
    ASSERT_TRUE(p.ok()) << p.error->message;
    ASSERT_EQ(p.entries.size(), 3u);
    EXPECT_EQ(p.entries[1].prefix.to_string(), "198.18.2.0/24");
    EXPECT_EQ(p.entries[2].prefix.to_string(), "2001:db8:1::/64");
    for (const auto& e : p.entries) {
        EXPECT_EQ(e.list, IpListKind::Allow);
        EXPECT_EQ(e.dir, MatchDir::Dst);
        EXPECT_EQ(e.ttl, std::chrono::nanoseconds(30s));
    }
}

TEST(ApiEntries, ImportRejectsWholeTextOnOneBadLine) {
    auto p = parse_ip_import("198.18.0.5\n198.18.0.6\nnot-an-ip\n198.18.0.7\n", {});
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error->field, "line 3");
    EXPECT_TRUE(p.entries.empty());
    auto empty = parse_ip_import("# nothing\n\n", {});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error->field, "body");
}

TEST(ApiEntries, NormalizesDomains) {
    std::string why;
    EXPECT_EQ(clean_domain("Ads.Example.COM.", &why), "ads.example.com");
    EXPECT_EQ(clean_domain("*.tracker.example", &why), "tracker.example");  // subdomains are implied
    EXPECT_EQ(clean_domain("under_score.example", &why), "under_score.example");
    EXPECT_FALSE(clean_domain("bad..example", &why));
    EXPECT_FALSE(why.empty());
    EXPECT_FALSE(clean_domain("sp ace.example", &why));
    EXPECT_FALSE(clean_domain(std::string(64, 'a') + ".example", &why));
    EXPECT_FALSE(clean_domain("", &why));
}

TEST(ApiEntries, ParsesDomainEntriesAndHostsFiles) {
    auto p = parse_domain_entries(json::parse(R"({"entries":[{"value":"Ads.Example.com","ttl":60,"action":"drop"},
                                                            {"value":"t.example"}]})"),
                                  std::nullopt);
    ASSERT_TRUE(p.ok()) << p.error->message;
    EXPECT_EQ(p.entries[0].name, "ads.example.com");
    EXPECT_EQ(p.entries[0].action, DomainAction::Drop);
    EXPECT_EQ(p.entries[0].ttl, 60s);
    EXPECT_EQ(p.entries[1].action, DomainAction::Global);

    auto bad = parse_domain_entries(json::parse(R"({"entries":[{"value":"a.example","action":"reject"}]})"), {});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error->field, "entries[0].action");

    const char* hosts =
        "127.0.0.1 localhost\n"
        "::1 ip6-localhost ip6-loopback\n"
        "0.0.0.0 ads.example.com\n"
        "0.0.0.0 a.example b.example # two names\n"
        "plain.example\n";
    auto h = parse_domain_import(hosts, {});
    ASSERT_TRUE(h.ok()) << h.error->message;
    ASSERT_EQ(h.entries.size(), 4u);
    EXPECT_EQ(h.entries[0].name, "ads.example.com");
    EXPECT_EQ(h.entries[2].name, "b.example");
    EXPECT_EQ(h.entries[3].name, "plain.example");

    auto hb = parse_domain_import("ok.example\nthis is wrong\n", {});
    ASSERT_FALSE(hb.ok());
    EXPECT_EQ(hb.error->field, "line 2");
}

}  // namespace
}  // namespace flywall::api
