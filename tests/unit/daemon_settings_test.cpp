// The manager's pure pieces: feature -> fw_cfg bit bindings, config -> runtime settings,
// sampling shifts, and the config list diff used by reload.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "core/config_lists.hpp"
#include "core/datapath_settings.hpp"

namespace flywall {
namespace {

config::Config base() {
    auto lr = config::load_default();
    EXPECT_TRUE(lr.ok()) << lr.error_text();
    return lr.config();
}

TEST(DatapathSettings, FeatureBindings) {
    auto cfg = base();
    EXPECT_EQ(feature_binding("ip_blocklist", cfg).bits, static_cast<uint32_t>(FW_F_IP_BLOCKLIST | FW_F_IP_ALLOWLIST));
    EXPECT_EQ(feature_binding("statistics", cfg).bits, static_cast<uint32_t>(FW_F_STATS));
    EXPECT_EQ(feature_binding("events", cfg).bits, static_cast<uint32_t>(FW_F_EVENTS));
    EXPECT_TRUE(feature_binding("ddos_protection", cfg).implemented);
    EXPECT_EQ(feature_binding("ddos_protection", cfg).bits, 0u);
    EXPECT_EQ(feature_binding("learning_engine", cfg).bits, static_cast<uint32_t>(FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS));
    EXPECT_EQ(feature_binding("learning_engine", cfg).tc_bits, static_cast<uint32_t>(FW_TC_F_EVENTS));
    EXPECT_TRUE(feature_binding("qos", cfg).needs_tc);
    EXPECT_EQ(feature_binding("qos", cfg).tc_bits, static_cast<uint32_t>(FW_TC_F_QOS));
    EXPECT_EQ(feature_binding("inline_ips", cfg).tc_bits, static_cast<uint32_t>(FW_TC_F_IPS));
    EXPECT_EQ(feature_binding("flow_monitoring", cfg).tc_bits, static_cast<uint32_t>(FW_TC_F_FLOWS));
    cfg.flows.trusted_after_packets = 0;
    EXPECT_EQ(feature_binding("flow_monitoring", cfg).bits, static_cast<uint32_t>(FW_F_FLOW_TRACKING));
    cfg.flows.trusted_after_packets = 10;
    EXPECT_EQ(feature_binding("flow_monitoring", cfg).bits,
              static_cast<uint32_t>(FW_F_FLOW_TRACKING | FW_F_TRUSTED_OFFLOAD));
    cfg.rate_limit.enabled = false;
    EXPECT_EQ(feature_binding("rate_limiting", cfg).bits, 0u);
    cfg.rate_limit.enabled = true;
    EXPECT_EQ(feature_binding("rate_limiting", cfg).bits, static_cast<uint32_t>(FW_F_RATE_LIMIT));
}

TEST(DatapathSettings, SamplingShift) {
    EXPECT_EQ(sampling_shift(1.0), 0u);
    EXPECT_EQ(sampling_shift(0.5), 1u);
    EXPECT_EQ(sampling_shift(0.25), 2u);
    EXPECT_EQ(sampling_shift(1.0 / 1024), 10u);
    EXPECT_EQ(sampling_shift(0.3), 2u);  // nearest power of two: 1/3.3 -> 1/4
    EXPECT_EQ(sampling_shift(0), 31u);
}

TEST(DatapathSettings, ApplySettingsWritesLimitsButNotSwitches) {
    auto cfg = base();
    cfg.rate_limit.pps = 1000;
    cfg.rate_limit.bps = 8000000;
    cfg.rate_limit.burst_packets = 2000;
    cfg.blocklist.dns_action = config::DnsAction::Drop;
    cfg.flows.sample_rate = 0.25;
    cfg.ebpf.performance.max_events_per_sec = 500;
    fw_xdp_config live{};
    live.features = FW_F_STATS;
    live.tables = 0x5;
    ASSERT_TRUE(apply_settings(cfg, live).ok());
    EXPECT_EQ(live.features, static_cast<uint32_t>(FW_F_STATS));  // untouched
    EXPECT_EQ(live.tables, 0x5u);
    EXPECT_EQ(live.rl_pps, 1000u);
    EXPECT_EQ(live.rl_bps, 1000000u);  // bits -> bytes
    EXPECT_EQ(live.rl_burst_packets, 2000u);
    EXPECT_EQ(live.dns_action, static_cast<uint32_t>(FW_DNS_ACTION_DROP));
    EXPECT_EQ(live.flow_sample_shift, 2u);
    EXPECT_EQ(live.max_events_per_sec, 500u);
    EXPECT_EQ(live.time_sample_shift, 10u) << "default: 1 packet in 1024 timed";
    EXPECT_GT(live.policy_gen, 0u) << "a settings change bumps the policy generation";
    cfg.ebpf.performance.time_sample_shift = 0;
    ASSERT_TRUE(apply_settings(cfg, live).ok());
    EXPECT_EQ(live.time_sample_shift, 0u);
    fw_tc_config tc{};
    cfg.ebpf.performance.time_sample_shift = 3;
    apply_tc_settings(cfg, tc);
    EXPECT_EQ(tc.time_sample_shift, 3u);
}

TEST(DatapathSettings, TimeSampleShiftIsBoundedInTheConfig) {
    auto ok = config::load_string("ebpf {\n  performance {\n    time_sample_shift = 20\n  }\n}\n", "t.hcl");
    ASSERT_TRUE(ok.ok()) << ok.error_text();
    EXPECT_EQ(ok.config().ebpf.performance.time_sample_shift, 20u);
    auto bad = config::load_string("ebpf {\n  performance {\n    time_sample_shift = 21\n  }\n}\n", "t.hcl");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error_text().find("t.hcl:3:"), std::string::npos) << bad.error_text();
}

// Every map of the two programs belongs to the feature whose memory it is (or to none: shared).
TEST(DatapathSettings, MapsBelongToTheirFeature) {
    const std::pair<const char*, const char*> table[] = {
        {"fw_ft_block4", "ip_blocklist"}, {"fw_ft_hint_allow6", "ip_blocklist"}, {"fw_allow4", "ip_blocklist"},
        {"fw_block6_lpm", "ip_blocklist"}, {"fw_lpm_guard4", "ip_blocklist"},    {"fw_rl_map", "rate_limiting"},
        {"fw_rl_params_map", "rate_limiting"}, {"fw_dns_bloom", "dns_blocklist"}, {"fw_dns_exact", "dns_blocklist"},
        {"fw_flows", "flow_monitoring"},   {"tc_flows", "flow_monitoring"},     {"fw_stats_map", "statistics"},
        {"tc_stats", "statistics"},        {"fw_events", "events"},             {"tc_events", "events"},
        {"tc_qos_rules", "qos"},           {"tc_ips_prefix", "inline_ips"},     {"xdp_bloc.bss", ""},
        {"fw_clock_timer_map", ""},        {"tc_class.rodata", ""},
    };
    for (const auto& [map, feature] : table) EXPECT_EQ(feature_of_map(map), feature) << map;
    for (const auto& [map, feature] : table)
        if (*feature) {
            EXPECT_TRUE(config::is_known_feature(feature)) << feature;
        }
}

TEST(ConfigLists, ReadsInlineAndFileEntriesAndDiffs) {
    char path[] = "/tmp/flywall-list-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    {
        std::ofstream f(path);
        f << "# netset\n198.18.9.0/24\n\n198.18.9.77 ; comment\n";
    }
    config::BlocklistConfig b;
    b.ips = {"198.18.0.5"};
    b.allow_ips = {"198.18.0.6"};
    b.ip_files = {path};
    auto e = config_ip_entries(b);
    ASSERT_TRUE(e.ok()) << e.error().message();
    EXPECT_EQ(e->size(), 4u);

