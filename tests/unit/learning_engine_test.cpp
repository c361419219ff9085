#include "core/learning_engine.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <string>

namespace flywall {
namespace {

using namespace std::chrono_literals;

class FakeClock final : public Clock {
public:
    std::chrono::steady_clock::time_point now() const override { return t; }
    void advance(std::chrono::steady_clock::duration d) { t += d; }
    std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
};

// The blocklist as a map of address -> (hits, ttl); "expire" and "delete" are done by the test.
class FakeBlocklist final : public LearningBlocklist {
public:
    Status add(const IpPrefix& p, std::chrono::seconds ttl) override {
        if (fail_add) return Error::from_errno(ENOSPC, "blocklist full");
        entries[p.to_string()] = {0, ttl};
        ++adds;
        return {};
    }
    Result<bool> remove(const IpPrefix& p) override { return entries.erase(p.to_string()) > 0; }
    Result<std::optional<Entry>> get(const IpPrefix& p) override {
        auto it = entries.find(p.to_string());
        if (it == entries.end()) return std::optional<Entry>{};
        return std::optional<Entry>{Entry{it->second.first}};
    }
    std::map<std::string, std::pair<std::uint64_t, std::chrono::seconds>> entries;
    bool fail_add = false;
    int adds = 0;
};

Event ev(const std::string& type, const std::string& src, std::uint16_t dport = 80) {
    Event e;
    e.type_name = type;
    e.src = src;
    e.dst = "198.18.1.1";
    e.dport = dport;
    e.family = 4;
    return e;
}

LearningConfig small_config() {
    LearningConfig c;
    c.rate_limit_trips = 5;
    c.rate_limit_window = 10s;
    c.scan_ports = 4;
    c.scan_window = 10s;
    c.ips_alerts = 3;
    c.ips_window = 30s;
    c.rule_ttl = 600s;
    c.reject_cooldown = 120s;
    c.idle_expiry = 60s;
    return c;
}

struct LearningEngineTest : ::testing::Test {
    FakeClock clock;
    FakeBlocklist bl;
    LearningEngine eng{clock, bl, small_config()};
    void SetUp() override { eng.set_enabled(true); }
    void send(const std::string& type, const std::string& src, int n, std::chrono::milliseconds gap = 0ms,
              std::uint16_t dport = 80) {
        for (int i = 0; i < n; ++i) {
            eng.observe(ev(type, src, dport));
            clock.advance(gap);
        }
    }
    std::size_t in_state(ProposalState s) const {
        std::size_t n = 0;
        for (const auto& p : eng.proposals()) n += p.state == s;
        return n;
    }
};

TEST_F(LearningEngineTest, RateLimitThresholdEdge) {
    send("rate_limited", "198.18.0.5", 4, 1s);
    EXPECT_TRUE(eng.proposals().empty()) << "4 trips < threshold 5";
    send("rate_limited", "198.18.0.5", 1);
    auto ps = eng.proposals();
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].source, "198.18.0.5");
    EXPECT_EQ(ps[0].kind, PatternKind::RateLimit);
    EXPECT_EQ(ps[0].state, ProposalState::Proposed);
    EXPECT_EQ(ps[0].reason, "rate_limit: 5 rate_limited events in 10 s (threshold 5)");
    EXPECT_EQ(ps[0].ttl, 600s);
    EXPECT_DOUBLE_EQ(ps[0].confidence, 0.5);
    EXPECT_TRUE(bl.entries.empty()) << "auto_apply is off: kept as a proposal";
}

TEST_F(LearningEngineTest, RateLimitSlidingWindowForgetsOldTrips) {
    // 4 trips, then 10 s later (they left the window) 1 more: 1 trip in the window, no trigger.
    send("rate_limited", "198.18.0.5", 4, 0ms);
    clock.advance(10s);
    send("rate_limited", "198.18.0.5", 1);
    EXPECT_TRUE(eng.proposals().empty());
    send("rate_limited", "198.18.0.5", 3, 1s);
    EXPECT_TRUE(eng.proposals().empty()) << "4 trips in window";
    send("rate_limited", "198.18.0.5", 1);
    EXPECT_EQ(eng.proposals().size(), 1u);
}

