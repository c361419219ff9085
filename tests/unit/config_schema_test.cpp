#include "config/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace cfg = flywall::config;

// The "eBPF Configuration" example of the seed README, verbatim.
constexpr const char* kSeedExample = R"(ebpf {
  enabled = true

  features {
    ddos_protection = true
    dns_blocklist = true
    inline_ips = true
    flow_monitoring = true
    qos = true
    learning_engine = true
  }

  performance {
    max_cpu_percent = 50
    max_memory_mb = 500
    max_events_per_sec = 10000
    max_pps = 10000000
  }

  adaptive {
    enabled = true
    scale_back_threshold = 80
    scale_back_rate = 0.1
    minimum_features = ["ddos_protection", "flow_monitoring"]
  }
}
)";

cfg::Config load_ok(const std::string& text) {
    auto r = cfg::load_string(text, "c.hcl");
    EXPECT_TRUE(r.ok()) << r.error_text();
    return r.config();
}

// All diagnostics, one per line.
std::string load_errors(const std::string& text) {
    auto r = cfg::load_string(text, "c.hcl");
    if (r.ok()) return "<no error>";
    return r.error_text();
}

TEST(ConfigSchema, EmptyFileGivesDefaults) {
    cfg::Config c = load_ok("");
    EXPECT_EQ(c, cfg::Config{});
    EXPECT_EQ(c.pin_path, "/sys/fs/bpf/flywall");
    EXPECT_EQ(c.log_level, cfg::LogLevel::Info);
    EXPECT_TRUE(c.ebpf.enabled);
    EXPECT_EQ(c.ebpf.features.size(), cfg::feature_names().size());
    EXPECT_TRUE(c.ebpf.features.at("statistics"));
    EXPECT_FALSE(c.ebpf.features.at("ddos_protection"));
    EXPECT_EQ(c.api.listen, "127.0.0.1:8080");
    EXPECT_EQ(c.api.token_file, "/etc/flywall/api.token");
    EXPECT_EQ(c.blocklist.dns_action, cfg::DnsAction::Nxdomain);
    EXPECT_EQ(c.blocklist.malformed_verdict, cfg::MalformedVerdict::Pass);
    EXPECT_FALSE(c.blocklist.default_ttl.has_value());
    EXPECT_EQ(c.rate_limit.ipv6_prefix_len, 64u);
    EXPECT_EQ(c.flows.trusted_after_packets, 0u);
    EXPECT_DOUBLE_EQ(c.flows.sample_rate, 1.0);
    EXPECT_FALSE(c.events.log_file.has_value());
    EXPECT_TRUE(c.interfaces.empty());
}

TEST(ConfigSchema, FeatureNames) {
    const auto& names = cfg::feature_names();
    ASSERT_EQ(names.size(), 14u);
    for (const char* n : {"ddos_protection", "dns_blocklist", "inline_ips", "flow_monitoring", "qos",
                          "learning_engine", "statistics", "ip_blocklist", "rate_limiting",
                          "tls_fingerprinting", "socket_filters", "dns_monitoring", "dhcp_monitoring",
                          "events"})
        EXPECT_TRUE(cfg::is_known_feature(n)) << n;
    EXPECT_FALSE(cfg::is_known_feature("ddos"));
}

TEST(ConfigSchema, SeedExampleParsesAsIs) {
    cfg::Config c = load_ok(kSeedExample);
    const auto& e = c.ebpf;
    EXPECT_TRUE(e.enabled);
    for (const char* f : {"ddos_protection", "dns_blocklist", "inline_ips", "flow_monitoring", "qos",
                          "learning_engine"})
        EXPECT_TRUE(e.features.at(f)) << f;
    EXPECT_TRUE(e.features.at("statistics"));  // default on
    EXPECT_FALSE(e.features.at("tls_fingerprinting"));
    EXPECT_DOUBLE_EQ(e.performance.max_cpu_percent, 50);
    EXPECT_EQ(e.performance.max_memory_mb, 500u);
    EXPECT_EQ(e.performance.max_events_per_sec, 10000u);
    EXPECT_EQ(e.performance.max_pps, 10000000u);
    EXPECT_TRUE(e.adaptive.enabled);
    EXPECT_DOUBLE_EQ(e.adaptive.scale_back_threshold, 80);
    EXPECT_DOUBLE_EQ(e.adaptive.scale_back_rate, 0.1);
    EXPECT_EQ(e.adaptive.minimum_features, (std::vector<std::string>{"ddos_protection", "flow_monitoring"}));
}

