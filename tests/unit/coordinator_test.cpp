#include "core/coordinator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

namespace flywall {
namespace {

using Names = std::vector<std::string>;

std::size_t pos(const Names& v, const std::string& n) {
    return static_cast<std::size_t>(std::find(v.begin(), v.end(), n) - v.begin());
}

// Records every hook call as "+name" / "-name"; can be told to fail for one call.
struct HookLog {
    Names calls;
    std::string fail_on;  // e.g. "+qos"
    void attach(Coordinator& c) {
        for (const auto& f : c.features()) {
            std::string n = f.name;
            ASSERT_TRUE(c.set_apply_hook(n, [this, n](bool on) -> Status {
                             std::string call = (on ? "+" : "-") + n;
                             if (call == fail_on)
                                 return Error::from_errno(EIO, "update config map");
                             calls.push_back(call);
                             return {};
                         }).ok());
        }
    }
};

class CoordinatorTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(c.register_builtin_features().ok()); }
    // Everything off: a known starting point.
    void all_off() {
        std::map<std::string, bool> off;
        for (const auto& f : c.features()) off[f.name] = false;
        ASSERT_TRUE(c.configure(off).ok());
    }
    Coordinator c;
};

TEST_F(CoordinatorTest, BuiltinGraphHasSeedDependencies) {
    auto deps = [&](const char* n) { return c.feature(n)->dependencies; };
    EXPECT_EQ(deps("inline_ips"), (Names{"flow_monitoring"}));
    EXPECT_EQ(deps("qos"), (Names{"flow_monitoring"}));
    EXPECT_EQ(deps("learning_engine"), (Names{"flow_monitoring", "statistics"}));
    EXPECT_EQ(deps("tls_fingerprinting"), (Names{"socket_filters"}));
    EXPECT_EQ(deps("dns_monitoring"), (Names{"socket_filters"}));
    EXPECT_EQ(deps("dhcp_monitoring"), (Names{"socket_filters"}));
    EXPECT_EQ(deps("ddos_protection"), (Names{"ip_blocklist", "rate_limiting"}));
    EXPECT_EQ(c.features().size(), 14u);
    EXPECT_TRUE(c.validate().ok());
}

TEST_F(CoordinatorTest, BuiltinPrioritiesNeverExceedADependency) {
    for (const auto& f : c.features())
        for (const auto& d : f.dependencies)
            EXPECT_LE(f.priority, c.feature(d)->priority) << f.name << " vs " << d;
}

TEST_F(CoordinatorTest, ActivationOrderPutsDependenciesFirst) {
    auto order = c.activation_order();
    ASSERT_TRUE(order.ok());
    ASSERT_EQ(order->size(), 14u);
    for (const auto& f : c.features())
        for (const auto& d : f.dependencies)
            EXPECT_LT(pos(*order, d), pos(*order, f.name)) << d << " before " << f.name;
    // Ties broken by priority: the blocklist (100) is the first independent feature.
    EXPECT_EQ(order->front(), "ip_blocklist");
}

TEST_F(CoordinatorTest, SeedConfigurationApplies) {
    std::map<std::string, bool> seed{{"ddos_protection", true}, {"dns_blocklist", true},
                                     {"inline_ips", true},      {"flow_monitoring", true},
                                     {"qos", true},             {"learning_engine", true}};
    Status s = c.configure(seed);
    ASSERT_TRUE(s.ok()) << s.error().message();
    for (const auto& [n, on] : seed) EXPECT_TRUE(c.is_enabled(n)) << n;
    // Unnamed features take their defaults: statistics on (learning_engine needs it).
    EXPECT_TRUE(c.is_enabled("statistics"));
    EXPECT_FALSE(c.is_enabled("tls_fingerprinting"));
}

TEST_F(CoordinatorTest, ConfigureRejectsUnknownFeature) {
    Status s = c.configure({{"foo", true}});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "unknown feature \"foo\"");
    EXPECT_EQ(s.error().errnum(), ENOENT);
}

TEST_F(CoordinatorTest, ConfigureRejectsEnabledFeatureWithDisabledDependency) {
    HookLog hooks;
    hooks.attach(c);
    Status s = c.configure({{"inline_ips", true}, {"flow_monitoring", false}});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context,
              "feature \"inline_ips\" requires \"flow_monitoring\", which is disabled");
    EXPECT_TRUE(hooks.calls.empty());  // nothing applied
}

TEST(CoordinatorGraph, ConfigureRejectsCycle) {
    Coordinator c;
    ASSERT_TRUE(c.register_feature({"a", "", 1, {}, {"b"}}).ok());
    ASSERT_TRUE(c.register_feature({"b", "", 1, {}, {"a"}}).ok());
    Status s = c.configure({{"a", false}});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "dependency cycle: a -> b -> a");
    EXPECT_EQ(s.error().errnum(), ELOOP);
    EXPECT_FALSE(c.activation_order().ok());
}

