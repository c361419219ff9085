// Learning engine: turns the event stream into proposed blocklist rules.
//
//   events (EventProcessor subscription, bounded queue) ─► per-source sliding windows
//     ─► detectors: rate-limit trips, port scan (distinct destination ports of new flows),
//                   IPS alerts
//     ─► proposal (source IP, TTL, reason with the numbers)
//     ─► applied to the blocklist with that TTL (auto-apply) or kept for the operator
//   feedback: a rejected proposal, or an applied rule the operator deleted, is not proposed
//   again for `reject_cooldown`; the blocklist's hit counters of applied rules feed their
//   confidence, and an applied rule with no hits for `idle_expiry` is removed quietly.
//
// The engine itself is deterministic: time comes from an injected Clock (windows are measured
// at observe() time, not from the kernel's ts_ns) and the blocklist is an interface, so tests
// drive it with synthetic events and a fake clock. LearningRunner is the thread that feeds it
// from an EventProcessor subscription.
//
// Memory is bounded: at most `max_sources` tracked sources (the least recently seen is
// evicted), per-source windows hold at most `max_window_events` entries, and at most
// `max_history` finished proposals and `max_patterns` detections are remembered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "core/event_processor.hpp"
#include "core/governor.hpp"  // Clock
#include "runtime/iplists.hpp"

namespace flywall {

// IpListEntry.source_id of entries the learning engine wrote.
inline constexpr std::uint32_t kLearningSourceId = 0x4c524e31;  // "LRN1"

struct LearningConfig {
    bool auto_apply = false;
    std::chrono::seconds rule_ttl{3600};
    // (a) a source tripping the rate limiter >= rate_limit_trips times within rate_limit_window
    std::uint32_t rate_limit_trips = 20;
    std::chrono::seconds rate_limit_window{60};
    // (b) new flows from a source to >= scan_ports distinct destination ports within scan_window
    std::uint32_t scan_ports = 20;
    std::chrono::seconds scan_window{60};
    // (c) >= ips_alerts ips_alert/ips_drop events from a source within ips_window
    std::uint32_t ips_alerts = 5;
    std::chrono::seconds ips_window{300};
    // feedback
    std::chrono::seconds reject_cooldown{3600};
    std::chrono::seconds idle_expiry{900};  // applied rule without hits for this long: removed
    // bounds
    std::size_t max_sources = 4096;
    std::size_t max_window_events = 4096;
    std::size_t max_history = 256;
    std::size_t max_patterns = 256;
};
// Errors name the field: zero thresholds/windows/TTL, zero bounds.
Status validate(const LearningConfig& c);

enum class PatternKind { RateLimit, PortScan, IpsAlerts };
const char* to_string(PatternKind k);  // "rate_limit", "port_scan", "ips_alerts"

enum class ProposalState { Proposed, Applied, Rejected, Expired, ExpiredIdle, Deleted };
// "proposed", "applied", "rejected", "expired" (TTL ran out), "expired_idle" (no hits),
// "deleted" (the operator removed the applied rule from the blocklist)
const char* to_string(ProposalState s);

struct Detection {
    PatternKind kind = PatternKind::RateLimit;
    std::string source;
    std::uint64_t count = 0;      // trips / distinct ports / alerts in the window
    std::uint32_t threshold = 0;
    std::chrono::seconds window{0};
    std::chrono::steady_clock::time_point at{};
};

struct Proposal {
    std::uint64_t id = 0;
    IpPrefix prefix;  // a host address
    std::string source;
    PatternKind kind = PatternKind::RateLimit;  // the first pattern that proposed it
    std::vector<PatternKind> kinds;             // every pattern seen for it
    std::string reason;  // "rate_limit: 25 rate_limited events in 60 s (threshold 20)"
    std::chrono::seconds ttl{0};
    ProposalState state = ProposalState::Proposed;
    bool auto_applied = false;
    std::chrono::steady_clock::time_point created{};
    std::chrono::steady_clock::time_point changed{};  // last state change
    std::chrono::steady_clock::time_point expires{};  // applied: when the blocklist entry expires
    std::chrono::steady_clock::time_point last_hit{};  // applied: last time the hit count grew
    std::uint64_t hits = 0;                            // blocklist hits of the applied rule
    std::uint64_t evidence = 0;                        // the detection's count
    std::uint32_t threshold = 0;
    double confidence = 0;  // 0..1: evidence over threshold, raised by hits
};

// Where applied rules go. The manager's implementation writes IpLists (block list, src).
class LearningBlocklist {
public:
    virtual ~LearningBlocklist() = default;
    struct Entry {
        std::uint64_t hits = 0;
    };
    virtual Status add(const IpPrefix& prefix, std::chrono::seconds ttl) = 0;
    virtual Result<bool> remove(const IpPrefix& prefix) = 0;
    // nullopt: no such entry (expired, reaped or deleted by the operator).
    virtual Result<std::optional<Entry>> get(const IpPrefix& prefix) = 0;
};

struct LearningCounters {
    std::uint64_t observed = 0;  // events handed to observe()
    std::map<std::string, std::uint64_t> by_type;
    std::uint64_t ignored = 0;  // no usable source address or a type not collected
    std::uint64_t detections = 0;
    std::uint64_t proposals = 0;
    std::uint64_t applied = 0;
    std::uint64_t apply_errors = 0;
    std::uint64_t suppressed_cooldown = 0;  // detections not proposed: the source is cooling down
    std::uint64_t evicted_sources = 0;
};

class LearningEngine {
public:
    LearningEngine(const Clock& clock, LearningBlocklist& blocklist, LearningConfig cfg = {});