constexpr const char* kFullConfig = R"(
pin_path = "/sys/fs/bpf/fw-test"
log_level = "debug"

interface "fw-a" {
  xdp_mode = "native"
  tc = false
}
interface "fw-b" { xdp_mode = "generic" }

api {
  listen = "[::1]:9090"
  token_file = "/run/flywall/token"
}

blocklist {
  ips = ["198.18.0.1", "198.18.1.0/24", "2001:db8::1", "2001:db8:1::/48",]
  ip_files = ["/etc/flywall/bad-ips.txt"]
  allow_ips = ["198.18.0.0/15"]
  domains = ["Example.COM.", "*.ads.example.net", "a-b.c_d.org"]
  domain_files = ["lists/domains.txt"]
  dns_action = "drop"
  malformed_verdict = "drop"
  default_ttl = 3600
}

rate_limit {
  enabled = true
  pps = 1000
  bps = 0
  burst_packets = 2000
  burst_bytes = 3000000
  syn_pps = 100
  icmp_pps = 10
  udp_pps = 500
  ipv6_prefix_len = 56
}

flows {
  idle_timeout_sec = 120
  trusted_after_packets = 16
  sample_rate = 0.25
}

events {
  log_file = "/var/log/flywall/events.jsonl"
}

learning {
  auto_apply = true
  rule_ttl_sec = 600
  rate_limit_trips = 50
  rate_limit_window_sec = 30
  scan_ports = 100
  scan_window_sec = 10
  ips_alerts = 3
  ips_window_sec = 120
  reject_cooldown_sec = 0
  idle_expiry_sec = 1800
}
)";

TEST(ConfigSchema, EveryFieldIsRead) {
    cfg::Config c = load_ok(kFullConfig);
    EXPECT_EQ(c.pin_path, "/sys/fs/bpf/fw-test");
    EXPECT_EQ(c.log_level, cfg::LogLevel::Debug);
    ASSERT_EQ(c.interfaces.size(), 2u);
    EXPECT_EQ(c.interfaces[0], (cfg::InterfaceConfig{"fw-a", cfg::XdpMode::Native, false}));
    EXPECT_EQ(c.interfaces[1], (cfg::InterfaceConfig{"fw-b", cfg::XdpMode::Generic, true}));
    EXPECT_EQ(c.api.listen, "[::1]:9090");
    EXPECT_EQ(c.api.token_file, "/run/flywall/token");
    EXPECT_EQ(c.blocklist.ips.size(), 4u);
    EXPECT_EQ(c.blocklist.ips[3], "2001:db8:1::/48");
    EXPECT_EQ(c.blocklist.allow_ips, (std::vector<std::string>{"198.18.0.0/15"}));
    EXPECT_EQ(c.blocklist.domains, (std::vector<std::string>{"example.com", "*.ads.example.net", "a-b.c_d.org"}));
    EXPECT_EQ(c.blocklist.ip_files, (std::vector<std::string>{"/etc/flywall/bad-ips.txt"}));
    EXPECT_EQ(c.blocklist.domain_files, (std::vector<std::string>{"lists/domains.txt"}));
    EXPECT_EQ(c.blocklist.dns_action, cfg::DnsAction::Drop);
    EXPECT_EQ(c.blocklist.malformed_verdict, cfg::MalformedVerdict::Drop);
    EXPECT_EQ(c.blocklist.default_ttl, std::optional<std::uint64_t>(3600));
    EXPECT_TRUE(c.rate_limit.enabled);
    EXPECT_EQ(c.rate_limit.pps, 1000u);
    EXPECT_EQ(c.rate_limit.bps, 0u);
    EXPECT_EQ(c.rate_limit.burst_packets, 2000u);
    EXPECT_EQ(c.rate_limit.burst_bytes, 3000000u);
    EXPECT_EQ(c.rate_limit.syn_pps, 100u);
    EXPECT_EQ(c.rate_limit.icmp_pps, 10u);
    EXPECT_EQ(c.rate_limit.udp_pps, 500u);
    EXPECT_EQ(c.rate_limit.ipv6_prefix_len, 56u);
    EXPECT_EQ(c.flows.idle_timeout_sec, 120u);
    EXPECT_EQ(c.flows.trusted_after_packets, 16u);
    EXPECT_DOUBLE_EQ(c.flows.sample_rate, 0.25);
    EXPECT_EQ(c.learning, (cfg::LearningSettings{true, 600, 50, 30, 100, 10, 3, 120, 0, 1800}));
    EXPECT_EQ(c.events.log_file, std::optional<std::string>("/var/log/flywall/events.jsonl"));
}