    config::BlocklistConfig b2 = b;
    b2.ips = {"198.18.0.7"};
    b2.ip_files.clear();
    auto e2 = config_ip_entries(b2);
    ASSERT_TRUE(e2.ok());
    auto d = diff_entries(*e, *e2);
    ASSERT_EQ(d.to_add.size(), 1u);
    EXPECT_EQ(d.to_add[0].prefix.to_string(), "198.18.0.7");
    EXPECT_EQ(d.to_remove.size(), 3u);  // 198.18.0.5 and the two file entries; the allow entry stays

    {
        std::ofstream f(path);
        f << "198.18.9.0/24\nnot-an-address\n";
    }
    auto bad = config_ip_entries(b);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find(std::string(path) + ":2"), std::string::npos) << bad.error().message();
    unlink(path);
    b.ip_files = {"/nonexistent/flywall.list"};
    EXPECT_FALSE(config_ip_entries(b).ok());
}

TEST(ConfigLists, ReadsDomainsAndHostsFiles) {
    char path[] = "/tmp/flywall-domains-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    {
        std::ofstream f(path);
        f << "127.0.0.1 localhost\n0.0.0.0 Ads.Example.com tracker.example\nplain.example.\n";
    }
    config::BlocklistConfig b;
    b.domains = {"*.wild.example"};
    b.domain_files = {path};
    auto d = config_domains(b);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(*d, (std::set<std::string>{"wild.example", "ads.example.com", "tracker.example", "plain.example"}));
    unlink(path);
}

}  // namespace
}  // namespace flywall