TEST_F(LearningEngineTest, PortScanCountsDistinctPortsOnly) {
    for (int i = 0; i < 10; ++i) eng.observe(ev("new_flow", "198.18.0.9", 22));  // same port
    for (std::uint16_t p : {23, 24}) eng.observe(ev("new_flow", "198.18.0.9", p));
    EXPECT_TRUE(eng.proposals().empty()) << "3 distinct ports < 4";
    eng.observe(ev("new_flow", "198.18.0.9", 25));
    auto ps = eng.proposals();
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].kind, PatternKind::PortScan);
    EXPECT_EQ(ps[0].evidence, 4u);
    EXPECT_EQ(ps[0].reason, "port_scan: 4 distinct destination ports in new flows in 10 s (threshold 4)");
}

TEST_F(LearningEngineTest, PortScanSlowerThanWindowIsNotAScan) {
    for (std::uint16_t p = 1; p <= 20; ++p) {
        eng.observe(ev("new_flow", "198.18.0.9", p));
        clock.advance(4s);  // at most 3 distinct ports inside any 10 s window
    }
    EXPECT_TRUE(eng.proposals().empty());
}

TEST_F(LearningEngineTest, IpsAlertsAndDropsCount) {
    send("ips_alert", "2001:db8::7", 2);
    EXPECT_TRUE(eng.proposals().empty());
    send("ips_drop", "2001:db8::7", 1);
    auto ps = eng.proposals();
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].kind, PatternKind::IpsAlerts);
    EXPECT_EQ(ps[0].source, "2001:db8::7");
    EXPECT_EQ(ps[0].prefix.family, 6);
}

TEST_F(LearningEngineTest, OtherEventsAreCollectedButProposeNothing) {
    send("ip_blocked", "198.18.0.3", 50);
    send("domain_blocked", "198.18.0.3", 50);
    send("rate_limited", "", 50);            // no source
    send("rate_limited", "not-an-ip", 50);   // unparseable
    EXPECT_TRUE(eng.proposals().empty());
    auto c = eng.counters();
    EXPECT_EQ(c.observed, 200u);
    EXPECT_EQ(c.ignored, 100u);
    EXPECT_EQ(c.by_type["ip_blocked"], 50u);
    EXPECT_EQ(eng.sources_tracked(), 1u);
}

TEST_F(LearningEngineTest, NoDuplicateProposalsForOneSource) {
    send("rate_limited", "198.18.0.5", 50);
    send("ips_alert", "198.18.0.5", 10);
    for (std::uint16_t p = 1; p <= 10; ++p) eng.observe(ev("new_flow", "198.18.0.5", p));
    auto ps = eng.proposals();
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].evidence, 50u) << "evidence of the first pattern keeps growing";
    EXPECT_EQ(ps[0].kinds.size(), 3u);
    EXPECT_DOUBLE_EQ(ps[0].confidence, 1.0);
    // One detection per source and pattern per window.
    EXPECT_EQ(eng.patterns().size(), 3u);
    // A second window detects again, still the same proposal.
    clock.advance(11s);
    send("rate_limited", "198.18.0.5", 5);
    EXPECT_EQ(eng.patterns().size(), 4u);
    EXPECT_EQ(eng.proposals().size(), 1u);
    // Another source gets its own.
    send("rate_limited", "198.18.0.6", 5);
    EXPECT_EQ(eng.proposals().size(), 2u);
}

