#include "core/governor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace flywall {
namespace {

using namespace std::chrono_literals;
using Names = std::vector<std::string>;

class FakeClock final : public Clock {
public:
    std::chrono::steady_clock::time_point now() const override { return t; }
    std::chrono::steady_clock::time_point t{};
};

class FakeLoad final : public LoadSource {
public:
    Result<LoadSample> sample() override {
        ++samples;
        if (fail) return Error::from_errno(EIO, "read prog stats");
        return current;
    }
    void cpu(double percent) { current = LoadSample{percent, 0, 0, 0}; }
    LoadSample current;
    bool fail = false;
    int samples = 0;
};

// cpu limit 50%: cpu(45) = 90%, cpu(35) = 70% (dead band), cpu(25) = 50% (low).
GovernorConfig test_config() {
    GovernorConfig g;
    g.max_cpu_percent = 50;
    g.max_memory_mb = 500;
    g.max_events_per_sec = 10000;
    g.max_pps = 10'000'000;
    g.scale_back_threshold = 80;
    g.scale_back_rate = 0.5;
    g.min_sampling_rate = 0.125;  // three cuts from 1 reach the floor
    g.hysteresis_gap = 20;
    g.restore_after_ticks = 3;
    g.minimum_features = {"ddos_protection", "flow_monitoring"};
    return g;
}

class GovernorTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(coord.register_builtin_features().ok());
        std::map<std::string, bool> all;
        for (const auto& f : coord.features()) all[f.name] = true;
        ASSERT_TRUE(coord.configure(all).ok());
        gov.set_sampling_applier([this](double r) -> Status {
            if (fail_applier) return Error::from_errno(EIO, "write sampling map");
            applied.push_back(r);
            return {};
        });
        Status s = gov.configure(test_config());
        ASSERT_TRUE(s.ok()) << s.error().message();
    }
    void tick(int n = 1) {
        for (int i = 0; i < n; ++i) {
            clock.t += 1s;
            Status s = gov.tick();
            ASSERT_TRUE(s.ok()) << s.error().message();
        }
    }
    Names enabled() const {
        Names out;
        for (const auto& f : coord.features())
            if (f.enabled) out.push_back(f.name);
        std::sort(out.begin(), out.end());
        return out;
    }
    std::vector<GovernorActionKind> kinds() const {
        std::vector<GovernorActionKind> out;
        for (const auto& a : gov.actions()) out.push_back(a.kind);
        return out;
    }
    Names disabled_by_governor_log() const {
        Names out;
        for (const auto& a : gov.actions())
            if (a.kind == GovernorActionKind::disable_feature) out.push_back(a.feature);
        return out;
    }

    Coordinator coord;
    FakeClock clock;
    FakeLoad load;
    Governor gov{coord, clock, load};
    std::vector<double> applied;
    bool fail_applier = false;
};

TEST_F(GovernorTest, ReducesSamplingStepByStepThenShedsFeatures) {
    load.cpu(45);
    tick();
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.5);
    EXPECT_DOUBLE_EQ(gov.last_utilisation(), 90);
    tick();
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.25);
    tick();
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.125);
    EXPECT_EQ(applied, (std::vector<double>{0.5, 0.25, 0.125}));
    EXPECT_EQ(enabled().size(), 14u);  // no feature touched while sampling could still drop

    tick();  // at the floor: the lowest priority feature goes
    EXPECT_FALSE(coord.is_enabled("learning_engine"));
    EXPECT_EQ(coord.feature("learning_engine")->changed_by, Actor::governor);
    EXPECT_EQ(enabled().size(), 13u);
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.125);
    EXPECT_EQ(applied.size(), 3u);

    auto log = gov.actions();
    ASSERT_EQ(log.size(), 4u);
    EXPECT_EQ(log[0].kind, GovernorActionKind::reduce_sampling);
    EXPECT_EQ(log[0].reason,
              "utilisation 90.0% (cpu 45.0% of 50%) >= threshold 80%: sampling 1 -> 0.5");
    EXPECT_EQ(log[0].time, std::chrono::steady_clock::time_point{} + 1s);
    EXPECT_EQ(log[3].kind, GovernorActionKind::disable_feature);
    EXPECT_EQ(log[3].feature, "learning_engine");
    EXPECT_NE(log[3].reason.find("disable lowest priority learning_engine (priority 20)"),
              std::string::npos);
    EXPECT_EQ(log[3].time, std::chrono::steady_clock::time_point{} + 4s);
}