// blocklist.malformed_verdict: what the XDP fast path does with a packet it cannot fully parse
// from an address no list names. Default "pass"; "drop"; anything else is an error at its
// line:column (a typo must not silently leave the default).
TEST(ConfigSchema, MalformedVerdict) {
    EXPECT_EQ(load_ok("").blocklist.malformed_verdict, cfg::MalformedVerdict::Pass);
    EXPECT_EQ(load_ok("blocklist {\n  malformed_verdict = \"pass\"\n}\n").blocklist.malformed_verdict,
              cfg::MalformedVerdict::Pass);
    cfg::Config c = load_ok("blocklist {\n  malformed_verdict = \"drop\"\n}\n");
    EXPECT_EQ(c.blocklist.malformed_verdict, cfg::MalformedVerdict::Drop);
    EXPECT_EQ(cfg::to_string(c.blocklist.malformed_verdict), "drop");
    std::string hcl = cfg::to_hcl(c);
    EXPECT_NE(hcl.find("  malformed_verdict = \"drop\"\n"), std::string::npos) << hcl;
    EXPECT_EQ(load_ok(hcl).blocklist.malformed_verdict, cfg::MalformedVerdict::Drop);
    EXPECT_NE(cfg::to_hcl(cfg::Config{}).find("  malformed_verdict = \"pass\"\n"), std::string::npos);
    EXPECT_EQ(cfg::to_json(c)["blocklist"]["malformed_verdict"], "drop");
    EXPECT_EQ(cfg::to_json(cfg::Config{})["blocklist"]["malformed_verdict"], "pass");
    // Case matters, as for every other choice; the error names the file, line and column.
    EXPECT_EQ(load_errors("blocklist {\n  dns_action = \"drop\"\n  malformed_verdict = \"DROP\"\n}\n"),
              "c.hcl:3:23: \"malformed_verdict\": must be one of \"pass\", \"drop\", got \"DROP\"");
    EXPECT_EQ(load_errors("blocklist {\n  malformed_verdict = \"reject\"\n}\n"),
              "c.hcl:2:23: \"malformed_verdict\": must be one of \"pass\", \"drop\", got \"reject\"");
    // It belongs to the blocklist block only.
    EXPECT_NE(load_errors("malformed_verdict = \"drop\"\n").find("c.hcl:1:1:"), std::string::npos);
}

TEST(ConfigSchema, NumbersAcceptIntegralFloatsAndNullClearsOptionals) {
    cfg::Config c = load_ok(
        "ebpf {\n  performance {\n    max_pps = 1e7\n    max_cpu_percent = 12.5\n  }\n}\n"
        "blocklist {\n  default_ttl = null\n}\nevents {\n  log_file = null\n}\n");
    EXPECT_EQ(c.ebpf.performance.max_pps, 10000000u);
    EXPECT_DOUBLE_EQ(c.ebpf.performance.max_cpu_percent, 12.5);
    EXPECT_FALSE(c.blocklist.default_ttl.has_value());
    EXPECT_FALSE(c.events.log_file.has_value());
}

struct ErrorCase {
    const char* text;
    const char* expected;
};

class ConfigSchemaErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigSchemaErrors, ExactPositionAndMessage) {
    EXPECT_EQ(load_errors(GetParam().text), GetParam().expected) << "input:\n" << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    All, ConfigSchemaErrors,
    ::testing::Values(
        ErrorCase{"ebpf {\n  performance {\n    max_cpu_percnt = 50\n  }\n}\n",
                  "c.hcl:3:5: unknown key \"max_cpu_percnt\" in block performance; did you mean \"max_cpu_percent\"?"},
        ErrorCase{"ebpf {\n  featurs {\n  }\n}\n",
                  "c.hcl:2:3: unknown block \"featurs\" in block ebpf; did you mean \"features\"?"},
        ErrorCase{"ebpf {\n  features {\n    ddos_protecton = true\n  }\n}\n",
                  "c.hcl:3:5: unknown feature \"ddos_protecton\" in block features; did you mean \"ddos_protection\"?"},
        ErrorCase{"pin_pth = \"/x\"\n", "c.hcl:1:1: unknown key \"pin_pth\" at top level; did you mean \"pin_path\"?"},
        ErrorCase{"learning {\n  scan_ports = 0\n}\n", "c.hcl:2:16: \"scan_ports\": must be an integer between 1 and 65535, got 0"},
        ErrorCase{"learning {\n  scan_port = 5\n}\n", "c.hcl:2:3: unknown key \"scan_port\" in block learning; did you mean \"scan_ports\"?"},
        ErrorCase{"completely_unrelated = 1\n", "c.hcl:1:1: unknown key \"completely_unrelated\" at top level"},
        ErrorCase{"interfaces \"eth0\" {\n}\n",
                  "c.hcl:1:1: unknown block \"interfaces\" at top level; did you mean \"interface\"?"},
        ErrorCase{"ebpf {\n  features = {}\n}\n",
                  "c.hcl:2:3: \"features\" in block ebpf is a block, not an attribute; write features { ... }"},
        ErrorCase{"ebpf {\n  enabled {\n  }\n}\n",
                  "c.hcl:2:3: \"enabled\" in block ebpf is an attribute, not a block; write enabled = value"},
        ErrorCase{"ebpf {\n  enabled = \"yes\"\n}\n", "c.hcl:2:13: \"enabled\": expected bool, got string"},
        ErrorCase{"ebpf {\n  performance {\n    max_memory_mb = \"500\"\n  }\n}\n",
                  "c.hcl:3:21: \"max_memory_mb\": expected number, got string"},
        ErrorCase{"ebpf {\n  performance {\n    max_cpu_percent = 150\n  }\n}\n",
                  "c.hcl:3:23: \"max_cpu_percent\": must be a percentage between 0 and 100, got 150"},
        ErrorCase{"ebpf {\n  performance {\n    max_memory_mb = 0\n  }\n}\n",
                  "c.hcl:3:21: \"max_memory_mb\": must be an integer of at least 1, got 0"},
        ErrorCase{"ebpf {\n  performance {\n    max_pps = 2.5\n  }\n}\n",
                  "c.hcl:3:15: \"max_pps\": must be an integer of at least 1, got 2.5"},
        ErrorCase{"ebpf {\n  adaptive {\n    scale_back_rate = 1.5\n  }\n}\n",
                  "c.hcl:3:23: \"scale_back_rate\": must be a rate between 0 and 1, got 1.5"},
        ErrorCase{"ebpf {\n  adaptive {\n    scale_back_threshold = -1\n  }\n}\n",
                  "c.hcl:3:28: \"scale_back_threshold\": must be a percentage between 0 and 100, got -1"},
        ErrorCase{"ebpf {\n  adaptive {\n    minimum_features = [\"ddos_protection\", \"flow_monitor\"]\n  }\n}\n",
                  "c.hcl:3:44: \"minimum_features\": unknown feature \"flow_monitor\"; did you mean \"flow_monitoring\"?"},
        ErrorCase{"ebpf {\n  adaptive {\n    minimum_features = [\"qos\", \"qos\"]\n  }\n}\n",
                  "c.hcl:3:32: \"minimum_features\": duplicate entry \"qos\""},
        ErrorCase{"ebpf {\n  adaptive {\n    minimum_features = \"qos\"\n  }\n}\n",
                  "c.hcl:3:24: \"minimum_features\": expected list of strings, got string"},
        ErrorCase{"blocklist {\n  ips = [\"198.18.0.1\", 5]\n}\n",
                  "c.hcl:2:24: \"ips\": expected string in list, got number"},
        ErrorCase{"blocklist {\n  ips = [\"198.18.0.300\"]\n}\n",
                  "c.hcl:2:10: \"ips\": invalid IP address or CIDR \"198.18.0.300\": not an IPv4 address"},
        ErrorCase{"blocklist {\n  ips = [\"198.18.0.0/33\"]\n}\n",
                  "c.hcl:2:10: \"ips\": invalid IP address or CIDR \"198.18.0.0/33\": prefix length must be 0..32"},
        ErrorCase{"blocklist {\n  allow_ips = [\"2001:db8::/129\"]\n}\n",
                  "c.hcl:2:16: \"allow_ips\": invalid IP address or CIDR \"2001:db8::/129\": prefix length must be 0..128"},
        ErrorCase{"blocklist {\n  allow_ips = [\"2001:db8::/\"]\n}\n",
                  "c.hcl:2:16: \"allow_ips\": invalid IP address or CIDR \"2001:db8::/\": prefix length must be a number"},
        ErrorCase{"blocklist {\n  ips = [\"2001:db8:::1\"]\n}\n",
                  "c.hcl:2:10: \"ips\": invalid IP address or CIDR \"2001:db8:::1\": not an IPv6 address"},
        ErrorCase{"blocklist {\n  domains = [\"a..b\"]\n}\n",
                  "c.hcl:2:14: \"domains\": \"a..b\" is not a valid domain name (empty label)"},
        ErrorCase{"blocklist {\n  domains = [\"bad domain.com\"]\n}\n",
                  "c.hcl:2:14: \"domains\": \"bad domain.com\" is not a valid domain name (invalid character ' ')"},
        ErrorCase{"blocklist {\n  domains = [\"-x.com\"]\n}\n",
                  "c.hcl:2:14: \"domains\": \"-x.com\" is not a valid domain name (label starts or ends with '-')"},
        ErrorCase{"blocklist {\n  dns_action = \"nxdomian\"\n}\n",
                  "c.hcl:2:16: \"dns_action\": must be one of \"drop\", \"nxdomain\", got \"nxdomian\"; did you mean \"nxdomain\"?"},
        ErrorCase{"blocklist {\n  malformed_verdict = \"dorp\"\n}\n",
                  "c.hcl:2:23: \"malformed_verdict\": must be one of \"pass\", \"drop\", got \"dorp\"; did you mean \"drop\"?"},
        ErrorCase{"blocklist {\n  malformed_verdict = true\n}\n",
                  "c.hcl:2:23: \"malformed_verdict\": expected string, got bool"},
        ErrorCase{"blocklist {\n  default_ttl = 0\n}\n",
                  "c.hcl:2:17: \"default_ttl\": must be an integer of at least 1, got 0"},
        ErrorCase{"interface \"eth0\" {\n  xdp_mode = \"nativ\"\n}\n",
                  "c.hcl:2:14: \"xdp_mode\": must be one of \"auto\", \"native\", \"generic\", \"offload\", got \"nativ\"; did you mean \"native\"?"},
        ErrorCase{"interface {\n}\n",
                  "c.hcl:1:1: block \"interface\" takes exactly one label: interface \"eth0\" { ... }"},
        ErrorCase{"interface \"a\" \"b\" {\n}\n",
                  "c.hcl:1:15: block \"interface\" takes exactly one label: interface \"eth0\" { ... }"},
        ErrorCase{"interface \"a-very-long-interface\" {\n}\n",
                  "c.hcl:1:11: interface name must be 1 to 15 characters without '/', ':' or spaces, got \"a-very-long-interface\""},
        ErrorCase{"interface \"eth0\" {\n}\ninterface \"eth0\" {\n}\n",
                  "c.hcl:3:11: duplicate interface \"eth0\" (first defined at 1:11)"},
        ErrorCase{"api {\n}\napi {\n}\n", "c.hcl:3:1: duplicate block \"api\" (first defined at 1:1)"},
        ErrorCase{"api \"x\" {\n}\n", "c.hcl:1:5: block \"api\" takes no labels"},
        ErrorCase{"api {\n  listen = \"127.0.0.1\"\n}\n",
                  "c.hcl:2:12: \"listen\": must be \"host:port\" or \"[ipv6]:port\", got \"127.0.0.1\" (missing port)"},
        ErrorCase{"api {\n  listen = \"127.0.0.1:70000\"\n}\n",
                  "c.hcl:2:12: \"listen\": must be \"host:port\" or \"[ipv6]:port\", got \"127.0.0.1:70000\" (port must be 1..65535)"},
        ErrorCase{"api {\n  listen = \"::1:80\"\n}\n",
                  "c.hcl:2:12: \"listen\": must be \"host:port\" or \"[ipv6]:port\", got \"::1:80\" (IPv6 addresses must be in brackets)"},
        ErrorCase{"api {\n  token_file = \"token\"\n}\n",
                  "c.hcl:2:16: \"token_file\": must be an absolute path, got \"token\""},
        ErrorCase{"pin_path = \"\"\n", "c.hcl:1:12: \"pin_path\": must be an absolute path, got \"\""},
        ErrorCase{"log_level = \"verbose\"\n",
                  "c.hcl:1:13: \"log_level\": must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"critical\", \"off\", got \"verbose\""},
        ErrorCase{"rate_limit {\n  ipv6_prefix_len = 129\n}\n",
                  "c.hcl:2:21: \"ipv6_prefix_len\": must be an integer between 1 and 128, got 129"},
        ErrorCase{"rate_limit {\n  pps = -5\n}\n", "c.hcl:2:9: \"pps\": must be a non-negative integer, got -5"},
        ErrorCase{"rate_limit {\n  burst_packets = 0\n}\n",
                  "c.hcl:2:19: \"burst_packets\": must be an integer of at least 1, got 0"},
        ErrorCase{"flows {\n  sample_rate = 2\n}\n", "c.hcl:2:17: \"sample_rate\": must be a rate between 0 and 1, got 2"},
        ErrorCase{"flows {\n  idle_timeout_sec = 0\n}\n",
                  "c.hcl:2:22: \"idle_timeout_sec\": must be an integer of at least 1, got 0"},
        ErrorCase{"events {\n  log_file = \"events.jsonl\"\n}\n",
                  "c.hcl:2:14: \"log_file\": must be an absolute path, got \"events.jsonl\""},
        ErrorCase{"events {\n  log_file = 1\n}\n", "c.hcl:2:14: \"log_file\": expected string or null, got number"}));