    Status configure(const LearningConfig& cfg);
    [[nodiscard]] LearningConfig config() const;
    // While disabled observe() ignores events and tick() does nothing; proposals stay.
    void set_enabled(bool enabled);
    [[nodiscard]] bool enabled() const;

    void observe(const Event& e);
    // Feedback from the blocklist: hit counts, TTL expiry, operator deletion, idle expiry.
    // Also prunes windows and cooldowns.
    Status tick();

    // Operator decisions. apply: a proposed entry (ENOENT unknown id, EBUSY not "proposed").
    // reject: a proposed or applied one (an applied rule is removed from the blocklist); either
    // way the source cools down for reject_cooldown.
    Result<Proposal> apply(std::uint64_t id);
    Result<Proposal> reject(std::uint64_t id);

    [[nodiscard]] std::vector<Proposal> proposals() const;  // every state, by id
    [[nodiscard]] std::vector<Detection> patterns() const;  // most recent last
    [[nodiscard]] LearningCounters counters() const;
    [[nodiscard]] std::size_t sources_tracked() const;
    // Sources in their cooldown, with the time left.
    [[nodiscard]] std::vector<std::pair<std::string, std::chrono::seconds>> cooldowns() const;

    // The GET /api/ebpf/learning shape (docs/API.md).
    [[nodiscard]] nlohmann::json to_json() const;

private:
    using TimePoint = std::chrono::steady_clock::time_point;
    struct Window {
        std::deque<TimePoint> times;
        void prune(TimePoint cutoff);
    };
    struct SourceState {
        IpPrefix prefix;
        TimePoint last_seen{};
        Window rate_limited, ips;
        std::deque<std::pair<TimePoint, std::uint16_t>> flows;  // new_flow: (time, dport)
        std::map<std::uint16_t, std::uint32_t> ports;          // dport -> flows in the window
        std::uint64_t ip_blocked = 0, domain_blocked = 0;      // totals (shown, not detected on)
        std::map<PatternKind, TimePoint> last_detection;       // one detection per window
    };

    void prune_source(SourceState& s, TimePoint now);
    void evict_if_needed();
    void detect(SourceState& s, PatternKind kind, std::uint64_t count, TimePoint now);
    Proposal* open_for(const std::string& source);
    Status apply_locked(Proposal& p, bool automatic, TimePoint now);
    void retire(Proposal& p, ProposalState st, TimePoint now);
    void trim_history();
    static double confidence(std::uint64_t evidence, std::uint32_t threshold, std::uint64_t hits);

    const Clock& clock_;
    LearningBlocklist& blocklist_;
    mutable std::mutex mu_;
    LearningConfig cfg_;
    std::atomic<bool> enabled_{false};  // atomic: the manager's feature hook sets it without mu_
    std::map<std::string, SourceState> sources_;
    std::map<std::uint64_t, Proposal> proposals_;
    std::map<std::string, TimePoint> cooldown_until_;
    std::deque<Detection> patterns_;
    LearningCounters counters_;
    std::uint64_t next_id_ = 1;
};

// Feeds a LearningEngine from an EventProcessor subscription on its own thread, and unsubscribes
// on stop().
class LearningRunner {
public:
    static std::unique_ptr<LearningRunner> start(EventProcessor& processor, LearningEngine& engine,
                                                 std::size_t capacity = 8192);
    ~LearningRunner();
    LearningRunner(const LearningRunner&) = delete;
    LearningRunner& operator=(const LearningRunner&) = delete;
    void stop();

private:
    LearningRunner() = default;
    EventProcessor* processor_ = nullptr;
    LearningEngine* engine_ = nullptr;
    std::shared_ptr<Subscription> sub_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

}  // namespace flywall
