// The qos { rule ... } and ips { pattern ... } blocks: parsing, validation with line:column,
// round trip through to_hcl, and the text parsers they share with the HTTP API.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "config/tc_rules.hpp"

namespace {

namespace cfg = flywall::config;

cfg::LoadResult load(const std::string& body) { return cfg::load_string(body, "t.hcl"); }

// The one diagnostic of a config that must fail, as "line:column: message".
std::string only_error(const std::string& text) {
    auto r = load(text);
    EXPECT_FALSE(r.ok()) << text;
    if (r.ok()) return {};
    EXPECT_EQ(r.diagnostics().size(), 1u) << r.error_text();
    const auto& d = r.diagnostics().front();
    return std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message;
}

TEST(ConfigQosIps, ParsesRulesAndPatterns) {
    auto r = load(R"(
qos {
  rule "voip" {
    proto = "udp"
    dport = "5000-5100"
    dscp = 46
    class = "1:10"
    priority = 7
    set_dscp = 34
  }
  rule "bulk" {
    sport = "873"
    class = "1:30"
  }
}
ips {
  pattern "exploit" {
    bytes = "GET /\\x00admin"
    action = "drop"
    proto = "tcp"
    port = 80
  }
  pattern "beacon" {
    hex = "de ad be ef"
  }
}
)");
    ASSERT_TRUE(r.ok()) << r.error_text();
    const auto& c = r.config();
    ASSERT_EQ(c.qos.rules.size(), 2u);
    const auto& v = c.qos.rules[0];
    EXPECT_EQ(v.name, "voip");
    EXPECT_EQ(v.proto, std::optional<std::uint8_t>(17));
    ASSERT_TRUE(v.dport);
    EXPECT_EQ(v.dport->lo, 5000);
    EXPECT_EQ(v.dport->hi, 5100);
    EXPECT_FALSE(v.sport);
    EXPECT_EQ(v.dscp, std::optional<std::uint8_t>(46));
    EXPECT_EQ(v.classid, (1u << 16) | 0x10u);
    EXPECT_EQ(v.priority, 7u);
    EXPECT_EQ(v.set_dscp, std::optional<std::uint8_t>(34));
    EXPECT_EQ(c.qos.rules[1].sport, (std::optional<cfg::PortSpan>(cfg::PortSpan{873, 873})));
    EXPECT_FALSE(c.qos.rules[1].proto);

    ASSERT_EQ(c.ips.patterns.size(), 2u);
    const auto& e = c.ips.patterns[0];
    EXPECT_EQ(e.name, "exploit");
    EXPECT_EQ(e.bytes, (std::vector<std::uint8_t>{'G', 'E', 'T', ' ', '/', 0, 'a', 'd', 'm', 'i', 'n'}));
    EXPECT_EQ(e.action, cfg::IpsActionConfig::Drop);
    EXPECT_EQ(e.proto, 6);
    EXPECT_EQ(e.port, 80);
    const auto& b = c.ips.patterns[1];
    EXPECT_EQ(b.bytes, (std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef}));
    EXPECT_EQ(b.action, cfg::IpsActionConfig::Alert);
    EXPECT_EQ(b.proto, 0);
    EXPECT_EQ(b.port, 0);

    // to_hcl reads back to an equal config.
    auto again = cfg::load_string(cfg::to_hcl(c), "round-trip.hcl");
    ASSERT_TRUE(again.ok()) << again.error_text() << "\n" << cfg::to_hcl(c);
    EXPECT_EQ(again.config().qos, c.qos);
    EXPECT_EQ(again.config().ips, c.ips);
    auto j = cfg::to_json(c);
    EXPECT_EQ(j["qos"]["rules"][0]["class"], "1:10");
    EXPECT_EQ(j["ips"]["patterns"][1]["bytes"].size(), 4u);
}

TEST(ConfigQosIps, EmptyWhenAbsent) {
    auto r = load("pin_path = \"/sys/fs/bpf/x\"\n");
    ASSERT_TRUE(r.ok()) << r.error_text();
    EXPECT_TRUE(r.config().qos.rules.empty());
    EXPECT_TRUE(r.config().ips.patterns.empty());
    EXPECT_EQ(cfg::to_hcl(r.config()).find("qos {"), std::string::npos);
    EXPECT_EQ(cfg::to_hcl(r.config()).find("ips {"), std::string::npos);
}

TEST(ConfigQosIps, RuleErrorsHaveLineAndColumn) {
    EXPECT_EQ(only_error("qos {\n  rule \"a\" {\n    dport = \"5100-5000\"\n    class = \"1:10\"\n  }\n}\n"),
              "3:13: \"dport\": port range \"5100-5000\": low end above high end");
    EXPECT_EQ(only_error("qos {\n  rule \"a\" {\n    dscp = 64\n    class = \"1:10\"\n  }\n}\n").substr(0, 4), "3:12");
    EXPECT_EQ(only_error("qos {\n  rule \"a\" {\n    proto = \"sctpx\"\n    class = \"1:10\"\n  }\n}\n").substr(0, 4), "3:13");
    EXPECT_EQ(only_error("qos {\n  rule \"a\" {\n    class = \"1\"\n  }\n}\n").substr(0, 4), "3:13");
    auto missing = only_error("qos {\n  rule \"a\" {\n    proto = \"tcp\"\n  }\n}\n");
    EXPECT_EQ(missing.substr(0, 4), "2:3:");
    EXPECT_NE(missing.find("\"class\" is required"), std::string::npos) << missing;
    auto dup = only_error("qos {\n  rule \"a\" {\n    class = \"1:1\"\n  }\n  rule \"a\" {\n    class = \"1:2\"\n  }\n}\n");
    EXPECT_EQ(dup.substr(0, 5), "5:8: ");
    EXPECT_NE(dup.find("duplicate rule \"a\" (first defined at 2:8)"), std::string::npos) << dup;
    auto unknown = only_error("qos {\n  rule \"a\" {\n    class = \"1:1\"\n    dprot = 5\n  }\n}\n");
    EXPECT_EQ(unknown.substr(0, 4), "4:5:");
    EXPECT_NE(unknown.find("unknown key \"dprot\""), std::string::npos) << unknown;
    auto bad_name = only_error("qos {\n  rule \"a b\" {\n    class = \"1:1\"\n  }\n}\n");
    EXPECT_EQ(bad_name.substr(0, 4), "2:8:");
}