TEST(ConfigSchema, CollectsAllErrorsInSourceOrder) {
    const char* text =
        "log_level = \"loud\"\n"                           // 1
        "ebpf {\n"                                         // 2
        "  performance {\n"                                // 3
        "    max_cpu_percent = 101\n"                      // 4
        "    max_cpu_percnt = 5\n"                         // 5
        "  }\n"                                            // 6
        "}\n"                                              // 7
        "blocklist {\n"                                    // 8
        "  ips = [\"1.2.3.4\", \"nope\", \"5.6.7.8/40\"]\n"  // 9
        "}\n"                                              // 10
        "pin_path = \"/a\"\n"                              // 11
        "pin_path = \"/b\"\n";                             // 12
    auto r = cfg::load_string(text, "c.hcl");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error_text(),
              "c.hcl:1:13: \"log_level\": must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"critical\", \"off\", got \"loud\"\n"
              "c.hcl:4:23: \"max_cpu_percent\": must be a percentage between 0 and 100, got 101\n"
              "c.hcl:5:5: unknown key \"max_cpu_percnt\" in block performance; did you mean \"max_cpu_percent\"?\n"
              "c.hcl:9:21: \"ips\": invalid IP address or CIDR \"nope\": not an IPv4 or IPv6 address (unexpected character 'n')\n"
              "c.hcl:9:29: \"ips\": invalid IP address or CIDR \"5.6.7.8/40\": prefix length must be 0..32\n"
              "c.hcl:12:1: duplicate attribute \"pin_path\" (first defined at 11:1)");
    ASSERT_EQ(r.diagnostics().size(), 6u);
    EXPECT_EQ(r.diagnostics()[1], (cfg::Diagnostic{"c.hcl", 4, 23,
                                                   "\"max_cpu_percent\": must be a percentage between 0 and 100, got 101"}));
}