TEST_F(LearningEngineTest, ManualApplyWritesBlocklistWithTtl) {
    send("rate_limited", "198.18.0.5", 5);
    auto id = eng.proposals().at(0).id;
    auto r = eng.apply(id);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->state, ProposalState::Applied);
    EXPECT_FALSE(r->auto_applied);
    ASSERT_EQ(bl.entries.count("198.18.0.5"), 1u);
    EXPECT_EQ(bl.entries["198.18.0.5"].second, 600s);
    auto again = eng.apply(id);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().errnum(), EBUSY);
    EXPECT_EQ(eng.apply(999).error().errnum(), ENOENT);
}

TEST_F(LearningEngineTest, AutoApplyAndApplyFailureStaysProposed) {
    auto c = small_config();
    c.auto_apply = true;
    ASSERT_TRUE(eng.configure(c).ok());
    send("rate_limited", "198.18.0.5", 5);
    EXPECT_EQ(in_state(ProposalState::Applied), 1u);
    EXPECT_TRUE(eng.proposals()[0].auto_applied);
    EXPECT_EQ(bl.entries.count("198.18.0.5"), 1u);

    bl.fail_add = true;
    send("rate_limited", "198.18.0.6", 5);
    EXPECT_EQ(in_state(ProposalState::Proposed), 1u);
    EXPECT_EQ(eng.counters().apply_errors, 1u);
}

TEST_F(LearningEngineTest, DisabledEngineIgnoresEventsAndRefusesApply) {
    send("rate_limited", "198.18.0.5", 5);
    eng.set_enabled(false);
    send("rate_limited", "198.18.0.6", 50);
    EXPECT_EQ(eng.proposals().size(), 1u);
    auto r = eng.apply(eng.proposals()[0].id);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errnum(), EAGAIN);
}

TEST_F(LearningEngineTest, TtlExpiryIsNotFeedback) {
    send("rate_limited", "198.18.0.5", 5);
    ASSERT_TRUE(eng.apply(eng.proposals()[0].id).ok());
    // Hits keep it alive past the idle limit; the TTL still ends it.
    for (int i = 0; i < 10; ++i) {
        bl.entries["198.18.0.5"].first += 3;
        clock.advance(59s);
        ASSERT_TRUE(eng.tick().ok());
    }
    ASSERT_EQ(in_state(ProposalState::Applied), 1u) << "590 s < TTL 600 s";
    EXPECT_EQ(eng.proposals()[0].hits, 30u);
    EXPECT_GT(eng.proposals()[0].confidence, 0.5) << "hits raise confidence";
    clock.advance(10s);
    bl.entries["198.18.0.5"].first += 1;
    ASSERT_TRUE(eng.tick().ok());
    EXPECT_EQ(in_state(ProposalState::Expired), 1u);
    EXPECT_TRUE(bl.entries.empty()) << "removed at its TTL";
    EXPECT_TRUE(eng.cooldowns().empty()) << "expiry is no operator feedback";
    send("rate_limited", "198.18.0.5", 5);
    EXPECT_EQ(in_state(ProposalState::Proposed), 1u) << "re-proposed after expiry";
}

TEST_F(LearningEngineTest, RuleWithoutHitsExpiresQuietly) {
    send("rate_limited", "198.18.0.5", 5);
    ASSERT_TRUE(eng.apply(eng.proposals()[0].id).ok());
    clock.advance(59s);
    ASSERT_TRUE(eng.tick().ok());
    EXPECT_EQ(in_state(ProposalState::Applied), 1u);
    clock.advance(1s);
    ASSERT_TRUE(eng.tick().ok());
    EXPECT_EQ(in_state(ProposalState::ExpiredIdle), 1u);
    EXPECT_TRUE(bl.entries.empty());
    EXPECT_TRUE(eng.cooldowns().empty());
}

