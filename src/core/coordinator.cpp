#include "core/coordinator.hpp"

#include <algorithm>
#include <cerrno>
#include <set>
#include <tuple>
#include <utility>

namespace flywall {

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

std::string quote_name(std::string_view s) {
    std::string out = "\"";
    out += s;
    out += '"';
    return out;
}

Error unknown_feature(std::string_view name) {
    return Error::from_errno(ENOENT, "unknown feature " + quote_name(name));
}

Error requires_disabled(std::string_view feature, std::string_view dep) {
    return Error::from_errno(EINVAL, "feature " + quote_name(feature) + " requires " + quote_name(dep) +
                                         ", which is disabled");
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

}  // namespace

std::string_view to_string(Actor a) {
    switch (a) {
        case Actor::user: return "user";
        case Actor::governor: return "governor";
    }
    return "unknown";
}

std::vector<FeatureSpec> builtin_features() {
    // CPU figures: extra ns/packet over an empty program, budgeted from the measurements in
    // DESIGN.md (xdp-filter's hash lookup ≈ 45-55 ns over the ≈ 26 ns floor) and the seed's
    // throughput table (XDP >10 Mpps, TC >1 Mpps, socket filters >500 Kpps). Memory figures
    // follow the seed's resource table (blocklist 10 MB, TC classifier 50 MB, socket filters
    // 15 MB, statistics 25 MB). Default state: the seed's "implemented" features are on, its
    // "planned" ones off.
    return {
        {"ip_blocklist", "XDP drop of listed IPv4/IPv6 sources (hash + LPM maps)", 100,
         {50, 10 * kMiB}, {}, true},
        {"rate_limiting", "XDP per-source packet rate limiting", 95, {40, 8 * kMiB}, {}, true},
        {"ddos_protection", "XDP fast-path DDoS filtering built on blocklist and rate limits",
         90, {20, 2 * kMiB}, {"ip_blocklist", "rate_limiting"}, true},
        {"dns_blocklist", "Bloom-filter match of blocked DNS query names", 85, {60, 16 * kMiB},
         {}, true},
        {"flow_monitoring", "TC flow table (LRU): per-flow counters, expiry, trusted offload",
         80, {120, 50 * kMiB}, {}, true},
        {"statistics", "Per-CPU packet, byte and verdict counters", 75, {10, 25 * kMiB}, {},
         true},
        {"events", "Ring-buffer events to user space", 70, {30, 16 * kMiB}, {}, true},
        {"inline_ips", "TC inspection, pattern matching and verdicts", 60, {250, 32 * kMiB},
         {"flow_monitoring"}, false},
        {"qos", "Per-flow QoS classification and rate limiting", 50, {80, 8 * kMiB},
         {"flow_monitoring"}, false},
        {"socket_filters", "AF_PACKET socket filter programs", 45, {150, 15 * kMiB}, {}, false},
        {"dns_monitoring", "DNS query/response monitoring via socket filter", 40,
         {100, 4 * kMiB}, {"socket_filters"}, false},
        {"dhcp_monitoring", "DHCP device discovery via socket filter", 35, {50, 2 * kMiB},
         {"socket_filters"}, false},
        {"tls_fingerprinting", "TLS ClientHello fingerprints (JA3/JA4) via socket filter", 30,
         {200, 8 * kMiB}, {"socket_filters"}, false},
        {"learning_engine", "Pattern detection and rule generation from flows and statistics",
         20, {40, 16 * kMiB}, {"flow_monitoring", "statistics"}, false},
    };
}

// ---- registration ----

Status Coordinator::register_feature(FeatureSpec spec) {
    std::lock_guard lock(mu_);
    if (spec.name.empty()) return Error::invalid("register feature: empty name");
    if (entries_.count(spec.name))
        return Error::from_errno(EEXIST, "feature " + quote_name(spec.name) + " already registered");
    std::set<std::string> seen;
    for (const auto& d : spec.dependencies) {
        if (!seen.insert(d).second)
            return Error::invalid("feature " + quote_name(spec.name) + " lists " + quote_name(d) +
                                  " twice");
        if (d == spec.name)
            return Error::from_errno(ELOOP, "dependency cycle: " + d + " -> " + d);
    }
    std::string name = spec.name;
    Entry e;
    e.spec = std::move(spec);
    entries_.emplace(std::move(name), std::move(e));
    return {};
}

Status Coordinator::register_builtin_features() {
    for (auto& spec : builtin_features()) FW_TRY(register_feature(std::move(spec)));
    return {};
}

Status Coordinator::set_apply_hook(std::string_view name, ApplyHook hook) {
    std::lock_guard lock(mu_);
    Entry* e = find(name);
    if (!e) return unknown_feature(name);
    e->hook = std::move(hook);
    e->synced = false;
    return {};
}

Status Coordinator::set_cost(std::string_view name, FeatureCost cost) {
    std::lock_guard lock(mu_);
    Entry* e = find(name);
    if (!e) return unknown_feature(name);
    e->spec.cost = cost;
    return {};
}

// ---- graph ----

Coordinator::Entry* Coordinator::find(std::string_view name) {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
}

const Coordinator::Entry* Coordinator::find(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
}

Status Coordinator::validate() const {
    std::lock_guard lock(mu_);
    return validate_locked();
}

Status Coordinator::validate_locked() const {
    for (const auto& [name, e] : entries_)
        for (const auto& d : e.spec.dependencies)
            if (!find(d))
                return Error::from_errno(ENOENT, "feature " + quote_name(name) +
                                                     " depends on unknown feature " + quote_name(d));

    // Depth-first search; a back edge to a node on the current path is a cycle.
    enum class Mark { none, on_path, done };
    std::map<std::string, Mark, std::less<>> mark;
    std::vector<std::string> path;
    std::vector<std::string> cycle;
    std::function<bool(const std::string&)> visit = [&](const std::string& n) -> bool {
        mark[n] = Mark::on_path;
        path.push_back(n);
        for (const auto& d : find(n)->spec.dependencies) {
            Mark m = mark[d];
            if (m == Mark::on_path) {
                auto start = std::find(path.begin(), path.end(), d);
                cycle.assign(start, path.end());
                cycle.push_back(d);
                return true;
            }
            if (m == Mark::none && visit(d)) return true;
        }
        path.pop_back();
        mark[n] = Mark::done;
        return false;
    };
    for (const auto& [name, e] : entries_) {
        if (mark[name] == Mark::none && visit(name))
            return Error::from_errno(ELOOP, "dependency cycle: " + join(cycle, " -> "));
    }
    return {};
}

Result<std::vector<std::string>> Coordinator::order_locked() const {
    FW_TRY(validate_locked());
    // Kahn's algorithm; among ready features the higher priority goes first, then the name.
    std::map<std::string, std::size_t, std::less<>> pending;  // unmet dependency count
    for (const auto& [name, e] : entries_) pending[name] = e.spec.dependencies.size();
    auto before = [this](const std::string& a, const std::string& b) {
        int pa = find(a)->spec.priority, pb = find(b)->spec.priority;
        return std::tie(pb, a) < std::tie(pa, b);
    };
    std::set<std::string, decltype(before)> ready(before);
    for (const auto& [name, n] : pending)
        if (n == 0) ready.insert(name);
    std::vector<std::string> order;
    order.reserve(entries_.size());
    while (!ready.empty()) {
        std::string n = *ready.begin();
        ready.erase(ready.begin());
        order.push_back(n);
        for (const auto& dep : dependents_locked(n))
            if (--pending[dep] == 0) ready.insert(dep);
    }
    return order;
}

std::vector<std::string> Coordinator::dependents_locked(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [n, e] : entries_) {
        const auto& deps = e.spec.dependencies;
        if (std::find(deps.begin(), deps.end(), name) != deps.end()) out.push_back(n);
    }
    return out;  // map order: sorted by name
}

