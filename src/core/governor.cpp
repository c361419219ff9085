#include "core/governor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

namespace flywall {

namespace {

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

std::string pct(double v) { return fmt("%.1f%%", v); }
std::string rate_str(double v) { return fmt("%.6g", v); }

bool valid_limit(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace

std::string_view to_string(GovernorActionKind k) {
    switch (k) {
        case GovernorActionKind::reduce_sampling: return "reduce_sampling";
        case GovernorActionKind::disable_feature: return "disable_feature";
        case GovernorActionKind::enable_feature: return "enable_feature";
        case GovernorActionKind::raise_sampling: return "raise_sampling";
        case GovernorActionKind::exhausted: return "exhausted";
    }
    return "unknown";
}

Governor::Governor(Coordinator& coordinator, const Clock& clock, LoadSource& load)
    : coordinator_(coordinator), clock_(clock), load_(load) {}

Status Governor::configure(GovernorConfig c) {
    const std::string ctx = "governor config";
    if (!valid_limit(c.max_cpu_percent) || !valid_limit(c.max_memory_mb) ||
        !valid_limit(c.max_events_per_sec) || !valid_limit(c.max_pps))
        return Error::invalid(ctx + ": limits must be finite and >= 0");
    if (c.enabled && c.max_cpu_percent == 0 && c.max_memory_mb == 0 &&
        c.max_events_per_sec == 0 && c.max_pps == 0)
        return Error::invalid(ctx + ": enabled with no limit set");
    if (!(c.scale_back_threshold > 0 && c.scale_back_threshold <= 100))
        return Error::invalid(ctx + ": scale_back_threshold " + fmt("%g", c.scale_back_threshold) +
                              " outside (0, 100]");
    if (!(c.scale_back_rate > 0 && c.scale_back_rate < 1))
        return Error::invalid(ctx + ": scale_back_rate " + fmt("%g", c.scale_back_rate) +
                              " outside (0, 1)");
    if (!(c.hysteresis_gap >= 0 && c.hysteresis_gap < c.scale_back_threshold))
        return Error::invalid(ctx + ": hysteresis_gap " + fmt("%g", c.hysteresis_gap) +
                              " outside [0, scale_back_threshold)");
    if (c.restore_after_ticks < 1) return Error::invalid(ctx + ": restore_after_ticks must be >= 1");
    if (!(c.min_sampling_rate > 0 && c.min_sampling_rate <= 1))
        return Error::invalid(ctx + ": min_sampling_rate " + fmt("%g", c.min_sampling_rate) +
                              " outside (0, 1]");
    for (const auto& f : c.minimum_features)
        if (!coordinator_.feature(f))
            return Error::from_errno(ENOENT, "unknown feature \"" + f + "\"")
                .wrap(ctx + ": minimum_features");

    std::lock_guard lock(mu_);
    double floor = c.min_sampling_rate;
    config_ = std::move(c);
    low_ticks_ = 0;
    exhausted_ = false;
    if (rate_ < floor) return set_rate(floor);
    return {};
}

void Governor::set_sampling_applier(SamplingApplier applier) {
    std::lock_guard lock(mu_);
    applier_ = std::move(applier);
}

Governor::Utilisation Governor::utilisation_of(const LoadSample& s) const {
    Utilisation u;
    bool first = true;
    auto consider = [&](double measured, double limit, const std::string& desc) {
        if (limit <= 0) return;
        double p = measured / limit * 100;
        if (first || p > u.percent) {
            u.percent = p;
            u.dominant = desc;
            first = false;
        }
    };
    consider(s.cpu_percent, config_.max_cpu_percent,
             "cpu " + pct(s.cpu_percent) + " of " + fmt("%g%%", config_.max_cpu_percent));
    consider(s.memory_mb, config_.max_memory_mb,
             "memory " + fmt("%.1f", s.memory_mb) + " MB of " + fmt("%g", config_.max_memory_mb) +
                 " MB");
    consider(s.events_per_sec, config_.max_events_per_sec,
             "events " + fmt("%.0f", s.events_per_sec) + "/s of " +
                 fmt("%g", config_.max_events_per_sec) + "/s");
    consider(s.pps, config_.max_pps,
             "pps " + fmt("%.0f", s.pps) + " of " + fmt("%.0f", config_.max_pps));
    return u;
}

Status Governor::tick() {
    std::lock_guard lock(mu_);
    if (!config_.enabled) return {};
    Result<LoadSample> sample = load_.sample();
    if (!sample.ok()) return std::move(sample).error().wrap("governor: sample load");
    Utilisation u = utilisation_of(*sample);
    last_util_ = u.percent;

    if (u.percent >= config_.scale_back_threshold) {
        low_ticks_ = 0;
        return scale_back(u);
    }
    exhausted_ = false;
    if (u.percent < config_.scale_back_threshold - config_.hysteresis_gap) {
        if (++low_ticks_ >= config_.restore_after_ticks) {
            low_ticks_ = 0;
            return restore(u);
        }
    } else {
        low_ticks_ = 0;
    }
    return {};
}

Status Governor::scale_back(const Utilisation& u) {
    const std::string why = "utilisation " + pct(u.percent) + " (" + u.dominant +
                            ") >= threshold " + fmt("%g%%", config_.scale_back_threshold);
    const double floor = config_.min_sampling_rate;
    if (rate_ > floor) {
        double old = rate_;
        FW_TRY(set_rate(std::max(floor, rate_ * (1 - config_.scale_back_rate))));
        log(GovernorActionKind::reduce_sampling, {}, u.percent,
            why + ": sampling " + rate_str(old) + " -> " + rate_str(rate_));
        return {};
    }

    // Protected: the minimum features and everything they need.
    std::vector<FeatureInfo> feats = coordinator_.features();  // activation order
    std::map<std::string, const FeatureInfo*> by_name;
    for (const auto& f : feats) by_name[f.name] = &f;
    std::set<std::string> keep;
    std::vector<std::string> todo(config_.minimum_features);
    while (!todo.empty()) {
        std::string n = std::move(todo.back());
        todo.pop_back();
        if (!keep.insert(n).second) continue;
        auto it = by_name.find(n);
        if (it != by_name.end())
            for (const auto& d : it->second->dependencies) todo.push_back(d);
    }
    // Lowest priority; on a tie the later in activation order (dependents before what they need).
    const FeatureInfo* victim = nullptr;
    for (const auto& f : feats)
        if (f.enabled && !keep.count(f.name) && (!victim || f.priority <= victim->priority))
            victim = &f;
    if (!victim) {
        if (!exhausted_) {
            exhausted_ = true;
            log(GovernorActionKind::exhausted, {}, u.percent,
                why + ", sampling at floor " + rate_str(rate_) +
                    ", and only protected features remain");
        }
        return {};
    }
    const std::string name = victim->name;
    const int prio = victim->priority;
    Result<std::vector<std::string>> disabled = coordinator_.disable(name, true, Actor::governor);
    if (!disabled.ok()) return std::move(disabled).error().wrap("governor: shed feature");
    for (const auto& d : *disabled) {
        shed_.push_back(d);
        if (d == name)
            log(GovernorActionKind::disable_feature, d, u.percent,
                why + ", sampling at floor " + rate_str(rate_) + ": disable lowest priority " +
                    name + " (priority " + std::to_string(prio) + ")");
        else
            log(GovernorActionKind::disable_feature, d, u.percent,
                "depends on " + name + ", which is being disabled; " + why);
    }
    return {};
}

Status Governor::restore(const Utilisation& u) {
    const std::string why = "utilisation " + pct(u.percent) + " (" + u.dominant + ") below " +
                            fmt("%g%%", config_.scale_back_threshold - config_.hysteresis_gap) +
                            " for " + std::to_string(config_.restore_after_ticks) + " ticks";
    std::vector<FeatureInfo> feats = coordinator_.features();
    std::map<std::string, const FeatureInfo*> by_name;
    for (const auto& f : feats) by_name[f.name] = &f;

    // Forget features that are back on or that the user has since taken over.
    std::erase_if(shed_, [&](const std::string& n) {
        auto it = by_name.find(n);
        return it == by_name.end() || it->second->enabled ||
               it->second->changed_by != Actor::governor;
    });
    const FeatureInfo* best = nullptr;
    for (const auto& n : shed_) {
        const FeatureInfo* f = by_name[n];
        bool ready = std::all_of(f->dependencies.begin(), f->dependencies.end(),
                                 [&](const std::string& d) {
                                     auto it = by_name.find(d);
                                     return it != by_name.end() && it->second->enabled;
                                 });
        if (ready && (!best || f->priority > best->priority)) best = f;
    }
    if (best) {
        const std::string name = best->name;
        const int prio = best->priority;
        Status s = coordinator_.enable(name, Actor::governor);
        if (!s.ok()) return std::move(s).error().wrap("governor: restore feature");
        std::erase(shed_, name);
        log(GovernorActionKind::enable_feature, name, u.percent,
            why + ": re-enable " + name + " (priority " + std::to_string(prio) + ")");
        return {};
    }
    if (rate_ < 1) {
        double old = rate_;
        FW_TRY(set_rate(std::min(1.0, rate_ / (1 - config_.scale_back_rate))));
        log(GovernorActionKind::raise_sampling, {}, u.percent,
            why + ": sampling " + rate_str(old) + " -> " + rate_str(rate_));
    }
    return {};
}

Status Governor::set_rate(double rate) {
    if (applier_) {
        Status s = applier_(rate);
        if (!s.ok())
            return std::move(s).error().wrap("governor: apply sampling rate " + rate_str(rate));
    }
    rate_ = rate;
    return {};
}

void Governor::log(GovernorActionKind kind, std::string feature, double util, std::string reason) {
    log_.push_back(
        GovernorAction{clock_.now(), kind, std::move(feature), rate_, util, std::move(reason)});
    while (log_.size() > kMaxLogEntries) log_.pop_front();
}

double Governor::sampling_rate() const {
    std::lock_guard lock(mu_);
    return rate_;
}

double Governor::last_utilisation() const {
    std::lock_guard lock(mu_);
    return last_util_;
}

std::vector<GovernorAction> Governor::actions() const {
    std::lock_guard lock(mu_);
    return {log_.begin(), log_.end()};
}

std::vector<std::string> Governor::shed_features() const {
    std::lock_guard lock(mu_);
    return shed_;
}

GovernorConfig Governor::config() const {
    std::lock_guard lock(mu_);
    return config_;
}

}  // namespace flywall
