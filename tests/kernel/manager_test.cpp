// The Manager against the real kernel: start on a veth this test creates, pins, feature
// switches acting at run time (checked with BPF_PROG_TEST_RUN on the pinned program), reload as a
// diff (API entries survive, removed config entries go, bad config leaves state unchanged),
// a second instance refused, clean stop. Needs root and BPF; skipped otherwise.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <set>
#include <map>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf_test_run.hpp"
#include "core/lab.hpp"
#include "core/manager.hpp"
#include "packet_builder.hpp"

namespace flywall {
namespace {

using test::PacketBuilder;
using test::run_prog;

constexpr unsigned kXdpDrop = 1, kXdpPass = 2;

bool exists(const std::string& p) {
    struct stat st{};
    return stat(p.c_str(), &st) == 0;
}

class ManagerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto why = test::bpf_unavailable_reason();
        if (!why.empty()) GTEST_SKIP() << "SKIP (no BPF): " << why;
        const std::string id = std::to_string(getpid());
        if_a = "fwm" + id + "a";
        if_b = "fwm" + id + "b";
        pin = "/sys/fs/bpf/flywall-mgr-test-" + id;
        state_dir = "/tmp/flywall-mgr-test-state-" + id;
        std::filesystem::remove_all(state_dir);
        std::string err;
        auto rc = run_command({"ip", "link", "add", if_a, "type", "veth", "peer", "name", if_b}, &err);
        ASSERT_TRUE(rc.ok() && *rc == 0) << "create veth: " << err;
        veth_created = true;
        ASSERT_EQ(*run_command({"ip", "link", "set", if_a, "up"}), 0);
        ASSERT_EQ(*run_command({"ip", "link", "set", if_b, "up"}), 0);
    }
    void TearDown() override {
        manager.reset();
        if (veth_created) (void)run_command({"ip", "link", "del", if_a});
        rmdir((pin + "/progs").c_str());
        rmdir((pin + "/maps").c_str());
        rmdir(pin.c_str());
        std::filesystem::remove_all(state_dir);
    }

    config::Config make_config() {
        auto lr = config::load_default();
        EXPECT_TRUE(lr.ok()) << lr.error_text();
        config::Config c = lr.config();
        c.pin_path = pin;
        c.state_dir = state_dir;
        c.interfaces = {config::InterfaceConfig{if_a, config::XdpMode::Generic, false}};
        c.blocklist.ips = {"198.18.77.1", "198.18.78.0/24"};
        c.blocklist.domains = {"blocked.example"};
        return c;
    }