TEST_F(GovernorTest, MinimumFeaturesAndTheirDependenciesAreNeverShed) {
    load.cpu(45);
    tick(3 + 20);
    EXPECT_EQ(enabled(),
              (Names{"ddos_protection", "flow_monitoring", "ip_blocklist", "rate_limiting"}));
    EXPECT_EQ(disabled_by_governor_log(),
              (Names{"learning_engine", "tls_fingerprinting", "dhcp_monitoring", "dns_monitoring",
                     "socket_filters", "qos", "inline_ips", "events", "statistics",
                     "dns_blocklist"}));
    // Exhaustion is reported once, not every tick.
    auto k = kinds();
    EXPECT_EQ(std::count(k.begin(), k.end(), GovernorActionKind::exhausted), 1);
    EXPECT_EQ(k.back(), GovernorActionKind::exhausted);
}

TEST_F(GovernorTest, DeadBandHoldsAndRestoreNeedsSustainedLowLoad) {
    load.cpu(45);
    tick(4);  // floor + learning_engine shed
    ASSERT_FALSE(coord.is_enabled("learning_engine"));
    const auto n_actions = gov.actions().size();

    load.cpu(35);  // 70%: between 60 and 80, hold
    tick(10);
    EXPECT_EQ(gov.actions().size(), n_actions);
    EXPECT_FALSE(coord.is_enabled("learning_engine"));

    // Low, low, dead band, low, low: the streak was broken, nothing restored.
    for (double cpu : {25.0, 25.0, 35.0, 25.0, 25.0}) {
        load.cpu(cpu);
        tick();
    }
    EXPECT_EQ(gov.actions().size(), n_actions);
    load.cpu(25);
    tick();  // third low tick in a row
    EXPECT_TRUE(coord.is_enabled("learning_engine"));
    EXPECT_EQ(gov.actions().back().kind, GovernorActionKind::enable_feature);

    // Exactly at the threshold counts as over it.
    load.cpu(40);
    tick();
    EXPECT_FALSE(coord.is_enabled("learning_engine"));
}

TEST_F(GovernorTest, RestoresInReverseOrder) {
    load.cpu(45);
    tick(3 + 3);  // floor, then learning_engine, tls_fingerprinting, dhcp_monitoring
    ASSERT_EQ(gov.shed_features(), (Names{"learning_engine", "tls_fingerprinting",
                                          "dhcp_monitoring"}));
    const auto shed_log = gov.actions().size();

    load.cpu(5);
    tick(3 * 3 + 3 * 3);  // three features, then three sampling steps, each after 3 low ticks
    auto log = gov.actions();
    ASSERT_EQ(log.size(), shed_log + 6);
    Names restored;
    std::vector<double> rates;
    for (std::size_t i = shed_log; i < log.size(); ++i) {
        if (log[i].kind == GovernorActionKind::enable_feature) restored.push_back(log[i].feature);
        if (log[i].kind == GovernorActionKind::raise_sampling) rates.push_back(log[i].sampling_rate);
    }
    EXPECT_EQ(restored, (Names{"dhcp_monitoring", "tls_fingerprinting", "learning_engine"}));
    EXPECT_EQ(rates, (std::vector<double>{0.25, 0.5, 1.0}));
    // Features come back before sampling rises.
    EXPECT_EQ(log[shed_log + 2].kind, GovernorActionKind::enable_feature);
    EXPECT_EQ(log[shed_log + 3].kind, GovernorActionKind::raise_sampling);
    EXPECT_EQ(enabled().size(), 14u);
    EXPECT_TRUE(gov.shed_features().empty());
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 1.0);

    tick(30);  // fully restored: nothing more to do
    EXPECT_EQ(gov.actions().size(), log.size());
}

