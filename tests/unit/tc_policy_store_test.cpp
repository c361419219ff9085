// TcPolicyStore without a kernel: a fake target keeps the "kernel" QoS table and IPS pattern
// table and the order of writes, so the tests check what the classifier would hold, not only
// what the store reports.
#include "core/tc_policy_store.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace flywall {
namespace {

struct FakeTable {
    std::vector<QosRule> qos;
    std::map<std::uint32_t, IpsPattern> ips;  // id -> pattern
    std::vector<std::string> log;             // "add 3", "remove 1", "qos 2"
    bool fail_qos = false;
    bool fail_add = false;
    bool fail_remove = false;
    fw_tc_stats stats{};
};

class FakeTarget final : public TcPolicyTarget {
public:
    explicit FakeTarget(FakeTable& t) : t_(t) {}
    Status set_qos_rules(const std::vector<QosRule>& rules) override {
        if (t_.fail_qos) return Error::from_errno(ENOSPC, "write QoS table");
        t_.qos = rules;
        t_.log.push_back("qos " + std::to_string(rules.size()));
        return {};
    }
    Status add_ips_pattern(const IpsPattern& p) override {
        if (t_.fail_add) return Error::from_errno(ENOSPC, "add IPS pattern");
        if (t_.ips.count(p.id)) return Error::from_errno(EEXIST, "add IPS pattern");
        t_.ips[p.id] = p;
        t_.log.push_back("add " + std::to_string(p.id));
        return {};
    }
    Result<bool> remove_ips_pattern(std::uint32_t id) override {
        if (t_.fail_remove) return Error::from_errno(EIO, "remove IPS pattern");
        t_.log.push_back("remove " + std::to_string(id));
        return t_.ips.erase(id) > 0;
    }
    Result<fw_tc_stats> stats_total() const override { return t_.stats; }

private:
    FakeTable& t_;
};

config::QosRuleConfig qos(const std::string& name, std::uint32_t classid, std::uint8_t proto = 6) {
    config::QosRuleConfig r;
    r.name = name;
    r.proto = proto;
    r.classid = classid;
    return r;
}

config::IpsPatternConfig pat(const std::string& name, const std::string& bytes,
                             config::IpsActionConfig action = config::IpsActionConfig::Alert) {
    config::IpsPatternConfig p;
    p.name = name;
    p.bytes.assign(bytes.begin(), bytes.end());
    p.action = action;
    return p;
}

class TcPolicyStoreTest : public ::testing::Test {
protected:
    void SetUp() override { store_.attach(std::make_unique<FakeTarget>(table_)); }

    std::vector<std::pair<std::string, bool>> qos_names() {
        auto r = store_.qos_rules();
        EXPECT_TRUE(r.ok());
        std::vector<std::pair<std::string, bool>> out;
        if (r.ok())
            for (const auto& q : *r) out.emplace_back(q.rule.name, q.from_config);
        return out;
    }
    std::map<std::string, NamedIpsPattern> ips_by_name() {
        auto r = store_.ips_patterns();
        EXPECT_TRUE(r.ok());
        std::map<std::string, NamedIpsPattern> out;
        if (r.ok())
            for (const auto& p : *r) out[p.pattern.name] = p;
        return out;
    }

    FakeTable table_;
    TcPolicyStore store_;
};

TEST(TcPolicyStoreDetached, EveryOperationSaysTheClassifierIsNotLoaded) {
    TcPolicyStore s;
    EXPECT_FALSE(s.attached());
    EXPECT_EQ(s.qos_rules().error().errnum(), ENODEV);
    EXPECT_EQ(s.add_qos_rule(qos("a", 1)).error().errnum(), ENODEV);
    EXPECT_EQ(s.remove_qos_rule("a").error().errnum(), ENODEV);
    EXPECT_EQ(s.ips_patterns().error().errnum(), ENODEV);
    EXPECT_EQ(s.add_ips_pattern(pat("p", "ab")).error().errnum(), ENODEV);
    EXPECT_EQ(s.remove_ips_pattern("p").error().errnum(), ENODEV);
    EXPECT_EQ(s.tc_stats().error().errnum(), ENODEV);
    // A config without rules is fine without the classifier; one with rules is not.
    EXPECT_TRUE(s.sync_config({}, {}).ok());
    auto st = s.sync_config({qos("a", 1)}, {});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().errnum(), ENOTSUP);
    EXPECT_EQ(s.sync_config({}, {pat("p", "ab")}).error().errnum(), ENOTSUP);
}