    // Verdict on a UDP packet from src; with truncated, its UDP header is cut short (malformed).
    unsigned verdict(const char* src, bool truncated = false) {
        int fd = bpf_obj_get((pin + "/progs/xdp_blocklist").c_str());
        EXPECT_GE(fd, 0) << "open pinned program";
        auto pkt = PacketBuilder().eth().ipv4(src, "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
        if (truncated) pkt.resize(14 + 20 + 4);
        auto r = run_prog(fd, pkt);
        close(fd);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
        return r.ok() ? r->retval : 0;
    }

    // The kernel's own copy of xdp_blocklist's settings, through its pinned .bss.
    std::vector<std::uint8_t> kernel_bss() {
        std::string bss;
        for (const auto& e : std::filesystem::directory_iterator(pin + "/maps"))
            if (e.path().filename().string().rfind("xdp_", 0) == 0 && e.path().filename().string().find("bss") != std::string::npos)
                bss = e.path();
        EXPECT_FALSE(bss.empty()) << "no pinned .bss map of xdp_blocklist";
        int fd = bpf_obj_get(bss.c_str());
        EXPECT_GE(fd, 0);
        bpf_map_info info{};
        __u32 len = sizeof(info);
        bpf_obj_get_info_by_fd(fd, &info, &len);
        std::vector<std::uint8_t> buf(info.value_size);
        __u32 zero = 0;
        EXPECT_EQ(bpf_map_lookup_elem(fd, &zero, buf.data()), 0);
        close(fd);
        // Where fw_cfg sits in the section, from the map's BTF (DATASEC variable offsets).
        fw_cfg_offset = SIZE_MAX;
        if (btf* b = btf__load_from_kernel_by_id(info.btf_id)) {
            const int sec = btf__find_by_name_kind(b, ".bss", BTF_KIND_DATASEC);
            if (sec > 0) {
                const btf_type* t = btf__type_by_id(b, static_cast<__u32>(sec));
                const btf_var_secinfo* v = btf_var_secinfos(t);
                for (int i = 0; i < btf_vlen(t); ++i, ++v)
                    if (std::string(btf__name_by_offset(b, btf__type_by_id(b, v->type)->name_off)) == "fw_cfg")
                        fw_cfg_offset = v->offset;
            }
            btf__free(b);
        }
        EXPECT_NE(fw_cfg_offset, SIZE_MAX) << "fw_cfg not found in the .bss BTF";
        return buf;
    }
    std::size_t fw_cfg_offset = 0;
    fw_xdp_config kernel_cfg() {
        fw_xdp_config c{};
        auto b = kernel_bss();
        if (fw_cfg_offset != SIZE_MAX && fw_cfg_offset + sizeof(c) <= b.size()) std::memcpy(&c, b.data() + fw_cfg_offset, sizeof(c));
        return c;
    }

    std::string if_a, if_b, pin, state_dir;
    bool veth_created = false;
    std::unique_ptr<Manager> manager;
};

TEST_F(ManagerTest, StartsAttachesPinsAndStopsCleanly) {
    auto m = Manager::start(make_config(), "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);
    auto hooks = manager->hooks();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].ifname, if_a);
    EXPECT_EQ(hooks[0].mode_obtained, XdpMode::Generic);
    EXPECT_TRUE(exists(pin + "/progs/xdp_blocklist"));
    EXPECT_TRUE(exists(pin + "/maps/fw_block4"));
    auto h = manager->health();
    EXPECT_TRUE(h.healthy) << (h.problems.empty() ? "" : h.problems[0]);
    EXPECT_EQ(h.hooks_attached, 1u);
    EXPECT_TRUE(h.event_thread_alive);

    // Config entries are in force.
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);
    EXPECT_EQ(verdict("198.18.78.9"), kXdpDrop);
    EXPECT_EQ(verdict("198.18.79.1"), kXdpPass);
    auto domains = manager->list_domains();
    ASSERT_TRUE(domains.ok());
    ASSERT_EQ(domains->size(), 1u);
    EXPECT_EQ((*domains)[0].domain, "blocked.example");

    // A second instance on the same pin_path refuses, and the first keeps working.
    auto second = Manager::start(make_config(), "");
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().errnum(), EBUSY);
    EXPECT_NE(second.error().message().find("held by another flywall instance"), std::string::npos);
    EXPECT_TRUE(manager->health().healthy);
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);

    manager->stop();
    EXPECT_FALSE(exists(pin + "/progs/xdp_blocklist"));
    EXPECT_FALSE(exists(pin));
    __u32 prog_id = 0;
    ASSERT_EQ(bpf_xdp_query_id(static_cast<int>(if_nametoindex(if_a.c_str())), XDP_FLAGS_SKB_MODE, &prog_id), 0);
    EXPECT_EQ(prog_id, 0u);
}