// ---- state changes ----

Status Coordinator::apply_locked(Entry& e, bool enabled, Actor actor,
                                 std::vector<Change>& changes) {
    if (e.hook) {
        Status s = e.hook(enabled);
        if (!s.ok()) {
            e.synced = false;  // the hook may have half-applied; re-apply on next configure
            return std::move(s).error().wrap((enabled ? "enable feature " : "disable feature ") +
                                             quote_name(e.spec.name));
        }
    }
    changes.push_back({e.spec.name, e.enabled, e.synced, e.changed_by});
    e.enabled = enabled;
    e.synced = true;
    e.changed_by = actor;
    return {};
}

Error Coordinator::rollback_locked(std::vector<Change>& changes, Error err) {
    std::vector<std::string> failures;
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
        Entry& e = *find(it->name);
        if (e.hook) {
            Status s = e.hook(it->old_enabled);
            if (!s.ok()) {
                failures.push_back("rollback of " + quote_name(it->name) +
                                   " failed: " + s.error().message());
                e.synced = false;
                e.enabled = it->old_enabled;
                e.changed_by = it->old_actor;
                continue;
            }
        }
        e.enabled = it->old_enabled;
        e.synced = it->old_synced;
        e.changed_by = it->old_actor;
    }
    changes.clear();
    if (!failures.empty()) {
        std::string detail = err.detail;
        for (const auto& f : failures) {
            if (!detail.empty()) detail += "\n";
            detail += f;
        }
        return std::move(err).with_detail(std::move(detail));
    }
    return err;
}

std::optional<Coordinator::ConfigProblem> Coordinator::check_config(const std::map<std::string, bool>& desired) const {
    std::lock_guard lock(mu_);
    std::map<std::string, bool, std::less<>> target;
    std::vector<std::string> order;
    return check_config_locked(desired, target, order);
}