TEST_F(TcPolicyStoreTest, IpsIdsCountFromOneAndAreNeverReused) {
    EXPECT_EQ(*store_.add_ips_pattern(pat("a", "aa")), 1u);
    EXPECT_EQ(*store_.add_ips_pattern(pat("b", "bb")), 2u);
    EXPECT_EQ(*store_.remove_ips_pattern("a"), true);
    EXPECT_EQ(*store_.remove_ips_pattern("a"), false);
    EXPECT_EQ(*store_.add_ips_pattern(pat("a", "aa")), 3u);  // not 1 again: old events name 1
    ASSERT_EQ(table_.ips.size(), 2u);
    EXPECT_TRUE(table_.ips.count(2));
    EXPECT_TRUE(table_.ips.count(3));
    EXPECT_EQ(table_.ips.at(3).bytes, (std::vector<std::uint8_t>{'a', 'a'}));
}

TEST_F(TcPolicyStoreTest, IpsReplaceByNameWritesTheNewIdBeforeRemovingTheOld) {
    ASSERT_EQ(*store_.add_ips_pattern(pat("x", "old")), 1u);
    table_.log.clear();
    auto id = store_.add_ips_pattern(pat("x", "new", config::IpsActionConfig::Drop));
    ASSERT_TRUE(id.ok()) << id.error().message();
    EXPECT_EQ(*id, 2u);
    EXPECT_EQ(table_.log, (std::vector<std::string>{"add 2", "remove 1"}));  // no gap in coverage
    auto by = ips_by_name();
    ASSERT_EQ(by.size(), 1u);
    EXPECT_EQ(by["x"].id, 2u);
    EXPECT_EQ(by["x"].pattern.bytes, (std::vector<std::uint8_t>{'n', 'e', 'w'}));
    ASSERT_EQ(table_.ips.size(), 1u);
    EXPECT_EQ(table_.ips.at(2).action, IpsAction::Drop);
}

TEST_F(TcPolicyStoreTest, FailedIpsWritesLeaveTheTableAndTheIdsAsTheyWere) {
    table_.fail_add = true;
    EXPECT_FALSE(store_.add_ips_pattern(pat("a", "aa")).ok());
    table_.fail_add = false;
    EXPECT_EQ(*store_.add_ips_pattern(pat("a", "aa")), 1u);  // the failed add used no id
    // Replacing fails when the old pattern cannot be removed: the new one is taken out again.
    table_.fail_remove = true;
    auto r = store_.add_ips_pattern(pat("a", "zz"));
    table_.fail_remove = false;
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("replace IPS pattern \"a\""), std::string::npos) << r.error().message();
    EXPECT_EQ(ips_by_name()["a"].id, 1u);
    EXPECT_EQ(ips_by_name()["a"].pattern.bytes, (std::vector<std::uint8_t>{'a', 'a'}));
}