// detach_on_exit = false: stop leaves the program attached on its pinned maps (still dropping the
// config's blocks), and the next instance replaces it in one step: no moment without a program.
TEST_F(ManagerTest, StopWithoutDetachLeavesTheDatapathAndTheNextInstanceTakesItOver) {
    auto cfg = make_config();
    cfg.detach_on_exit = false;
    auto m = Manager::start(cfg, "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    const int idx = static_cast<int>(if_nametoindex(if_a.c_str()));
    __u32 first = 0;
    ASSERT_EQ(bpf_xdp_query_id(idx, XDP_FLAGS_SKB_MODE, &first), 0);
    ASSERT_NE(first, 0u);
    // Flow and limiter state to carry over: five packets of one flow, one of another source.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(verdict("198.18.79.5"), kXdpPass);
    EXPECT_EQ(verdict("198.18.79.6"), kXdpPass);
    auto flows_before = (*m)->flows(100);
    ASSERT_TRUE(flows_before.ok());
    std::map<std::string, std::uint64_t> packets_before;
    // Only the test's flows (ifindex 1): the veth also sees the kernel's own IPv6 multicast.
    for (const auto& f : *flows_before)
        if (f.key.ifindex == 1) packets_before[format_flow_key(f.key)] = f.value.packets;
    ASSERT_EQ(packets_before.size(), 2u);
    const auto rl_before = (*m)->rate_limiter_occupancy();
    (*m)->stop();
    m->reset();
    __u32 left = 0;
    ASSERT_EQ(bpf_xdp_query_id(idx, XDP_FLAGS_SKB_MODE, &left), 0);
    EXPECT_EQ(left, first) << "the program stays attached after stop";
    EXPECT_TRUE(exists(pin + "/progs/xdp_blocklist")) << "and its pins stay";
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop) << "still enforcing the config's blocks";

    cfg.detach_on_exit = true;  // this one cleans up after the test
    auto next = Manager::start(cfg, "");
    ASSERT_TRUE(next.ok()) << next.error().message();
    manager = std::move(*next);
    auto hooks = manager->hooks();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].took_over_prog_id, first);
    __u32 now = 0;
    ASSERT_EQ(bpf_xdp_query_id(idx, XDP_FLAGS_SKB_MODE, &now), 0);
    EXPECT_NE(now, first);
    EXPECT_EQ(now, hooks[0].prog_id);
    // The flows and the limiter's sources are carried over, counters included.
    auto flows_after = manager->flows(100);
    ASSERT_TRUE(flows_after.ok());
    std::map<std::string, std::uint64_t> packets_after;
    for (const auto& f : *flows_after)
        if (f.key.ifindex == 1) packets_after[format_flow_key(f.key)] = f.value.packets;
    EXPECT_EQ(packets_after, packets_before);
    ASSERT_TRUE(rl_before && manager->rate_limiter_occupancy());
    EXPECT_GE(*manager->rate_limiter_occupancy(), *rl_before) << "the limiter's sources carried over";
    EXPECT_EQ(verdict("198.18.79.5"), kXdpPass);
    flows_after = manager->flows(100);
    ASSERT_TRUE(flows_after.ok());
    for (const auto& f : *flows_after)
        if (packets_before.count(format_flow_key(f.key)) && f.value.packets == 6) packets_after.clear();
    EXPECT_TRUE(packets_after.empty()) << "the carried flow keeps counting in the new program (5 + 1)";
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);
    EXPECT_EQ(verdict("198.18.79.1"), kXdpPass);
    manager->stop();
    ASSERT_EQ(bpf_xdp_query_id(idx, XDP_FLAGS_SKB_MODE, &now), 0);
    EXPECT_EQ(now, 0u);
    EXPECT_FALSE(exists(pin));
}

