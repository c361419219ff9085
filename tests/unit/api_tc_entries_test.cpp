// JSON bodies of POST /api/ebpf/qos/rules and /api/ebpf/ips/patterns: accepted shapes and the
// field named by each rejection.
#include <gtest/gtest.h>

#include "api/tc_entries.hpp"

namespace {

using flywall::api::parse_ips_pattern;
using flywall::api::parse_qos_rule;
using nlohmann::json;
namespace cfg = flywall::config;

TEST(ApiQosRule, Accepts) {
    auto p = parse_qos_rule(json::parse(R"({"name":"voip","proto":"udp","sport":53,"dport":"5000-5100",
                                            "dscp":46,"class":"1:10","priority":3,"set_dscp":34})"));
    ASSERT_TRUE(p.ok()) << p.error->message;
    const auto& r = *p.value;
    EXPECT_EQ(r.name, "voip");
    EXPECT_EQ(r.proto, std::optional<std::uint8_t>(17));
    EXPECT_EQ(r.sport, (std::optional<cfg::PortSpan>(cfg::PortSpan{53, 53})));
    EXPECT_EQ(r.dport, (std::optional<cfg::PortSpan>(cfg::PortSpan{5000, 5100})));
    EXPECT_EQ(r.dscp, std::optional<std::uint8_t>(46));
    EXPECT_EQ(r.classid, 0x10010u);
    EXPECT_EQ(r.priority, 3u);
    EXPECT_EQ(r.set_dscp, std::optional<std::uint8_t>(34));
    auto j = flywall::api::to_json(r);
    EXPECT_EQ(j["class"], "1:10");
    EXPECT_EQ(j["dport"], "5000-5100");
    EXPECT_EQ(j["sport"], "53");
}

TEST(ApiQosRule, RejectsWithField) {
    struct Case {
        const char* body;
        const char* field;
    } cases[] = {
        {R"([])", "body"},
        {R"({"class":"1:10"})", "name"},
        {R"({"name":"a b","class":"1:10"})", "name"},
        {R"({"name":"a"})", "class"},
        {R"({"name":"a","class":"1"})", "class"},
        {R"({"name":"a","class":"1:10","proto":"sctpx"})", "proto"},
        {R"({"name":"a","class":"1:10","dport":"9-1"})", "dport"},
        {R"({"name":"a","class":"1:10","sport":70000})", "sport"},
        {R"({"name":"a","class":"1:10","dscp":64})", "dscp"},
        {R"({"name":"a","class":"1:10","set_dscp":-1})", "set_dscp"},
        {R"({"name":"a","class":"1:10","priority":"high"})", "priority"},
        {R"({"name":"a","class":"1:10","dprot":80})", "dprot"},
    };
    for (const auto& c : cases) {
        auto p = parse_qos_rule(json::parse(c.body));
        ASSERT_FALSE(p.ok()) << c.body;
        EXPECT_EQ(p.error->field, c.field) << c.body << ": " << p.error->message;
    }
}

TEST(ApiIpsPattern, Accepts) {
    auto p = parse_ips_pattern(json::parse(R"({"name":"x","bytes":"ab\\x00c","action":"drop","proto":"tcp","port":80})"));
    ASSERT_TRUE(p.ok()) << p.error->message;
    EXPECT_EQ(p.value->bytes, (std::vector<std::uint8_t>{'a', 'b', 0, 'c'}));
    EXPECT_EQ(p.value->action, cfg::IpsActionConfig::Drop);
    EXPECT_EQ(p.value->proto, 6);
    EXPECT_EQ(p.value->port, 80);
    auto h = parse_ips_pattern(json::parse(R"({"name":"y","hex":"de:ad"})"));
    ASSERT_TRUE(h.ok()) << h.error->message;
    EXPECT_EQ(h.value->action, cfg::IpsActionConfig::Alert);
    EXPECT_EQ(flywall::api::to_json(*h.value)["hex"], "dead");
}

TEST(ApiIpsPattern, RejectsWithField) {
    struct Case {
        const char* body;
        const char* field;
    } cases[] = {
        {R"({"bytes":"abc"})", "name"},
        {R"({"name":"x"})", "bytes"},
        {R"({"name":"x","bytes":"ab","hex":"abcd"})", "bytes"},
        {R"({"name":"x","bytes":"a"})", "bytes"},
        {R"({"name":"x","bytes":"0123456789abcdef0123456789abcdefX"})", "bytes"},
        {R"({"name":"x","bytes":"ab\\q"})", "bytes"},
        {R"({"name":"x","hex":"abc"})", "hex"},
        {R"({"name":"x","hex":12})", "hex"},
        {R"({"name":"x","bytes":"abc","action":"reject"})", "action"},
        {R"({"name":"x","bytes":"abc","proto":"icmp"})", "proto"},
        {R"({"name":"x","bytes":"abc","port":65536})", "port"},
        {R"({"name":"x","bytes":"abc","extra":1})", "extra"},
    };
    for (const auto& c : cases) {
        auto p = parse_ips_pattern(json::parse(c.body));
        ASSERT_FALSE(p.ok()) << c.body;
        EXPECT_EQ(p.error->field, c.field) << c.body << ": " << p.error->message;
    }
}

}  // namespace