TEST_F(LearningEngineTest, RejectCooldownBlocksReproposalUntilItEnds) {
    send("rate_limited", "198.18.0.5", 5);
    auto id = eng.proposals()[0].id;
    auto r = eng.reject(id);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->state, ProposalState::Rejected);
    ASSERT_EQ(eng.cooldowns().size(), 1u);
    EXPECT_EQ(eng.cooldowns()[0].second, 120s);

    clock.advance(11s);
    send("rate_limited", "198.18.0.5", 5);
    EXPECT_EQ(in_state(ProposalState::Proposed), 0u) << "cooling down";
    EXPECT_EQ(eng.counters().suppressed_cooldown, 1u);

    clock.advance(109s);  // 120 s after the reject
    ASSERT_TRUE(eng.tick().ok());
    send("rate_limited", "198.18.0.5", 5);
    EXPECT_EQ(in_state(ProposalState::Proposed), 1u);
    EXPECT_EQ(eng.reject(id).error().errnum(), EBUSY) << "already rejected";
}

TEST_F(LearningEngineTest, RejectingAnAppliedRuleRemovesIt) {
    send("rate_limited", "198.18.0.5", 5);
    auto id = eng.proposals()[0].id;
    ASSERT_TRUE(eng.apply(id).ok());
    ASSERT_TRUE(eng.reject(id).ok());
    EXPECT_TRUE(bl.entries.empty());
    EXPECT_EQ(eng.cooldowns().size(), 1u);
}

TEST_F(LearningEngineTest, OperatorDeletionIsFeedback) {
    auto c = small_config();
    c.auto_apply = true;
    ASSERT_TRUE(eng.configure(c).ok());
    send("rate_limited", "198.18.0.5", 5);
    ASSERT_EQ(bl.entries.size(), 1u);
    bl.entries.clear();  // DELETE /api/ebpf/blocklist/ips
    clock.advance(5s);
    ASSERT_TRUE(eng.tick().ok());
    EXPECT_EQ(in_state(ProposalState::Deleted), 1u);
    ASSERT_EQ(eng.cooldowns().size(), 1u);
    clock.advance(11s);
    send("rate_limited", "198.18.0.5", 5);
    EXPECT_TRUE(bl.entries.empty()) << "not re-applied during the cooldown";
    EXPECT_EQ(in_state(ProposalState::Applied), 0u);
}

TEST_F(LearningEngineTest, SourcesAreBoundedAndPruned) {
    auto c = small_config();
    c.max_sources = 3;
    ASSERT_TRUE(eng.configure(c).ok());
    for (int i = 1; i <= 5; ++i) {
        send("rate_limited", "198.18.0." + std::to_string(i), 1);
        clock.advance(1s);
    }
    EXPECT_EQ(eng.sources_tracked(), 3u);
    EXPECT_EQ(eng.counters().evicted_sources, 2u);
    clock.advance(31s);  // beyond the longest window
    ASSERT_TRUE(eng.tick().ok());
    EXPECT_EQ(eng.sources_tracked(), 0u);
}

TEST_F(LearningEngineTest, ConfigValidation) {
    auto c = small_config();
    c.scan_ports = 0;
    auto st = eng.configure(c);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("scan_ports"), std::string::npos);
    EXPECT_EQ(eng.config().scan_ports, 4u) << "unchanged";
}

TEST_F(LearningEngineTest, JsonShape) {
    send("rate_limited", "198.18.0.5", 5);
    send("rate_limited", "198.18.0.6", 5);
    ASSERT_TRUE(eng.apply(eng.proposals()[1].id).ok());
    auto j = eng.to_json();
    EXPECT_TRUE(j["enabled"].get<bool>());
    ASSERT_EQ(j["proposals"].size(), 1u);
    ASSERT_EQ(j["rules"].size(), 1u);
    EXPECT_EQ(j["rules"][0]["source"], "198.18.0.6");
    EXPECT_EQ(j["rules"][0]["ttl_remaining_sec"], 600);
    EXPECT_EQ(j["proposals"][0]["reason"], "rate_limit: 5 rate_limited events in 10 s (threshold 5)");
    EXPECT_EQ(j["patterns"].size(), 2u);
    EXPECT_EQ(j["counters"]["by_type"]["rate_limited"], 10);
}

}  // namespace
}  // namespace flywall