// Entries the config file does not hold (API, learning engine) are kept in <state_dir>/state.db
// and come back after a restart with the TTL they had left; removed and expired ones do not.
TEST_F(ManagerTest, ApiAndLearnedEntriesComeBackAfterARestartWithTheirRemainingTtl) {
    auto m = Manager::start(make_config(), "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    auto spec = [](const char* text, std::optional<std::chrono::seconds> ttl, IpListKind list = IpListKind::Block) {
        IpEntrySpec e;
        e.prefix = *parse_ip_prefix(text);
        e.list = list;
        if (ttl) e.ttl = *ttl;
        return e;
    };
    using std::chrono::seconds;
    ASSERT_TRUE((*m)->add_ips({spec("198.18.90.1", std::nullopt), spec("198.18.91.0/24", seconds(3600)),
                               spec("2001:db8:90::/48", std::nullopt), spec("198.18.93.1", seconds(1)),
                               spec("198.18.92.1", std::nullopt), spec("198.18.94.1", std::nullopt, IpListKind::Allow)})
                    .ok());
    ASSERT_TRUE((*m)->remove_ips({spec("198.18.92.1", std::nullopt)}).ok());
    ASSERT_TRUE((*m)->add_domains({{"api.example", DomainAction::Drop}, {"gone.example", DomainAction::Drop}},
                                  {seconds(600), std::nullopt})
                    .ok());
    ASSERT_TRUE((*m)->remove_domains({"gone.example"}).ok());
    // QoS rules and IPS patterns added through the API (binary bytes included).
    config::QosRuleConfig voip;
    voip.name = "voip";
    voip.proto = 17;
    voip.dport = config::PortSpan{5060, 5070};
    voip.classid = (1u << 16) | 0x10;
    voip.set_dscp = 46;
    ASSERT_TRUE((*m)->add_qos_rule(voip).ok());
    config::QosRuleConfig gone_rule = voip;
    gone_rule.name = "gone";
    ASSERT_TRUE((*m)->add_qos_rule(gone_rule).ok());
    ASSERT_TRUE((*m)->remove_qos_rule("gone").ok());
    config::IpsPatternConfig evil;
    evil.name = "evil";
    evil.bytes = {'E', 'V', 0x00, 0xff, '"', '\\', 'L'};
    evil.action = config::IpsActionConfig::Drop;
    evil.proto = 6;
    evil.port = 80;
    ASSERT_TRUE((*m)->add_ips_pattern(evil).ok());
    EXPECT_EQ(verdict("198.18.90.1"), kXdpDrop);
    (*m)->stop();
    m->reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // 198.18.93.1 expires meanwhile

    auto next = Manager::start(make_config(), "");
    ASSERT_TRUE(next.ok()) << next.error().message();
    manager = std::move(*next);
    auto ips = manager->list_ips();
    ASSERT_TRUE(ips.ok());
    std::map<std::string, IpListEntry> by;
    for (const auto& e : *ips) by[e.prefix.to_string() + (e.list == IpListKind::Allow ? " allow" : "")] = e;
    ASSERT_TRUE(by.count("198.18.90.1"));
    EXPECT_EQ(by["198.18.90.1"].source_id, 0u) << "still an API entry";
    EXPECT_FALSE(by["198.18.90.1"].remaining_ns) << "no expiry";
    ASSERT_TRUE(by.count("198.18.91.0/24"));
    ASSERT_TRUE(by["198.18.91.0/24"].remaining_ns);
    EXPECT_LE(*by["198.18.91.0/24"].remaining_ns, 3600ull * 1000000000ull);
    EXPECT_GE(*by["198.18.91.0/24"].remaining_ns, 3590ull * 1000000000ull) << "the TTL it had left, not a fresh one";
    EXPECT_TRUE(by.count("2001:db8:90::/48"));
    EXPECT_TRUE(by.count("198.18.94.1 allow"));
    EXPECT_FALSE(by.count("198.18.92.1")) << "removed through the API before the restart";
    EXPECT_FALSE(by.count("198.18.93.1")) << "expired during the restart";
    EXPECT_TRUE(by.count("198.18.77.1")) << "config entries as before";
    EXPECT_EQ(verdict("198.18.90.1"), kXdpDrop);
    EXPECT_EQ(verdict("198.18.91.7"), kXdpDrop);
    auto domains = manager->list_domains();
    ASSERT_TRUE(domains.ok());
    std::set<std::string> names;
    for (const auto& d : *domains) names.insert(d.domain);
    EXPECT_TRUE(names.count("api.example"));
    EXPECT_FALSE(names.count("gone.example"));
    EXPECT_TRUE(names.count("blocked.example"));
    auto rules = manager->tc_policy().qos_rules();
    ASSERT_TRUE(rules.ok());
    ASSERT_EQ(rules->size(), 1u) << "voip back, gone not";
    EXPECT_EQ((*rules)[0].rule, voip);
    EXPECT_FALSE((*rules)[0].from_config);
    auto pats = manager->tc_policy().ips_patterns();
    ASSERT_TRUE(pats.ok());
    ASSERT_EQ(pats->size(), 1u);
    EXPECT_EQ(pats->at(0).pattern, evil) << "the bytes survive exactly";
}

