// Feature coordinator: the feature graph (dependencies, priorities, cost figures) and which
// features are active. Pure logic: the kernel side is reached only through each feature's
// apply hook, which the manager registers (it flips the runtime switch in the config map).
//
// Thread-safe: every public member takes one mutex. Apply hooks run under that mutex, so a
// hook must not call back into the Coordinator.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace flywall {

// Estimated per-feature cost. Budget figures until the manager replaces them with measured
// ones (set_cost); the governor acts on measured load, never on these sums.
struct FeatureCost {
    double cpu_ns_per_packet = 0;
    std::uint64_t memory_bytes = 0;

    FeatureCost& operator+=(const FeatureCost& o) {
        cpu_ns_per_packet += o.cpu_ns_per_packet;
        memory_bytes += o.memory_bytes;
        return *this;
    }
};

struct FeatureSpec {
    std::string name;
    std::string description;
    int priority = 0;  // higher = more important, kept longest under load
    FeatureCost cost;
    std::vector<std::string> dependencies;
    bool default_enabled = false;  // state when configure() does not name the feature
};

// Called with the new state; must make the kernel follow it (or fail without effect).
using ApplyHook = std::function<Status(bool enabled)>;

// Who changed a feature last. The governor only ever re-enables what it disabled itself.
enum class Actor { user, governor };
[[nodiscard]] std::string_view to_string(Actor a);

struct FeatureInfo {
    std::string name;
    std::string description;
    int priority = 0;
    FeatureCost cost;
    std::vector<std::string> dependencies;
    std::vector<std::string> dependents;  // direct dependents, sorted by name
    bool enabled = false;
    Actor changed_by = Actor::user;
};

// The built-in graph. Dependencies (→ = requires):
//   inline_ips → flow_monitoring, qos → flow_monitoring,
//   learning_engine → flow_monitoring, statistics, tls_fingerprinting → socket_filters
//   (these four from the seed README, exactly), and ours:
//   ddos_protection → ip_blocklist, rate_limiting (it is the XDP fast path made of those two),
//   dns_monitoring → socket_filters, dhcp_monitoring → socket_filters (AF_PACKET programs).
// Priorities never exceed a dependency's priority, so shedding by priority removes dependents
// before what they need.
[[nodiscard]] std::vector<FeatureSpec> builtin_features();

class Coordinator {
public:
    Coordinator() = default;
    Coordinator(const Coordinator&) = delete;
    Coordinator& operator=(const Coordinator&) = delete;

    // Dependencies may name features registered later; configure()/validate() check them.
    Status register_feature(FeatureSpec spec);
    Status register_builtin_features();
    Status set_apply_hook(std::string_view name, ApplyHook hook);  // marks the feature unsynced
    Status set_cost(std::string_view name, FeatureCost cost);

    // Every dependency known and the graph acyclic.
    Status validate() const;

    // Desired state: named features take the given state, the rest their default. Errors:
    // unknown names, unknown dependencies, cycles, an enabled feature needing a disabled one.
    // Applies hooks for changed features (and features never applied since their hook was
    // set): disables in reverse activation order, then enables in activation order. On a hook
    // failure everything changed so far is rolled back.
    Status configure(const std::map<std::string, bool>& desired);

    // What configure() would refuse before it changes anything: an unknown feature, a cycle,
    // or an enabled feature whose dependency is disabled; `feature` names the one at fault
    // (empty for a cycle) so the config's position of it can be reported.
    struct ConfigProblem {
        std::string feature;
        Error error;
    };
    [[nodiscard]] std::optional<ConfigProblem> check_config(const std::map<std::string, bool>& desired) const;

    // Enabling an enabled feature is a no-op. Fails naming a disabled dependency.
    Status enable(std::string_view name, Actor actor = Actor::user);
    // Returns the features disabled, dependents first. Fails with EBUSY when enabled features
    // depend on it, unless force: then they are disabled too. Disabling a disabled feature
    // only records the actor (so a user's "off" sticks against the governor).
    Result<std::vector<std::string>> disable(std::string_view name, bool force = false,
                                             Actor actor = Actor::user);

    [[nodiscard]] std::vector<FeatureInfo> features() const;  // in activation order
    [[nodiscard]] std::optional<FeatureInfo> feature(std::string_view name) const;
    [[nodiscard]] bool is_enabled(std::string_view name) const;
    // All features, dependencies first (ties: higher priority, then name). Reverse it to
    // deactivate.
    Result<std::vector<std::string>> activation_order() const;
    [[nodiscard]] FeatureCost active_cost() const;

private:
    struct Entry {
        FeatureSpec spec;
        ApplyHook hook;
        bool enabled = false;
        bool synced = false;  // the kernel is known to follow `enabled`
        Actor changed_by = Actor::user;
    };
    struct Change {
        std::string name;
        bool old_enabled;
        bool old_synced;
        Actor old_actor;
    };

    Status validate_locked() const;
    Result<std::vector<std::string>> order_locked() const;
    std::optional<ConfigProblem> check_config_locked(const std::map<std::string, bool>& desired,
                                                            std::map<std::string, bool, std::less<>>& target,
                                                            std::vector<std::string>& order) const;
    std::vector<std::string> dependents_locked(const std::string& name) const;
    Entry* find(std::string_view name);
    const Entry* find(std::string_view name) const;
    FeatureInfo info_locked(const Entry& e) const;
    // Sets the state, calling the hook when there is one; records the change for rollback.
    Status apply_locked(Entry& e, bool enabled, Actor actor, std::vector<Change>& changes);
    // Undoes `changes` newest first; the original error gets the rollback failures as detail.
    Error rollback_locked(std::vector<Change>& changes, Error err);

    mutable std::mutex mu_;
    std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace flywall