TEST(ConfigSchema, SyntaxErrorStopsBeforeSchemaChecks) {
    // Only the syntax error: the truncated tree is not schema-checked.
    EXPECT_EQ(load_errors("bogus = 1\nebpf {\n  enabled = true +\n}\n"),
              "c.hcl:3:18: operator '+' is not supported: expressions are not allowed, only literal values");
}

TEST(ConfigSchema, ToResultCarriesEveryDiagnostic) {
    auto bad = cfg::load_string("pin_path = 1\nlog_level = 2\n", "c.hcl").to_result();
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().errnum(), EINVAL);
    EXPECT_EQ(bad.error().context, "invalid configuration c.hcl");
    EXPECT_EQ(bad.error().detail,
              "c.hcl:1:12: \"pin_path\": expected string, got number\n"
              "c.hcl:2:13: \"log_level\": expected string, got number");
    auto good = cfg::load_string(kSeedExample, "c.hcl").to_result();
    ASSERT_TRUE(good.ok());
    EXPECT_TRUE(good->ebpf.features.at("qos"));
}

void expect_round_trip(const cfg::Config& c) {
    std::string text = cfg::to_hcl(c);
    auto again = cfg::load_string(text, "roundtrip.hcl");
    ASSERT_TRUE(again.ok()) << again.error_text() << "\n" << text;
    EXPECT_EQ(again.config(), c) << text;
    EXPECT_EQ(cfg::to_hcl(again.config()), text);  // printing is stable
}