// Reload is one transaction: a failure injected before each step (and after the last) leaves
// the running state exactly the old one: verdicts in the kernel, list and domain entries with
// their owners, feature states and kernel feature bits, limiter settings, hooks, the config the
// API reports. The same reload without the fault then applies in full.
TEST_F(ManagerTest, ReloadFailingAtAnyStepLeavesTheOldStateExactly) {
    auto a = make_config();
    a.ebpf.features["rate_limiting"] = true;
    a.rate_limit.enabled = true;
    a.rate_limit.pps = 5000;
    auto m = Manager::start(a, "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);

    auto b = a;
    b.blocklist.ips = {"198.18.77.1", "198.18.80.1"};  // 198.18.78.0/24 dropped, 198.18.80.1 added
    b.blocklist.domains = {"other.example"};
    b.ebpf.features["dns_blocklist"] = false;
    b.rate_limit.pps = 100;
    b.flows.trusted_after_packets = 7;
    b.interfaces.push_back(config::InterfaceConfig{if_b, config::XdpMode::Generic, false});

    struct Snapshot {
        std::vector<unsigned> verdicts;
        std::set<std::string> ips, domains, features, hooks;
        __u32 feature_bits = 0;
        std::uint64_t rl_pps = 0;
        std::uint32_t trusted_after = 0;
        config::Config cfg;
        bool operator==(const Snapshot&) const = default;
    };
    auto snap = [&] {
        Snapshot s;
        for (const char* ip : {"198.18.77.1", "198.18.78.9", "198.18.80.1", "198.18.81.1"}) s.verdicts.push_back(verdict(ip));
        const auto ips = manager->list_ips();
        const auto doms = manager->list_domains();
        EXPECT_TRUE(ips.ok() && doms.ok());
        for (const auto& e : *ips)
            s.ips.insert(e.prefix.to_string() + (e.list == IpListKind::Allow ? " allow " : " block ") + std::to_string(e.source_id));
        for (const auto& d : *doms) s.domains.insert(d.domain + " " + std::to_string(d.entry.source_id));
        for (const auto& f : manager->coordinator().features())
            if (f.enabled) s.features.insert(f.name);
        for (const auto& h : manager->hooks())
            s.hooks.insert(h.ifname + " " + std::string(to_string(h.attach_point)) + " " +
                           (h.mode_obtained ? std::string(to_string(*h.mode_obtained)) : ""));
        s.cfg = manager->config();
        return s;
    };
    const Snapshot before = snap();
    const fw_xdp_config kbefore = kernel_cfg();
    ASSERT_NE(kbefore.features, 0u);
    ASSERT_EQ(kbefore.rl_pps, 5000u);
    ASSERT_EQ(before.verdicts, (std::vector<unsigned>{kXdpDrop, kXdpDrop, kXdpPass, kXdpPass}));
    ASSERT_EQ(before.hooks.size(), 1u);

    {
        // A real failure, late in the reload: an interface that does not exist. Before reloads
        // were transactional, the lists, domains, features and limits of `b` stayed applied.
        auto missing = b;
        missing.interfaces.push_back(config::InterfaceConfig{"fw-no-such-if", config::XdpMode::Generic, false});
        auto st = manager->apply_config(missing);
        ASSERT_FALSE(st.ok());
        EXPECT_NE(st.error().message().find("failed at step interfaces"), std::string::npos) << st.error().message();
        EXPECT_EQ(snap(), before);
    }
    for (const auto& step : Manager::reload_steps()) {
        SCOPED_TRACE("fault before " + step);
        manager->fail_reload_at(step);
        auto st = manager->apply_config(b);
        ASSERT_FALSE(st.ok());
        EXPECT_NE(st.error().message().find("failed at step " + step), std::string::npos) << st.error().message();
        EXPECT_EQ(snap(), before);
        // Every byte of the kernel's settings (features, tables, limiter, sampling) is back,
        // except the policy generation, which only ever counts up.
        fw_xdp_config now = kernel_cfg();
        const fw_xdp_config& was = kbefore;
        EXPECT_GE(now.policy_gen, was.policy_gen);
        now.policy_gen = was.policy_gen;
        EXPECT_EQ(now.features, was.features);
        EXPECT_EQ(now.rl_pps, was.rl_pps);
        EXPECT_EQ(now.trusted_after_packets, was.trusted_after_packets);
        EXPECT_EQ(std::memcmp(&now, &was, sizeof(now)), 0) << "fw_cfg differs after the rollback";
    }
    manager->fail_reload_at("");
    auto st = manager->apply_config(b);
    ASSERT_TRUE(st.ok()) << st.error().message();
    const Snapshot after = snap();
    EXPECT_EQ(kernel_cfg().rl_pps, 100u) << "applied in full without the fault";
    EXPECT_EQ(kernel_cfg().trusted_after_packets, 7u);
    EXPECT_EQ(after.verdicts, (std::vector<unsigned>{kXdpDrop, kXdpPass, kXdpDrop, kXdpPass}));
    EXPECT_EQ(after.hooks.size(), 2u);
    EXPECT_FALSE(after.features.count("dns_blocklist"));
    EXPECT_TRUE(after.domains.count("other.example 1"));
    EXPECT_EQ(manager->health().reload_failures, Manager::reload_steps().size() + 1);
}

TEST_F(ManagerTest, FeatureSwitchActsWithoutReload) {
    auto m = Manager::start(make_config(), "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);
    const auto prog_id = manager->hooks().at(0).prog_id;
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);
    // ddos_protection depends on ip_blocklist: a plain disable is refused, a forced one works.
    auto refused = manager->set_feature("ip_blocklist", false, false);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().errnum(), EBUSY);
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);
    auto off = manager->set_feature("ip_blocklist", false, true);
    ASSERT_TRUE(off.ok()) << off.error().message();
    EXPECT_EQ(verdict("198.18.77.1"), kXdpPass);
    ASSERT_TRUE(manager->set_feature("ip_blocklist", true, false).ok());
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);
    EXPECT_EQ(manager->hooks().at(0).prog_id, prog_id);  // same program: nothing reloaded
    // learning_engine runs in the daemon; with its dependencies (flow_monitoring, statistics) on
    // it turns on, with the event sources it learns from, and then holds flow_monitoring: a plain
    // disable of that is refused.
    ASSERT_FALSE(manager->coordinator().is_enabled("events"));
    auto learning = manager->set_feature("learning_engine", true, false);
    ASSERT_TRUE(learning.ok()) << learning.error().message();
    const __u32 need = FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS;
    EXPECT_EQ(kernel_cfg().features & need, need) << "the engine's event sources are on";
    // The events feature shares FW_F_EVENTS: switching it on and off leaves the engine's bit.
    ASSERT_TRUE(manager->set_feature("events", true, false).ok());
    ASSERT_TRUE(manager->set_feature("events", false, false).ok());
    EXPECT_EQ(kernel_cfg().features & need, need) << "events off must not silence the learning engine";
    ASSERT_TRUE(manager->set_feature("learning_engine", false, false).ok());
    EXPECT_EQ(kernel_cfg().features & need, 0u) << "nobody needs them any more";
    ASSERT_TRUE(manager->set_feature("learning_engine", true, false).ok());
    auto held = manager->set_feature("flow_monitoring", false, false);
    ASSERT_FALSE(held.ok());
    EXPECT_EQ(held.error().errnum(), EBUSY);
    EXPECT_EQ(manager->hooks().at(0).prog_id, prog_id);
}