std::optional<Coordinator::ConfigProblem> Coordinator::check_config_locked(
    const std::map<std::string, bool>& desired, std::map<std::string, bool, std::less<>>& target,
    std::vector<std::string>& order) const {
    for (const auto& [name, on] : desired)
        if (!find(name)) return ConfigProblem{name, unknown_feature(name)};
    auto o = order_locked();
    if (!o.ok()) return ConfigProblem{"", std::move(o).error()};
    order = std::move(*o);
    for (const auto& [name, e] : entries_) {
        auto it = desired.find(name);
        target[name] = it != desired.end() ? it->second : e.spec.default_enabled;
    }
    for (const auto& name : order) {
        if (!target[name]) continue;
        for (const auto& d : find(name)->spec.dependencies)
            if (!target.find(d)->second) return ConfigProblem{name, requires_disabled(name, d)};
    }
    return std::nullopt;
}

Status Coordinator::configure(const std::map<std::string, bool>& desired) {
    std::lock_guard lock(mu_);
    std::map<std::string, bool, std::less<>> target;
    std::vector<std::string> order;
    if (auto problem = check_config_locked(desired, target, order)) return std::move(problem->error);

    std::vector<Change> changes;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Entry& e = *find(*it);
        if (target[*it] || (!e.enabled && e.synced)) continue;
        Status s = apply_locked(e, false, Actor::user, changes);
        if (!s.ok()) return rollback_locked(changes, std::move(s).error());
    }
    for (const auto& name : order) {
        Entry& e = *find(name);
        if (!target[name] || (e.enabled && e.synced)) continue;
        Status s = apply_locked(e, true, Actor::user, changes);
        if (!s.ok()) return rollback_locked(changes, std::move(s).error());
    }
    // The configuration is the user's statement about every feature.
    for (auto& [name, e] : entries_) e.changed_by = Actor::user;
    return {};
}

Status Coordinator::enable(std::string_view name, Actor actor) {
    std::lock_guard lock(mu_);
    Entry* e = find(name);
    if (!e) return unknown_feature(name);
    FW_TRY(validate_locked());
    for (const auto& d : e->spec.dependencies)
        if (!find(d)->enabled) return requires_disabled(name, d);
    if (e->enabled && e->synced) {
        e->changed_by = actor;
        return {};
    }
    std::vector<Change> changes;
    return apply_locked(*e, true, actor, changes);
}

Result<std::vector<std::string>> Coordinator::disable(std::string_view name, bool force,
                                                      Actor actor) {
    std::lock_guard lock(mu_);
    Entry* self = find(name);
    if (!self) return unknown_feature(name);
    FW_TRY_ASSIGN(std::vector<std::string> order, order_locked());

    // Every enabled feature that needs `name`, directly or through others.
    std::set<std::string> affected;
    std::vector<std::string> todo{std::string(name)};
    while (!todo.empty()) {
        std::string n = std::move(todo.back());
        todo.pop_back();
        for (auto& dep : dependents_locked(n))
            if (find(dep)->enabled && affected.insert(dep).second) todo.push_back(dep);
    }
    if (!affected.empty() && !force)
        return Error::from_errno(EBUSY, quote_name(name) + " is required by enabled features: " +
                                            join({affected.begin(), affected.end()}, ", "));

    std::vector<Change> changes;
    std::vector<std::string> disabled;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        bool is_self = *it == name;
        if (!is_self && !affected.count(*it)) continue;
        Entry& e = *find(*it);
        if (!e.enabled && e.synced) {
            e.changed_by = actor;  // already off; the newest intent wins
            continue;
        }
        bool was_enabled = e.enabled;
        Status s = apply_locked(e, false, actor, changes);
        if (!s.ok()) return rollback_locked(changes, std::move(s).error());
        if (was_enabled) disabled.push_back(*it);
    }
    return disabled;
}

// ---- queries ----

FeatureInfo Coordinator::info_locked(const Entry& e) const {
    return FeatureInfo{e.spec.name,       e.spec.description,
                       e.spec.priority,   e.spec.cost,
                       e.spec.dependencies, dependents_locked(e.spec.name),
                       e.enabled,         e.changed_by};
}

std::vector<FeatureInfo> Coordinator::features() const {
    std::lock_guard lock(mu_);
    std::vector<FeatureInfo> out;
    auto order = order_locked();
    if (order.ok()) {
        for (const auto& n : *order) out.push_back(info_locked(*find(n)));
    } else {  // an invalid graph is still listable; configure() reports why it is invalid
        for (const auto& [n, e] : entries_) out.push_back(info_locked(e));
    }
    return out;
}

std::optional<FeatureInfo> Coordinator::feature(std::string_view name) const {
    std::lock_guard lock(mu_);
    const Entry* e = find(name);
    if (!e) return std::nullopt;
    return info_locked(*e);
}

bool Coordinator::is_enabled(std::string_view name) const {
    std::lock_guard lock(mu_);
    const Entry* e = find(name);
    return e && e->enabled;
}

Result<std::vector<std::string>> Coordinator::activation_order() const {
    std::lock_guard lock(mu_);
    return order_locked();
}

FeatureCost Coordinator::active_cost() const {
    std::lock_guard lock(mu_);
    FeatureCost total;
    for (const auto& [n, e] : entries_)
        if (e.enabled) total += e.spec.cost;
    return total;
}

}  // namespace flywall