TEST(ConfigSchema, RoundTripDefaultsSeedAndFullConfig) {
    expect_round_trip(cfg::Config{});
    expect_round_trip(load_ok(kSeedExample));
    expect_round_trip(load_ok(kFullConfig));
    auto d = cfg::load_default();
    ASSERT_TRUE(d.ok()) << d.error_text();
    expect_round_trip(d.config());
}

TEST(ConfigSchema, RoundTripAwkwardValues) {
    cfg::Config c;
    c.pin_path = "/sys/fs/bpf/odd \"name\" ${x} %{y} \\ \t";
    c.log_level = cfg::LogLevel::Off;
    c.ebpf.enabled = false;
    for (auto& [name, on] : c.ebpf.features) on = !on;
    c.ebpf.performance.max_cpu_percent = 33.333333333333336;
    c.ebpf.performance.max_pps = 9223372036854775807ULL;
    c.ebpf.adaptive.scale_back_rate = 1e-9;
    c.ebpf.adaptive.scale_back_threshold = 0;
    c.ebpf.adaptive.minimum_features = {};
    c.interfaces.push_back({"veth-ü", cfg::XdpMode::Offload, false});
    c.blocklist.domains = {"*.example.org"};
    c.blocklist.ip_files = {"relative/file with spaces.txt"};
    c.blocklist.default_ttl = 1;
    c.flows.sample_rate = 0.1 + 0.2;  // not exactly 0.3: shortest round-trip printing must keep it
    c.events.log_file = "/tmp/ev.jsonl";
    expect_round_trip(c);
}

