// TcPolicyStore over the real TC classifier: what the store reports is what the kernel tables
// hold, and the ids it allocates are the ones the program reports in its ips_* events.
#include "core/tc_policy_store.hpp"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

// BPF_PROG_TEST_RUN of a TC program; the __sk_buff after the run in `ctx_after`.
int run_tc(int fd, const Bytes& pkt, __sk_buff* ctx_after = nullptr) {
    Bytes out(pkt.size() + 256);
    __sk_buff ctx_in{}, ctx_out{};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(pkt.size()), .data_size_out = static_cast<uint32_t>(out.size()),
                .ctx_in = &ctx_in, .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx_in), .ctx_size_out = sizeof(ctx_out),
                .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(fd, &opts), 0) << "BPF_PROG_TEST_RUN: " << strerror(errno);
    if (ctx_after) *ctx_after = ctx_out;
    return static_cast<int>(opts.retval);
}

Bytes udp(std::uint16_t sport, const std::string& payload, std::uint16_t dport = 9000) {
    return PacketBuilder().eth().ipv4("198.18.0.5", "198.18.1.5", IPPROTO_UDP).udp(sport, dport).payload(payload).build();
}

config::IpsPatternConfig pattern(const std::string& name, const std::string& bytes, config::IpsActionConfig action) {
    config::IpsPatternConfig p;
    p.name = name;
    p.bytes.assign(bytes.begin(), bytes.end());
    p.action = action;
    return p;
}

class TcPolicyStoreKernelTest : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto tc = TcClassifier::load();
        ASSERT_TRUE(tc.ok()) << tc.error().message();
        tc_.emplace(std::move(tc).value());
        store_.attach(std::make_unique<TcClassifierTarget>(*tc_));
    }
    void TearDown() override { store_.detach(); }
    std::vector<fw_tc_event> drain() {
        std::vector<fw_tc_event> evs;
        auto n = tc_->poll_events(0, [&](const fw_tc_event& e) { evs.push_back(e); });
        EXPECT_TRUE(n.ok()) << n.error().message();
        return evs;
    }
    std::vector<std::uint32_t> kernel_ids() {
        std::vector<std::uint32_t> ids;
        for (const auto& p : tc_->ips_patterns()) ids.push_back(p.id);
        std::sort(ids.begin(), ids.end());
        return ids;
    }
    std::optional<TcClassifier> tc_;
    TcPolicyStore store_;
};

}  // namespace

TEST_F(TcPolicyStoreKernelTest, EventsNameTheIdsTheStoreAllocated) {
    using config::IpsActionConfig;
    ASSERT_TRUE(store_.sync_config({}, {pattern("evil", "EVIL-ONE", IpsActionConfig::Drop)}).ok());
    auto api = store_.add_ips_pattern(pattern("odd", "ODD-TWO", IpsActionConfig::Alert));
    ASSERT_TRUE(api.ok()) << api.error().message();
    EXPECT_EQ(*api, 2u);
    EXPECT_EQ(kernel_ids(), (std::vector<std::uint32_t>{1, 2}));

    EXPECT_EQ(run_tc(tc_->prog_fd(), udp(40001, "xx EVIL-ONE xx")), TC_ACT_SHOT);
    EXPECT_EQ(run_tc(tc_->prog_fd(), udp(40002, "xx ODD-TWO xx")), TC_ACT_OK);
    auto evs = drain();
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0].type, FW_TC_EV_IPS_DROP);
    EXPECT_EQ(evs[0].pattern_id, 1u);
    EXPECT_EQ(evs[1].type, FW_TC_EV_IPS_ALERT);
    EXPECT_EQ(evs[1].pattern_id, 2u);

    // The API replaces the config's drop pattern with an alert: new id, the old one is gone.
    auto replaced = store_.add_ips_pattern(pattern("evil", "EVIL-ONE", IpsActionConfig::Alert));
    ASSERT_TRUE(replaced.ok()) << replaced.error().message();
    EXPECT_EQ(*replaced, 3u);
    EXPECT_EQ(kernel_ids(), (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(run_tc(tc_->prog_fd(), udp(40003, "xx EVIL-ONE xx")), TC_ACT_OK);
    evs = drain();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].type, FW_TC_EV_IPS_ALERT);
    EXPECT_EQ(evs[0].pattern_id, 3u);

    // A reload without patterns keeps both (both belong to the API now).
    ASSERT_TRUE(store_.sync_config({}, {}).ok());
    EXPECT_EQ(kernel_ids(), (std::vector<std::uint32_t>{2, 3}));
    ASSERT_TRUE(*store_.remove_ips_pattern("odd"));
    EXPECT_EQ(kernel_ids(), (std::vector<std::uint32_t>{3}));
}

TEST_F(TcPolicyStoreKernelTest, QosTableFollowsConfigAndApiRules) {
    config::QosRuleConfig cfg_rule;
    cfg_rule.name = "voice";
    cfg_rule.proto = IPPROTO_UDP;
    cfg_rule.dport = config::PortSpan{9000, 9000};
    cfg_rule.classid = tc_class_handle(1, 0x10);
    ASSERT_TRUE(store_.sync_config({cfg_rule}, {}).ok());
    config::QosRuleConfig api_rule = cfg_rule;
    api_rule.name = "bulk";
    api_rule.dport = config::PortSpan{9001, 9001};
    api_rule.classid = tc_class_handle(1, 0x20);
    ASSERT_TRUE(store_.add_qos_rule(api_rule).ok());
    ASSERT_EQ(tc_->qos_rules().size(), 2u);
    EXPECT_EQ(tc_->qos_rules()[0].classid, tc_class_handle(1, 0x10));
    EXPECT_EQ(tc_->qos_rules()[1].classid, tc_class_handle(1, 0x20));
    __sk_buff ctx{};
    run_tc(tc_->prog_fd(), udp(41001, "v", 9000), &ctx);
    EXPECT_EQ(ctx.priority, tc_class_handle(1, 0x10));
    run_tc(tc_->prog_fd(), udp(41002, "b", 9001), &ctx);
    EXPECT_EQ(ctx.priority, tc_class_handle(1, 0x20));

    // Reload drops the config's rule; the API's moves up to the first slot.
    ASSERT_TRUE(store_.sync_config({}, {}).ok());
    ASSERT_EQ(tc_->qos_rules().size(), 1u);
    EXPECT_EQ(tc_->qos_rules()[0].classid, tc_class_handle(1, 0x20));
    run_tc(tc_->prog_fd(), udp(41003, "v", 9000), &ctx);
    EXPECT_EQ(ctx.priority, 0u) << "the voice rule is gone from the kernel table";
    auto listed = store_.qos_rules();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].rule.name, "bulk");
    EXPECT_FALSE((*listed)[0].from_config);
}