TEST_F(TcPolicyStoreTest, QosAddReplacesInPlaceAndRemoveKeepsTheOrder) {
    ASSERT_TRUE(store_.add_qos_rule(qos("a", 0x10010)).ok());
    ASSERT_TRUE(store_.add_qos_rule(qos("b", 0x10020)).ok());
    ASSERT_TRUE(store_.add_qos_rule(qos("c", 0x10030)).ok());
    ASSERT_TRUE(store_.add_qos_rule(qos("b", 0x10099, 17)).ok());  // same name: same slot
    EXPECT_EQ(qos_names(), (std::vector<std::pair<std::string, bool>>{{"a", false}, {"b", false}, {"c", false}}));
    ASSERT_EQ(table_.qos.size(), 3u);
    EXPECT_EQ(table_.qos[1].classid, 0x10099u);
    EXPECT_EQ(table_.qos[1].proto, std::optional<std::uint8_t>(17));
    EXPECT_EQ(*store_.remove_qos_rule("a"), true);
    EXPECT_EQ(*store_.remove_qos_rule("a"), false);
    ASSERT_EQ(table_.qos.size(), 2u);
    EXPECT_EQ(table_.qos[0].classid, 0x10099u);
    EXPECT_EQ(table_.qos[1].classid, 0x10030u);
}

TEST_F(TcPolicyStoreTest, FailedQosWriteKeepsThePreviousRules) {
    ASSERT_TRUE(store_.add_qos_rule(qos("a", 1)).ok());
    table_.fail_qos = true;
    EXPECT_FALSE(store_.add_qos_rule(qos("b", 2)).ok());
    EXPECT_FALSE(store_.remove_qos_rule("a").ok());
    auto st = store_.sync_config({qos("c", 3)}, {});
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("apply configured QoS rules"), std::string::npos);
    table_.fail_qos = false;
    EXPECT_EQ(qos_names(), (std::vector<std::pair<std::string, bool>>{{"a", false}}));
    ASSERT_EQ(table_.qos.size(), 1u);
    EXPECT_EQ(table_.qos[0].classid, 1u);
}

TEST_F(TcPolicyStoreTest, ReloadReplacesConfigEntriesAndKeepsApiEntries) {
    // Start: two config rules and patterns; then the API adds its own.
    ASSERT_TRUE(store_.sync_config({qos("c1", 1), qos("c2", 2)}, {pat("p1", "11"), pat("p2", "22")}).ok());
    ASSERT_TRUE(store_.add_qos_rule(qos("api", 9)).ok());
    ASSERT_TRUE(store_.add_ips_pattern(pat("q", "qq")).ok());
    const std::uint32_t p1_id = ips_by_name()["p1"].id, q_id = ips_by_name()["q"].id;

    // Reload: c1 and p2 dropped, c2 changed, p1 unchanged.
    table_.log.clear();
    ASSERT_TRUE(store_.sync_config({qos("c2", 22)}, {pat("p1", "11")}).ok());
    EXPECT_EQ(qos_names(), (std::vector<std::pair<std::string, bool>>{{"c2", true}, {"api", false}}));
    ASSERT_EQ(table_.qos.size(), 2u);
    EXPECT_EQ(table_.qos[0].classid, 22u);
    EXPECT_EQ(table_.qos[1].classid, 9u);
    auto by = ips_by_name();
    ASSERT_EQ(by.size(), 2u);
    EXPECT_EQ(by["p1"].id, p1_id);  // unchanged: same id, not rewritten
    EXPECT_TRUE(by["p1"].from_config);
    EXPECT_EQ(by["q"].id, q_id);
    EXPECT_FALSE(by["q"].from_config);
    EXPECT_EQ(table_.ips.size(), 2u);
    EXPECT_TRUE(table_.ips.count(p1_id));
    EXPECT_TRUE(table_.ips.count(q_id));

    // The same config again writes nothing.
    table_.log.clear();
    ASSERT_TRUE(store_.sync_config({qos("c2", 22)}, {pat("p1", "11")}).ok());
    EXPECT_TRUE(table_.log.empty()) << table_.log.front();

    // An empty config removes only the config's entries.
    ASSERT_TRUE(store_.sync_config({}, {}).ok());
    EXPECT_EQ(qos_names(), (std::vector<std::pair<std::string, bool>>{{"api", false}}));
    by = ips_by_name();
    ASSERT_EQ(by.size(), 1u);
    EXPECT_TRUE(by.count("q"));
    EXPECT_EQ(table_.ips.size(), 1u);
}