TEST(ConfigSchema, ToHclPrintsEffectiveValues) {
    std::string text = cfg::to_hcl(load_ok(kSeedExample));
    EXPECT_NE(text.find("pin_path = \"/sys/fs/bpf/flywall\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("    max_cpu_percent = 50\n"), std::string::npos) << text;
    EXPECT_NE(text.find("    scale_back_rate = 0.1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("    statistics = true\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  listen = \"127.0.0.1:8080\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  ipv6_prefix_len = 64\n"), std::string::npos) << text;
}

TEST(ConfigSchema, ToJson) {
    nlohmann::json j = cfg::to_json(load_ok(kFullConfig));
    EXPECT_EQ(j["pin_path"], "/sys/fs/bpf/fw-test");
    EXPECT_EQ(j["log_level"], "debug");
    EXPECT_EQ(j["ebpf"]["features"]["statistics"], true);
    EXPECT_EQ(j["ebpf"]["features"].size(), cfg::feature_names().size());
    EXPECT_EQ(j["ebpf"]["performance"]["max_pps"], 10000000);
    EXPECT_EQ(j["ebpf"]["adaptive"]["minimum_features"], nlohmann::json({"ddos_protection", "flow_monitoring"}));
    ASSERT_EQ(j["interfaces"].size(), 2u);
    EXPECT_EQ(j["interfaces"][0]["name"], "fw-a");
    EXPECT_EQ(j["interfaces"][0]["xdp_mode"], "native");
    EXPECT_EQ(j["interfaces"][0]["tc"], false);
    EXPECT_EQ(j["api"]["listen"], "[::1]:9090");
    EXPECT_EQ(j["blocklist"]["dns_action"], "drop");
    EXPECT_EQ(j["blocklist"]["malformed_verdict"], "drop");
    EXPECT_EQ(j["blocklist"]["default_ttl"], 3600);
    EXPECT_EQ(j["blocklist"]["domains"][0], "example.com");
    EXPECT_EQ(j["rate_limit"]["ipv6_prefix_len"], 56);
    EXPECT_DOUBLE_EQ(j["flows"]["sample_rate"].get<double>(), 0.25);
    EXPECT_EQ(j["events"]["log_file"], "/var/log/flywall/events.jsonl");
    EXPECT_EQ(j["learning"]["scan_ports"], 100);
    EXPECT_EQ(j["learning"]["auto_apply"], true);
    nlohmann::json d = cfg::to_json(cfg::Config{});
    EXPECT_TRUE(d["blocklist"]["default_ttl"].is_null());
    EXPECT_TRUE(d["events"]["log_file"].is_null());
    EXPECT_TRUE(d["interfaces"].is_array());
    EXPECT_TRUE(d["interfaces"].empty());
}

std::filesystem::path source_root() {
    // This file is tests/unit/config_schema_test.cpp.
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(ConfigSchema, EmbeddedDefaultMatchesDefaultHclFile) {
    std::filesystem::path p = source_root() / "src" / "config" / "default.hcl";
    std::ifstream in(p, std::ios::binary);
    ASSERT_TRUE(in) << "cannot open " << p;
    std::ostringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), std::string(cfg::default_config_text()));
}

TEST(ConfigSchema, DefaultConfigContents) {
    auto r = cfg::load_default();
    ASSERT_TRUE(r.ok()) << r.error_text();
    const cfg::Config& c = r.config();
    ASSERT_EQ(c.interfaces.size(), 1u);
    EXPECT_EQ(c.interfaces[0].name, "fw-lab0");
    EXPECT_EQ(c.interfaces[0].xdp_mode, cfg::XdpMode::Auto);
    EXPECT_EQ(c.api.listen, "127.0.0.1:8080");
    EXPECT_EQ(c.api.token_file, "/etc/flywall/api.token");
    for (const auto& [name, on] : c.ebpf.features) {
        bool expected = name == "ddos_protection" || name == "flow_monitoring" || name == "statistics" ||
                        name == "dns_blocklist" || name == "ip_blocklist" || name == "rate_limiting";
        EXPECT_EQ(on, expected) << name;
    }
    EXPECT_TRUE(c.rate_limit.enabled);
    EXPECT_GT(c.rate_limit.pps, 0u);
    EXPECT_EQ(c.blocklist.dns_action, cfg::DnsAction::Nxdomain);
    EXPECT_EQ(c.pin_path, "/sys/fs/bpf/flywall");
}

class TempFile {
public:
    explicit TempFile(const std::string& content) {
        char tmpl[] = "/tmp/flywall-config-test-XXXXXX";
        int fd = mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        path_ = tmpl;
        if (fd >= 0) {
            EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
            close(fd);
        }
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

TEST(ConfigSchema, LoadFile) {
    TempFile good(kSeedExample);
    auto r = cfg::load_file(good.path());
    ASSERT_TRUE(r.ok()) << r.error_text();
    EXPECT_TRUE(r.config().ebpf.features.at("inline_ips"));

    TempFile bad("ebpf {\n  enabled = 1\n}\n");
    auto b = cfg::load_file(bad.path());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error_text(), bad.path() + ":2:13: \"enabled\": expected bool, got number");

    auto missing = cfg::load_file("/nonexistent/flywall.hcl");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error_text(), "/nonexistent/flywall.hcl: cannot open file: No such file or directory");
}

}  // namespace