TEST_F(GovernorTest, UserDisabledFeaturesStayOff) {
    // Off by the user before the load came.
    ASSERT_TRUE(coord.disable("tls_fingerprinting").ok());
    load.cpu(45);
    tick(3 + 2);  // learning_engine, dhcp_monitoring
    ASSERT_EQ(gov.shed_features(), (Names{"learning_engine", "dhcp_monitoring"}));
    // The user turns off what the governor had shed: the user's word sticks.
    ASSERT_TRUE(coord.disable("dhcp_monitoring").ok());

    load.cpu(5);
    tick(60);
    EXPECT_TRUE(coord.is_enabled("learning_engine"));
    EXPECT_FALSE(coord.is_enabled("dhcp_monitoring"));
    EXPECT_FALSE(coord.is_enabled("tls_fingerprinting"));
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 1.0);
    for (const auto& a : gov.actions()) {
        if (a.kind == GovernorActionKind::enable_feature) {
            EXPECT_NE(a.feature, "dhcp_monitoring");
        }
    }
}

TEST_F(GovernorTest, UserReenabledFeatureIsForgotten) {
    load.cpu(45);
    tick(4);
    ASSERT_EQ(gov.shed_features(), (Names{"learning_engine"}));
    ASSERT_TRUE(coord.enable("learning_engine").ok());
    load.cpu(5);
    tick(3);  // nothing to re-enable: the first restore step raises sampling
    EXPECT_EQ(gov.actions().back().kind, GovernorActionKind::raise_sampling);
    EXPECT_TRUE(gov.shed_features().empty());
}

TEST_F(GovernorTest, ThresholdsComeFromConfig) {
    auto cfg = test_config();
    cfg.scale_back_threshold = 60;
    cfg.hysteresis_gap = 10;
    ASSERT_TRUE(gov.configure(cfg).ok());
    load.cpu(31);  // 62%
    tick();
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.5);

    cfg.scale_back_threshold = 70;
    ASSERT_TRUE(gov.configure(cfg).ok());
    tick(5);  // 62% < 70%, but not below 60%: hold
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.5);
    load.cpu(29);  // 58% < 60%
    tick(3);
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 1.0);
}

TEST_F(GovernorTest, UtilisationIsTheWorstMetric) {
    load.current = LoadSample{5, 450, 100, 1000};  // memory 90% dominates
    tick();
    EXPECT_DOUBLE_EQ(gov.last_utilisation(), 90);
    EXPECT_NE(gov.actions().back().reason.find("memory 450.0 MB of 500 MB"), std::string::npos);
    load.current = LoadSample{5, 10, 9500, 1000};
    tick();
    EXPECT_DOUBLE_EQ(gov.last_utilisation(), 95);
    EXPECT_NE(gov.actions().back().reason.find("events 9500/s of 10000/s"), std::string::npos);
    load.current = LoadSample{5, 10, 10, 9'900'000};
    tick();
    EXPECT_DOUBLE_EQ(gov.last_utilisation(), 99);
    EXPECT_NE(gov.actions().back().reason.find("pps 9900000 of 10000000"), std::string::npos);

    // A zero limit leaves the metric out.
    auto cfg = test_config();
    cfg.max_pps = 0;
    ASSERT_TRUE(gov.configure(cfg).ok());
    load.current = LoadSample{5, 10, 10, 1e12};
    tick();
    EXPECT_DOUBLE_EQ(gov.last_utilisation(), 10);
}