TEST(CoordinatorGraph, LongerCycleIsNamedFromWhereItCloses) {
    Coordinator c;
    ASSERT_TRUE(c.register_feature({"root", "", 1, {}, {"x"}}).ok());
    ASSERT_TRUE(c.register_feature({"x", "", 1, {}, {"y"}}).ok());
    ASSERT_TRUE(c.register_feature({"y", "", 1, {}, {"z"}}).ok());
    ASSERT_TRUE(c.register_feature({"z", "", 1, {}, {"x"}}).ok());
    Status s = c.validate();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "dependency cycle: x -> y -> z -> x");
}

TEST(CoordinatorGraph, RegistrationErrors) {
    Coordinator c;
    ASSERT_TRUE(c.register_feature({"a", "", 1, {}, {}}).ok());
    Status dup = c.register_feature({"a", "", 1, {}, {}});
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().errnum(), EEXIST);
    Status self = c.register_feature({"s", "", 1, {}, {"s"}});
    ASSERT_FALSE(self.ok());
    EXPECT_EQ(self.error().context, "dependency cycle: s -> s");
    ASSERT_TRUE(c.register_feature({"b", "", 1, {}, {"ghost"}}).ok());
    Status v = c.validate();
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().context, "feature \"b\" depends on unknown feature \"ghost\"");
    EXPECT_FALSE(c.set_apply_hook("nope", nullptr).ok());
}

TEST_F(CoordinatorTest, ConfigureAppliesDisablesReverseThenEnablesInOrder) {
    HookLog hooks;
    all_off();
    hooks.attach(c);
    // First configure after hooks are set syncs every feature to the kernel.
    ASSERT_TRUE(c.configure({{"inline_ips", true}, {"flow_monitoring", true}}).ok());
    EXPECT_EQ(hooks.calls.size(), 14u);
    EXPECT_LT(pos(hooks.calls, "+flow_monitoring"), pos(hooks.calls, "+inline_ips"));
    // Next configure only touches changes: disables first, dependents before dependencies.
    hooks.calls.clear();
    ASSERT_TRUE(c.configure({{"inline_ips", false},
                             {"flow_monitoring", false},
                             {"socket_filters", true},
                             {"dns_monitoring", true}})
                    .ok());
    EXPECT_EQ(hooks.calls, (Names{"-inline_ips", "-flow_monitoring", "+socket_filters",
                                  "+dns_monitoring"}));
}

TEST_F(CoordinatorTest, ConfigureRollsBackOnHookFailure) {
    HookLog hooks;
    all_off();
    hooks.attach(c);
    ASSERT_TRUE(c.configure({{"flow_monitoring", true}}).ok());
    hooks.calls.clear();
    hooks.fail_on = "+qos";
    Status s = c.configure({{"flow_monitoring", true}, {"inline_ips", true}, {"qos", true},
                            {"statistics", false}});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "enable feature \"qos\": update config map");
    EXPECT_EQ(s.error().errnum(), EIO);
    // statistics (default on) went off, inline_ips on, then qos failed: undone newest first.
    EXPECT_EQ(hooks.calls,
              (Names{"-statistics", "+inline_ips", "-inline_ips", "+statistics"}));
    EXPECT_FALSE(c.is_enabled("inline_ips"));
    EXPECT_FALSE(c.is_enabled("qos"));
    EXPECT_TRUE(c.is_enabled("statistics"));
    EXPECT_TRUE(c.is_enabled("flow_monitoring"));
}

TEST_F(CoordinatorTest, EnableNamesMissingDependency) {
    all_off();
    Status s = c.enable("qos");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "feature \"qos\" requires \"flow_monitoring\", which is disabled");
    EXPECT_FALSE(c.is_enabled("qos"));
    EXPECT_EQ(c.enable("nope").error().context, "unknown feature \"nope\"");
    ASSERT_TRUE(c.enable("flow_monitoring").ok());
    ASSERT_TRUE(c.enable("qos").ok());
    EXPECT_TRUE(c.is_enabled("qos"));
}

TEST_F(CoordinatorTest, DisableRefusesWhileDependentsAreEnabled) {
    all_off();
    HookLog hooks;
    hooks.attach(c);
    ASSERT_TRUE(c.enable("flow_monitoring").ok());
    ASSERT_TRUE(c.enable("inline_ips").ok());
    ASSERT_TRUE(c.enable("qos").ok());
    hooks.calls.clear();
    auto r = c.disable("flow_monitoring");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().context,
              "\"flow_monitoring\" is required by enabled features: inline_ips, qos");
    EXPECT_EQ(r.error().errnum(), EBUSY);
    EXPECT_TRUE(hooks.calls.empty());
    EXPECT_TRUE(c.is_enabled("flow_monitoring"));
}