TEST(ConfigQosIps, PatternErrorsHaveLineAndColumn) {
    auto short_ = only_error("ips {\n  pattern \"p\" {\n    bytes = \"a\"\n  }\n}\n");
    EXPECT_EQ(short_.substr(0, 5), "3:13:");
    EXPECT_NE(short_.find("pattern is 1 bytes; it must be 2 to 32"), std::string::npos) << short_;
    auto esc = only_error("ips {\n  pattern \"p\" {\n    bytes = \"ab\\\\q\"\n  }\n}\n");
    EXPECT_EQ(esc.substr(0, 5), "3:13:");
    EXPECT_NE(esc.find("unknown escape \\q"), std::string::npos) << esc;
    auto odd = only_error("ips {\n  pattern \"p\" {\n    hex = \"abc\"\n  }\n}\n");
    EXPECT_EQ(odd.substr(0, 5), "3:11:");
    auto both = only_error("ips {\n  pattern \"p\" {\n    hex = \"abcd\"\n    bytes = \"xy\"\n  }\n}\n");
    EXPECT_EQ(both.substr(0, 4), "2:3:");
    auto none = only_error("ips {\n  pattern \"p\" {\n    action = \"drop\"\n  }\n}\n");
    EXPECT_NE(none.find("exactly one of \"bytes\" or \"hex\""), std::string::npos) << none;
    auto action = only_error("ips {\n  pattern \"p\" {\n    hex = \"abcd\"\n    action = \"reject\"\n  }\n}\n");
    EXPECT_EQ(action.substr(0, 5), "4:14:");
    auto proto = only_error("ips {\n  pattern \"p\" {\n    hex = \"abcd\"\n    proto = \"icmp\"\n  }\n}\n");
    EXPECT_NE(proto.find("TCP or UDP payloads only"), std::string::npos) << proto;
    auto port = only_error("ips {\n  pattern \"p\" {\n    hex = \"abcd\"\n    port = 70000\n  }\n}\n");
    EXPECT_EQ(port.substr(0, 5), "4:12:");
    std::string many = "ips {\n";
    for (int i = 0; i < 65; ++i) many += "  pattern \"p" + std::to_string(i) + "\" {\n    hex = \"abcd\"\n  }\n";
    many += "}\n";
    auto too_many = only_error(many);
    EXPECT_NE(too_many.find("too many IPS patterns: at most 64"), std::string::npos) << too_many;
}

TEST(TcRuleText, Parsers) {
    EXPECT_EQ(cfg::parse_port_span("80")->lo, 80);
    EXPECT_EQ(cfg::parse_port_span("1-65535")->hi, 65535);
    EXPECT_FALSE(cfg::parse_port_span("65536").ok());
    EXPECT_FALSE(cfg::parse_port_span("10-").ok());
    EXPECT_FALSE(cfg::parse_port_span("-10").ok());
    EXPECT_EQ(*cfg::parse_ip_proto("tcp"), 6);
    EXPECT_EQ(*cfg::parse_ip_proto("132"), 132);
    EXPECT_FALSE(cfg::parse_ip_proto("256").ok());
    EXPECT_EQ(*cfg::parse_class_handle("1:10"), 0x10010u);
    EXPECT_EQ(*cfg::parse_class_handle("ffff:ffff"), 0xffffffffu);
    EXPECT_FALSE(cfg::parse_class_handle("10000:1").ok());
    EXPECT_FALSE(cfg::parse_class_handle(":1").ok());
    EXPECT_EQ(cfg::class_handle_string(0x10010u), "1:10");
    EXPECT_EQ(*cfg::parse_escaped_bytes("a\\x41\\\\\\0"), (std::vector<std::uint8_t>{'a', 'A', '\\', 0}));
    EXPECT_FALSE(cfg::parse_escaped_bytes("\\x4").ok());
    EXPECT_FALSE(cfg::parse_escaped_bytes("ab\\").ok());
    EXPECT_EQ(*cfg::parse_hex_bytes("DE:ad be"), (std::vector<std::uint8_t>{0xde, 0xad, 0xbe}));
    EXPECT_FALSE(cfg::parse_hex_bytes("d e").ok());
    EXPECT_FALSE(cfg::check_pattern_length(std::vector<std::uint8_t>(33, 1)).ok());
    EXPECT_TRUE(cfg::check_pattern_length(std::vector<std::uint8_t>(32, 1)).ok());
    EXPECT_EQ(*cfg::parse_ips_action("drop"), cfg::IpsActionConfig::Drop);
    EXPECT_FALSE(cfg::parse_ips_action("DROP").ok());
}

}  // namespace