// The config's learning block sets the engine's thresholds at start and on reload.
TEST_F(ManagerTest, LearningThresholdsComeFromTheConfig) {
    auto cfg = make_config();
    cfg.learning.scan_ports = 7;
    cfg.learning.ips_window_sec = 42;
    cfg.learning.auto_apply = true;
    auto m = Manager::start(cfg, "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);
    auto v = manager->learning_view();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ((*v)["config"]["scan_ports"], 7);
    EXPECT_EQ((*v)["config"]["ips_window_sec"], 42);
    EXPECT_EQ((*v)["auto_apply"], true);
    auto next = cfg;
    next.learning.scan_ports = 9;
    next.learning.auto_apply = false;
    ASSERT_TRUE(manager->apply_config(next).ok());
    v = manager->learning_view();
    ASSERT_TRUE(v.ok());
    EXPECT_EQ((*v)["config"]["scan_ports"], 9);
    EXPECT_EQ((*v)["auto_apply"], false);
}

// blocklist.malformed_verdict reaches the program at start and on reload; a blocked source is
// dropped whatever the setting (fail closed: the lists decide before the malformed verdict).
TEST_F(ManagerTest, MalformedVerdictComesFromTheConfig) {
    auto cfg = make_config();
    cfg.blocklist.malformed_verdict = config::MalformedVerdict::Drop;
    auto m = Manager::start(cfg, "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);
    EXPECT_EQ(verdict("198.18.79.1", true), kXdpDrop);
    EXPECT_EQ(verdict("198.18.79.1"), kXdpPass);  // well-formed packets are not affected
    EXPECT_EQ(verdict("198.18.77.1", true), kXdpDrop);

    auto next = cfg;
    next.blocklist.malformed_verdict = config::MalformedVerdict::Pass;
    ASSERT_TRUE(manager->apply_config(next).ok());
    EXPECT_EQ(verdict("198.18.79.1", true), kXdpPass);
    EXPECT_EQ(verdict("198.18.77.1", true), kXdpDrop);  // blocked source, malformed packet
    EXPECT_EQ(verdict("198.18.78.9", true), kXdpDrop);  // blocked CIDR, malformed packet

    ASSERT_TRUE(manager->apply_config(cfg).ok());
    EXPECT_EQ(verdict("198.18.79.1", true), kXdpDrop);
}

TEST_F(ManagerTest, ReloadAppliesADiffAndKeepsApiEntries) {
    auto cfg = make_config();
    auto m = Manager::start(cfg, "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);
    IpEntrySpec api_entry;
    api_entry.prefix = *parse_ip_prefix("198.18.90.1");
    ASSERT_TRUE(manager->add_ips({api_entry}).ok());
    EXPECT_EQ(verdict("198.18.90.1"), kXdpDrop);

    auto next = cfg;
    next.blocklist.ips = {"198.18.77.1", "198.18.80.1"};  // /24 removed, one host added
    next.rate_limit.pps = 12345;
    ASSERT_TRUE(manager->apply_config(next).ok());
    EXPECT_EQ(verdict("198.18.77.1"), kXdpDrop);  // kept
    EXPECT_EQ(verdict("198.18.78.9"), kXdpPass);  // removed
    EXPECT_EQ(verdict("198.18.80.1"), kXdpDrop);  // added
    EXPECT_EQ(verdict("198.18.90.1"), kXdpDrop);  // API entry survives
    EXPECT_EQ(manager->config().rate_limit.pps, 12345u);

    // Rejected: pin_path cannot change, and a list file that does not exist. Nothing changes.
    auto bad = next;
    bad.pin_path = pin + "-other";
    EXPECT_FALSE(manager->apply_config(bad).ok());
    auto bad2 = next;
    bad2.blocklist.ips = {"198.18.81.1"};
    bad2.blocklist.ip_files = {"/nonexistent/flywall-list.txt"};
    EXPECT_FALSE(manager->apply_config(bad2).ok());
    EXPECT_EQ(verdict("198.18.81.1"), kXdpPass);
    EXPECT_EQ(verdict("198.18.80.1"), kXdpDrop);
    EXPECT_EQ(manager->health().reload_failures, 2u);
    EXPECT_EQ(manager->hooks().size(), 1u);
}

}  // namespace
}  // namespace flywall