TEST_F(CoordinatorTest, ForcedDisableTakesDependentsFirst) {
    all_off();
    HookLog hooks;
    hooks.attach(c);
    for (const char* n : {"flow_monitoring", "statistics", "qos", "learning_engine"})
        ASSERT_TRUE(c.enable(n).ok()) << n;
    hooks.calls.clear();
    auto r = c.disable("flow_monitoring", /*force=*/true);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ(r->back(), "flow_monitoring");
    EXPECT_EQ(hooks.calls.back(), "-flow_monitoring");
    EXPECT_FALSE(c.is_enabled("qos"));
    EXPECT_FALSE(c.is_enabled("learning_engine"));
    EXPECT_TRUE(c.is_enabled("statistics"));
}

TEST_F(CoordinatorTest, ForcedDisableRollsBackOnFailure) {
    all_off();
    HookLog hooks;
    hooks.attach(c);
    for (const char* n : {"flow_monitoring", "qos", "inline_ips"}) ASSERT_TRUE(c.enable(n).ok());
    hooks.calls.clear();
    hooks.fail_on = "-flow_monitoring";
    auto r = c.disable("flow_monitoring", true);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().context, "disable feature \"flow_monitoring\": update config map");
    for (const char* n : {"flow_monitoring", "qos", "inline_ips"}) EXPECT_TRUE(c.is_enabled(n));
    ASSERT_EQ(hooks.calls.size(), 4u);  // two disabled, two re-enabled
    EXPECT_EQ(hooks.calls[2], "+" + hooks.calls[1].substr(1));
    EXPECT_EQ(hooks.calls[3], "+" + hooks.calls[0].substr(1));
}

TEST_F(CoordinatorTest, RollbackFailureIsReportedInDetail) {
    all_off();
    ASSERT_TRUE(c.enable("flow_monitoring").ok());
    ASSERT_TRUE(c.enable("qos").ok());
    int calls = 0;
    ASSERT_TRUE(c.set_apply_hook("qos", [&](bool) -> Status {
                     ++calls;
                     if (calls == 1) return {};  // the disable goes through
                     return Error::from_errno(EIO, "map gone");
                 }).ok());
    ASSERT_TRUE(c.set_apply_hook("flow_monitoring", [](bool) -> Status {
                     return Error::from_errno(EPERM, "map write");
                 }).ok());
    auto r = c.disable("flow_monitoring", true);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().detail.find("rollback of \"qos\" failed"), std::string::npos);
}

TEST_F(CoordinatorTest, QueriesReportStateCostsAndDependents) {
    all_off();
    EXPECT_EQ(c.active_cost().memory_bytes, 0u);
    EXPECT_EQ(c.active_cost().cpu_ns_per_packet, 0);
    ASSERT_TRUE(c.set_cost("flow_monitoring", {100, 1000}).ok());
    ASSERT_TRUE(c.set_cost("qos", {20, 30}).ok());
    ASSERT_TRUE(c.enable("flow_monitoring").ok());
    ASSERT_TRUE(c.enable("qos").ok());
    FeatureCost total = c.active_cost();
    EXPECT_DOUBLE_EQ(total.cpu_ns_per_packet, 120);
    EXPECT_EQ(total.memory_bytes, 1030u);
    auto fm = c.feature("flow_monitoring");
    ASSERT_TRUE(fm.has_value());
    EXPECT_EQ(fm->dependents, (Names{"inline_ips", "learning_engine", "qos"}));
    EXPECT_TRUE(fm->enabled);
    EXPECT_EQ(fm->changed_by, Actor::user);
    EXPECT_FALSE(c.feature("nope").has_value());
    auto list = c.features();
    auto order = c.activation_order();
    ASSERT_TRUE(order.ok());
    ASSERT_EQ(list.size(), order->size());
    for (std::size_t i = 0; i < list.size(); ++i) EXPECT_EQ(list[i].name, (*order)[i]);
}

TEST_F(CoordinatorTest, ActorIsRecorded) {
    all_off();
    ASSERT_TRUE(c.enable("flow_monitoring").ok());
    ASSERT_TRUE(c.enable("qos").ok());
    ASSERT_TRUE(c.disable("flow_monitoring", true, Actor::governor).ok());
    EXPECT_EQ(c.feature("qos")->changed_by, Actor::governor);
    // A user disabling an already-off feature takes it over.
    auto r = c.disable("qos");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
    EXPECT_EQ(c.feature("qos")->changed_by, Actor::user);
    EXPECT_EQ(c.feature("flow_monitoring")->changed_by, Actor::governor);
}

}  // namespace
}  // namespace flywall