TEST_F(TcPolicyStoreTest, ConfigTakesOverAnApiNameAndTheApiTakesOverAConfigName) {
    ASSERT_TRUE(store_.add_qos_rule(qos("shared", 5)).ok());
    ASSERT_EQ(*store_.add_ips_pattern(pat("shared", "api")), 1u);
    // The config names the same entries: they become the config's (the pattern with a new id).
    ASSERT_TRUE(store_.sync_config({qos("shared", 6)}, {pat("shared", "cfg")}).ok());
    EXPECT_EQ(qos_names(), (std::vector<std::pair<std::string, bool>>{{"shared", true}}));
    ASSERT_EQ(table_.qos.size(), 1u);
    EXPECT_EQ(table_.qos[0].classid, 6u);
    auto by = ips_by_name();
    EXPECT_TRUE(by["shared"].from_config);
    EXPECT_EQ(by["shared"].id, 2u);
    EXPECT_EQ(table_.ips.size(), 1u);

    // The API writes the same names: they become the API's and survive a reload that drops them.
    ASSERT_TRUE(store_.add_qos_rule(qos("shared", 7)).ok());
    ASSERT_EQ(*store_.add_ips_pattern(pat("shared", "api2")), 3u);
    ASSERT_TRUE(store_.sync_config({}, {}).ok());
    EXPECT_EQ(qos_names(), (std::vector<std::pair<std::string, bool>>{{"shared", false}}));
    EXPECT_EQ(table_.qos.at(0).classid, 7u);
    by = ips_by_name();
    EXPECT_FALSE(by["shared"].from_config);
    EXPECT_EQ(by["shared"].id, 3u);
    EXPECT_EQ(table_.ips.size(), 1u);
    EXPECT_TRUE(table_.ips.count(3));
}

TEST_F(TcPolicyStoreTest, DetachForgetsTheEntriesAndStatsComeFromTheTarget) {
    table_.stats.ips_alerts = 42;
    auto s = store_.tc_stats();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->ips_alerts, 42u);
    ASSERT_TRUE(store_.add_qos_rule(qos("a", 1)).ok());
    store_.detach();
    EXPECT_FALSE(store_.attached());
    EXPECT_EQ(store_.qos_rules().error().errnum(), ENODEV);
}

TEST(TcPolicyConversion, ConfigFormsBecomeClassifierForms) {
    config::QosRuleConfig r = qos("r", 0x10010, 17);
    r.dport = config::PortSpan{5000, 5100};
    r.dscp = 46;
    r.set_dscp = 10;
    r.priority = 3;
    QosRule q = to_qos_rule(r);
    EXPECT_EQ(q.proto, std::optional<std::uint8_t>(17));
    ASSERT_TRUE(q.dport.has_value());
    EXPECT_EQ(q.dport->lo, 5000);
    EXPECT_EQ(q.dport->hi, 5100);
    EXPECT_FALSE(q.sport.has_value());
    EXPECT_EQ(q.dscp, std::optional<std::uint8_t>(46));
    EXPECT_EQ(q.set_dscp, std::optional<std::uint8_t>(10));
    EXPECT_EQ(q.classid, 0x10010u);
    EXPECT_EQ(q.priority, 3u);

    config::IpsPatternConfig p = pat("p", "GET", config::IpsActionConfig::Drop);
    p.proto = 6;
    p.port = 80;
    IpsPattern ip = to_ips_pattern(p, 7);
    EXPECT_EQ(ip.id, 7u);
    EXPECT_EQ(ip.action, IpsAction::Drop);
    EXPECT_EQ(ip.proto, 6);
    EXPECT_EQ(ip.port, 80);
    EXPECT_EQ(ip.bytes, (std::vector<std::uint8_t>{'G', 'E', 'T'}));
}

}  // namespace
}  // namespace flywall