TEST_F(GovernorTest, DisabledGovernorDoesNothing) {
    auto cfg = test_config();
    cfg.enabled = false;
    ASSERT_TRUE(gov.configure(cfg).ok());
    load.cpu(100);
    tick(50);
    EXPECT_EQ(load.samples, 0);
    EXPECT_TRUE(gov.actions().empty());
    EXPECT_TRUE(applied.empty());
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 1.0);
    EXPECT_EQ(enabled().size(), 14u);
}

TEST_F(GovernorTest, ConfigIsValidated) {
    auto bad = test_config();
    bad.scale_back_rate = 0;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.scale_back_rate = 1;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.scale_back_threshold = 0;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.hysteresis_gap = 80;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.restore_after_ticks = 0;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.max_cpu_percent = -1;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.max_cpu_percent = bad.max_memory_mb = bad.max_events_per_sec = bad.max_pps = 0;
    EXPECT_FALSE(gov.configure(bad).ok());
    bad = test_config();
    bad.minimum_features = {"ddos_protection", "foo"};
    Status s = gov.configure(bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "governor config: minimum_features: unknown feature \"foo\"");
    // A rejected config leaves the old one in force.
    EXPECT_DOUBLE_EQ(gov.config().scale_back_rate, 0.5);
}

TEST_F(GovernorTest, LoadErrorChangesNothing) {
    load.cpu(45);
    load.fail = true;
    clock.t += 1s;
    Status s = gov.tick();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "governor: sample load: read prog stats");
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 1.0);
    EXPECT_TRUE(gov.actions().empty());
}

TEST_F(GovernorTest, ApplierErrorKeepsRate) {
    load.cpu(45);
    fail_applier = true;
    clock.t += 1s;
    Status s = gov.tick();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().context, "governor: apply sampling rate 0.5: write sampling map");
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 1.0);
    EXPECT_TRUE(gov.actions().empty());
    fail_applier = false;
    tick();
    EXPECT_DOUBLE_EQ(gov.sampling_rate(), 0.5);
}

TEST(GovernorGraph, ShedsDependentsWithLowPriorityDependencyAndRestoresDependencyFirst) {
    Coordinator coord;
    ASSERT_TRUE(coord.register_feature({"core", "", 100, {}, {}, true}).ok());
    ASSERT_TRUE(coord.register_feature({"base", "", 1, {}, {}, true}).ok());
    ASSERT_TRUE(coord.register_feature({"top", "", 50, {}, {"base"}, true}).ok());
    ASSERT_TRUE(coord.configure({}).ok());
    FakeClock clock;
    FakeLoad load;
    Governor gov(coord, clock, load);
    GovernorConfig cfg = test_config();
    cfg.minimum_features = {"core"};
    ASSERT_TRUE(gov.configure(cfg).ok());

    load.cpu(45);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(gov.tick().ok());
    EXPECT_FALSE(coord.is_enabled("base"));
    EXPECT_FALSE(coord.is_enabled("top"));
    EXPECT_TRUE(coord.is_enabled("core"));
    EXPECT_EQ(gov.shed_features(), (Names{"top", "base"}));  // dependents first

    load.cpu(5);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(gov.tick().ok());
    EXPECT_TRUE(coord.is_enabled("base"));  // top has the higher priority but needs base
    EXPECT_FALSE(coord.is_enabled("top"));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(gov.tick().ok());
    EXPECT_TRUE(coord.is_enabled("top"));
}

TEST_F(GovernorTest, ConcurrentTicksAndQueries) {
    load.cpu(45);
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop) {
            (void)coord.features();
            (void)gov.actions();
            (void)gov.sampling_rate();
            (void)coord.active_cost();
        }
    });
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(gov.tick().ok());
    stop = true;
    reader.join();
    EXPECT_EQ(enabled().size(), 4u);
}

}  // namespace
}  // namespace flywall
