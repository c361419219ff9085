#include "core/learning_engine.hpp"

#include <algorithm>
#include <cmath>

namespace flywall {

namespace {

using nlohmann::json;

std::int64_t secs(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// An applied rule whose entry is gone this long before its TTL ends was deleted, not expired.
constexpr auto kExpirySlack = std::chrono::seconds(2);

}  // namespace

Status validate(const LearningConfig& c) {
    if (c.rule_ttl.count() <= 0) return Error::invalid("learning: rule_ttl must be > 0");
    if (c.rate_limit_trips == 0) return Error::invalid("learning: rate_limit_trips must be > 0");
    if (c.rate_limit_window.count() <= 0) return Error::invalid("learning: rate_limit_window must be > 0");
    if (c.scan_ports == 0) return Error::invalid("learning: scan_ports must be > 0");
    if (c.scan_window.count() <= 0) return Error::invalid("learning: scan_window must be > 0");
    if (c.ips_alerts == 0) return Error::invalid("learning: ips_alerts must be > 0");
    if (c.ips_window.count() <= 0) return Error::invalid("learning: ips_window must be > 0");
    if (c.reject_cooldown.count() < 0) return Error::invalid("learning: reject_cooldown must be >= 0");
    if (c.idle_expiry.count() <= 0) return Error::invalid("learning: idle_expiry must be > 0");
    if (c.max_sources == 0 || c.max_window_events == 0 || c.max_history == 0 || c.max_patterns == 0)
        return Error::invalid("learning: bounds must be > 0");
    return {};
}

const char* to_string(PatternKind k) {
    switch (k) {
        case PatternKind::RateLimit: return "rate_limit";
        case PatternKind::PortScan: return "port_scan";
        case PatternKind::IpsAlerts: return "ips_alerts";
    }
    return "unknown";
}

const char* to_string(ProposalState s) {
    switch (s) {
        case ProposalState::Proposed: return "proposed";
        case ProposalState::Applied: return "applied";
        case ProposalState::Rejected: return "rejected";
        case ProposalState::Expired: return "expired";
        case ProposalState::ExpiredIdle: return "expired_idle";
        case ProposalState::Deleted: return "deleted";
    }
    return "unknown";
}

LearningEngine::LearningEngine(const Clock& clock, LearningBlocklist& blocklist, LearningConfig cfg)
    : clock_(clock), blocklist_(blocklist), cfg_(std::move(cfg)) {}

Status LearningEngine::configure(const LearningConfig& cfg) {
    FW_TRY(validate(cfg));
    std::lock_guard lk(mu_);
    cfg_ = cfg;
    return {};
}

LearningConfig LearningEngine::config() const {
    std::lock_guard lk(mu_);
    return cfg_;
}

void LearningEngine::set_enabled(bool enabled) { enabled_.store(enabled); }

bool LearningEngine::enabled() const { return enabled_.load(); }

void LearningEngine::Window::prune(TimePoint cutoff) {
    while (!times.empty() && times.front() <= cutoff) times.pop_front();
}

void LearningEngine::prune_source(SourceState& s, TimePoint now) {
    s.rate_limited.prune(now - cfg_.rate_limit_window);
    s.ips.prune(now - cfg_.ips_window);
    const TimePoint cutoff = now - cfg_.scan_window;
    while (!s.flows.empty() && s.flows.front().first <= cutoff) {
        auto it = s.ports.find(s.flows.front().second);
        if (it != s.ports.end() && --it->second == 0) s.ports.erase(it);
        s.flows.pop_front();
    }
}

void LearningEngine::evict_if_needed() {
    while (sources_.size() > cfg_.max_sources) {
        auto oldest = sources_.begin();
        for (auto it = sources_.begin(); it != sources_.end(); ++it)
            if (it->second.last_seen < oldest->second.last_seen) oldest = it;
        sources_.erase(oldest);
        ++counters_.evicted_sources;
    }
}

void LearningEngine::observe(const Event& e) {
    std::lock_guard lk(mu_);
    if (!enabled_) return;
    ++counters_.observed;
    ++counters_.by_type[e.type_name];
    const bool collected = e.type_name == "rate_limited" || e.type_name == "new_flow" || e.type_name == "ips_alert" ||
                           e.type_name == "ips_drop" || e.type_name == "ip_blocked" ||
                           e.type_name == "domain_blocked";
    auto prefix = parse_ip_prefix(e.src);
    if (!collected || e.src.empty() || !prefix.ok() || !prefix->is_host()) {
        ++counters_.ignored;
        return;
    }
    const TimePoint now = clock_.now();
    const std::string key = prefix->to_string();
    auto [it, inserted] = sources_.try_emplace(key);
    SourceState& s = it->second;
    if (inserted) s.prefix = *prefix;
    s.last_seen = now;
    prune_source(s, now);

    if (e.type_name == "rate_limited") {
        s.rate_limited.times.push_back(now);
        if (s.rate_limited.times.size() > cfg_.max_window_events) s.rate_limited.times.pop_front();
        if (s.rate_limited.times.size() >= cfg_.rate_limit_trips)
            detect(s, PatternKind::RateLimit, s.rate_limited.times.size(), now);
    } else if (e.type_name == "new_flow") {
        s.flows.emplace_back(now, e.dport);
        ++s.ports[e.dport];
        if (s.flows.size() > cfg_.max_window_events) {
            auto p = s.ports.find(s.flows.front().second);
            if (p != s.ports.end() && --p->second == 0) s.ports.erase(p);
            s.flows.pop_front();
        }
        if (s.ports.size() >= cfg_.scan_ports) detect(s, PatternKind::PortScan, s.ports.size(), now);
    } else if (e.type_name == "ips_alert" || e.type_name == "ips_drop") {
        s.ips.times.push_back(now);
        if (s.ips.times.size() > cfg_.max_window_events) s.ips.times.pop_front();
        if (s.ips.times.size() >= cfg_.ips_alerts) detect(s, PatternKind::IpsAlerts, s.ips.times.size(), now);
    } else if (e.type_name == "ip_blocked") {
        ++s.ip_blocked;
    } else {
        ++s.domain_blocked;
    }
    evict_if_needed();
}

double LearningEngine::confidence(std::uint64_t evidence, std::uint32_t threshold, std::uint64_t hits) {
    // Evidence at the threshold is 0.5, at twice the threshold 1; every doubling of the rule's
    // hits adds 0.1.
    double base = threshold ? static_cast<double>(evidence) / (2.0 * threshold) : 0.0;
    double c = std::min(1.0, base) + 0.1 * std::log2(1.0 + static_cast<double>(hits));
    return std::clamp(c, 0.0, 1.0);
}

Proposal* LearningEngine::open_for(const std::string& source) {
    for (auto& [id, p] : proposals_)
        if (p.source == source && (p.state == ProposalState::Proposed || p.state == ProposalState::Applied)) return &p;
    return nullptr;
}

void LearningEngine::detect(SourceState& s, PatternKind kind, std::uint64_t count, TimePoint now) {
    std::uint32_t threshold = 0;
    std::chrono::seconds window{0};
    const char* what = "";
    switch (kind) {
        case PatternKind::RateLimit:
            threshold = cfg_.rate_limit_trips;
            window = cfg_.rate_limit_window;
            what = "rate_limited events";
            break;
        case PatternKind::PortScan:
            threshold = cfg_.scan_ports;
            window = cfg_.scan_window;
            what = "distinct destination ports in new flows";
            break;
        case PatternKind::IpsAlerts:
            threshold = cfg_.ips_alerts;
            window = cfg_.ips_window;
            what = "IPS alerts";
            break;
    }
    const std::string source = s.prefix.to_string();
    // One detection per source and pattern per window; the open proposal's evidence keeps growing.
    auto last = s.last_detection.find(kind);
    const bool fresh = last == s.last_detection.end() || now - last->second >= window;
    if (fresh) {
        s.last_detection[kind] = now;
        ++counters_.detections;
        patterns_.push_back(Detection{kind, source, count, threshold, window, now});
        while (patterns_.size() > cfg_.max_patterns) patterns_.pop_front();
    }

    if (Proposal* open = open_for(source)) {
        if (std::find(open->kinds.begin(), open->kinds.end(), kind) == open->kinds.end()) open->kinds.push_back(kind);
        if (kind == open->kind && count > open->evidence) {
            open->evidence = count;
            open->confidence = confidence(open->evidence, open->threshold, open->hits);
        }
        return;
    }
    auto cd = cooldown_until_.find(source);
    if (cd != cooldown_until_.end() && now < cd->second) {
        if (fresh) ++counters_.suppressed_cooldown;
        return;
    }
    Proposal p;
    p.id = next_id_++;
    p.prefix = s.prefix;
    p.source = source;
    p.kind = kind;
    p.kinds = {kind};
    p.reason = std::string(to_string(kind)) + ": " + std::to_string(count) + " " + what + " in " +
               std::to_string(window.count()) + " s (threshold " + std::to_string(threshold) + ")";
    p.ttl = cfg_.rule_ttl;
    p.created = p.changed = now;
    p.evidence = count;
    p.threshold = threshold;
    p.confidence = confidence(count, threshold, 0);
    ++counters_.proposals;
    auto& stored = proposals_.emplace(p.id, std::move(p)).first->second;
    if (cfg_.auto_apply) (void)apply_locked(stored, /*automatic=*/true, now);  // failure: stays proposed, counted
    trim_history();
}

Status LearningEngine::apply_locked(Proposal& p, bool automatic, TimePoint now) {
    auto st = blocklist_.add(p.prefix, p.ttl);
    if (!st.ok()) {
        ++counters_.apply_errors;
        return std::move(st).error().wrap("learning: apply proposal " + std::to_string(p.id) + " (" + p.source + ")");
    }
    ++counters_.applied;
    p.state = ProposalState::Applied;
    p.auto_applied = automatic;
    p.changed = now;
    p.expires = now + p.ttl;
    p.last_hit = now;
    p.hits = 0;
    return {};
}

void LearningEngine::retire(Proposal& p, ProposalState st, TimePoint now) {
    p.state = st;
    p.changed = now;
    if (st == ProposalState::Rejected || st == ProposalState::Deleted)
        cooldown_until_[p.source] = now + cfg_.reject_cooldown;
}

void LearningEngine::trim_history() {
    std::size_t finished = 0;
    for (const auto& [id, p] : proposals_)
        if (p.state != ProposalState::Proposed && p.state != ProposalState::Applied) ++finished;
    for (auto it = proposals_.begin(); it != proposals_.end() && finished > cfg_.max_history;) {
        if (it->second.state != ProposalState::Proposed && it->second.state != ProposalState::Applied) {
            it = proposals_.erase(it);
            --finished;
        } else {
            ++it;
        }
    }
}

Status LearningEngine::tick() {
    std::lock_guard lk(mu_);
    if (!enabled_) return {};
    const TimePoint now = clock_.now();
    Status first;
    for (auto& [id, p] : proposals_) {
        if (p.state != ProposalState::Applied) continue;
        auto got = blocklist_.get(p.prefix);
        if (!got.ok()) {
            if (first.ok()) first = std::move(got).error().wrap("learning: read rule " + p.source);
            continue;
        }
        if (!*got) {
            // Gone before its TTL: the operator deleted it (feedback); otherwise it expired.
            retire(p, now + kExpirySlack < p.expires ? ProposalState::Deleted : ProposalState::Expired, now);
            continue;
        }
        if ((*got)->hits > p.hits) {
            p.hits = (*got)->hits;
            p.last_hit = now;
        }
        p.confidence = confidence(p.evidence, p.threshold, p.hits);
        if (now >= p.expires) {
            auto r = blocklist_.remove(p.prefix);  // the reaper may not have run yet
            if (!r.ok() && first.ok()) first = std::move(r).error().wrap("learning: remove expired rule " + p.source);
            retire(p, ProposalState::Expired, now);
        } else if (now - p.last_hit >= cfg_.idle_expiry) {
            auto r = blocklist_.remove(p.prefix);
            if (!r.ok()) {
                if (first.ok()) first = std::move(r).error().wrap("learning: remove idle rule " + p.source);
                continue;
            }
            retire(p, ProposalState::ExpiredIdle, now);
        }
    }
    const auto longest = std::max({cfg_.rate_limit_window, cfg_.scan_window, cfg_.ips_window});
    for (auto it = sources_.begin(); it != sources_.end();) {
        prune_source(it->second, now);
        if (now - it->second.last_seen > longest) it = sources_.erase(it);
        else ++it;
    }
    for (auto it = cooldown_until_.begin(); it != cooldown_until_.end();) {
        if (it->second <= now) it = cooldown_until_.erase(it);
        else ++it;
    }
    trim_history();
    return first;
}

Result<Proposal> LearningEngine::apply(std::uint64_t id) {
    std::lock_guard lk(mu_);
    auto it = proposals_.find(id);
    if (it == proposals_.end()) return Error::from_errno(ENOENT, "learning: no proposal " + std::to_string(id));
    if (!enabled_) return Error::from_errno(EAGAIN, "learning: the learning_engine feature is disabled");
    Proposal& p = it->second;
    if (p.state != ProposalState::Proposed)
        return Error::from_errno(EBUSY, "learning: proposal " + std::to_string(id) + " is " + to_string(p.state) +
                                            ", not proposed");
    FW_TRY(apply_locked(p, /*automatic=*/false, clock_.now()));
    return p;
}

Result<Proposal> LearningEngine::reject(std::uint64_t id) {
    std::lock_guard lk(mu_);
    auto it = proposals_.find(id);
    if (it == proposals_.end()) return Error::from_errno(ENOENT, "learning: no proposal " + std::to_string(id));
    Proposal& p = it->second;
    if (p.state == ProposalState::Applied) {
        auto r = blocklist_.remove(p.prefix);
        if (!r.ok()) return std::move(r).error().wrap("learning: remove rule " + p.source);
    } else if (p.state != ProposalState::Proposed) {
        return Error::from_errno(EBUSY, "learning: proposal " + std::to_string(id) + " is " + to_string(p.state));
    }
    retire(p, ProposalState::Rejected, clock_.now());
    return p;
}

std::vector<Proposal> LearningEngine::proposals() const {
    std::lock_guard lk(mu_);
    std::vector<Proposal> out;
    for (const auto& [id, p] : proposals_) out.push_back(p);
    return out;
}

std::vector<Detection> LearningEngine::patterns() const {
    std::lock_guard lk(mu_);
    return {patterns_.begin(), patterns_.end()};
}

LearningCounters LearningEngine::counters() const {
    std::lock_guard lk(mu_);
    return counters_;
}

std::size_t LearningEngine::sources_tracked() const {
    std::lock_guard lk(mu_);
    return sources_.size();
}

std::vector<std::pair<std::string, std::chrono::seconds>> LearningEngine::cooldowns() const {
    std::lock_guard lk(mu_);
    const TimePoint now = clock_.now();
    std::vector<std::pair<std::string, std::chrono::seconds>> out;
    for (const auto& [src, until] : cooldown_until_)
        if (until > now) out.emplace_back(src, std::chrono::ceil<std::chrono::seconds>(until - now));
    return out;
}

json LearningEngine::to_json() const {
    std::lock_guard lk(mu_);
    const TimePoint now = clock_.now();
    auto proposal_json = [&](const Proposal& p) {
        json kinds = json::array();
        for (auto k : p.kinds) kinds.push_back(to_string(k));
        json j{{"id", p.id},
               {"source", p.source},
               {"pattern", to_string(p.kind)},
               {"patterns", kinds},
               {"reason", p.reason},
               {"ttl_sec", p.ttl.count()},
               {"state", to_string(p.state)},
               {"auto_applied", p.auto_applied},
               {"confidence", std::round(p.confidence * 1000) / 1000},
               {"evidence", p.evidence},
               {"threshold", p.threshold},
               {"hits", p.hits},
               {"age_sec", secs(now - p.created)},
               {"ttl_remaining_sec", nullptr},
               {"idle_sec", nullptr}};
        if (p.state == ProposalState::Applied) {
            j["ttl_remaining_sec"] = p.expires > now ? secs(p.expires - now) : 0;
            j["idle_sec"] = secs(now - p.last_hit);
        }
        return j;
    };
    json proposals = json::array(), rules = json::array(), history = json::array();
    for (const auto& [id, p] : proposals_) {
        if (p.state == ProposalState::Proposed) proposals.push_back(proposal_json(p));
        else if (p.state == ProposalState::Applied) rules.push_back(proposal_json(p));
        else history.push_back(proposal_json(p));
    }
    json patterns = json::array();
    for (const auto& d : patterns_)
        patterns.push_back({{"pattern", to_string(d.kind)},
                            {"source", d.source},
                            {"count", d.count},
                            {"threshold", d.threshold},
                            {"window_sec", d.window.count()},
                            {"age_sec", secs(now - d.at)}});
    json cooldowns = json::array();
    for (const auto& [src, until] : cooldown_until_)
        if (until > now)
            cooldowns.push_back(
                {{"source", src}, {"remaining_sec", std::chrono::ceil<std::chrono::seconds>(until - now).count()}});
    const auto& c = counters_;
    return json{{"enabled", enabled_.load()},
                {"auto_apply", cfg_.auto_apply},
                {"config",
                 {{"rule_ttl_sec", cfg_.rule_ttl.count()},
                  {"rate_limit_trips", cfg_.rate_limit_trips},
                  {"rate_limit_window_sec", cfg_.rate_limit_window.count()},
                  {"scan_ports", cfg_.scan_ports},
                  {"scan_window_sec", cfg_.scan_window.count()},
                  {"ips_alerts", cfg_.ips_alerts},
                  {"ips_window_sec", cfg_.ips_window.count()},
                  {"reject_cooldown_sec", cfg_.reject_cooldown.count()},
                  {"idle_expiry_sec", cfg_.idle_expiry.count()}}},
                {"counters",
                 {{"observed", c.observed},
                  {"by_type", c.by_type},
                  {"ignored", c.ignored},
                  {"detections", c.detections},
                  {"proposals", c.proposals},
                  {"applied", c.applied},
                  {"apply_errors", c.apply_errors},
                  {"suppressed_cooldown", c.suppressed_cooldown},
                  {"evicted_sources", c.evicted_sources}}},
                {"sources_tracked", sources_.size()},
                {"patterns", patterns},
                {"proposals", proposals},
                {"rules", rules},
                {"history", history},
                {"cooldowns", cooldowns}};
}

// ---- runner ----

std::unique_ptr<LearningRunner> LearningRunner::start(EventProcessor& processor, LearningEngine& engine,
                                                      std::size_t capacity) {
    std::unique_ptr<LearningRunner> r(new LearningRunner());
    r->processor_ = &processor;
    r->engine_ = &engine;
    r->sub_ = processor.subscribe("learning_engine", capacity);
    r->thread_ = std::thread([p = r.get()] {
        while (!p->stop_.load()) {
            auto e = p->sub_->pop(std::chrono::milliseconds(200));
            if (e) p->engine_->observe(*e);
            else if (p->sub_->closed()) break;
        }
    });
    return r;
}

LearningRunner::~LearningRunner() { stop(); }

void LearningRunner::stop() {
    stop_.store(true);
    if (sub_) sub_->close();
    if (thread_.joinable()) thread_.join();
    if (processor_ && sub_) processor_->unsubscribe(sub_);
    sub_.reset();
}

}  // namespace flywall
