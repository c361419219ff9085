// TcPolicyStore: the registry of the TC classifier's QoS rules and IPS patterns, by name, with
// the ids the kernel table and the ips_* events use. It keeps the entries the configuration put
// there apart from the ones the API added:
//
//   * sync_config() (start and reload) replaces or removes the previous config's entries; an
//     API entry of a name the config does not use stays. A config entry takes over an API entry
//     of the same name.
//   * add_*() from the API adds, or replaces in place an entry of the same name (which then
//     belongs to the API).
//   * IPS ids are allocated from 1 upwards and never reused while the store lives; a replaced
//     pattern gets a new id, written before the old one is removed (no gap in coverage).
//
// Where the entries go is an interface (TcPolicyTarget) so the registry is tested without a
// kernel; TcClassifierTarget is the real one. Without a target (the TC classifier did not load)
// every operation fails with ENODEV, and sync_config() with ENOTSUP when the config has entries.
//
// Thread-safety and lock order: every public member takes the store's own mutex and holds it
// while it writes the target (TcClassifier is not thread-safe: this store is the only writer of
// its QoS and IPS tables). The store never calls out to anything but its target, so callers may
// hold their own locks while calling in: Manager::mu_ -> TcPolicyStore::mu_, never the reverse.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/tc_rules.hpp"
#include "runtime/tc_classifier.hpp"

namespace flywall {

// A QoS rule or IPS pattern by name, and who owns it.
struct NamedQosRule {
    config::QosRuleConfig rule;  // rule.name is the key
    bool from_config = false;
    bool operator==(const NamedQosRule&) const = default;
};
struct NamedIpsPattern {
    config::IpsPatternConfig pattern;  // pattern.name is the key
    std::uint32_t id = 0;              // the id in the kernel table and in ips_* events
    bool from_config = false;
};

// The TC classifier's forms of the configured rules.
QosRule to_qos_rule(const config::QosRuleConfig& r);
IpsPattern to_ips_pattern(const config::IpsPatternConfig& p, std::uint32_t id);

// What the store writes to: the TC classifier's QoS table and IPS pattern table.
class TcPolicyTarget {
public:
    virtual ~TcPolicyTarget() = default;
    // Replaces the whole QoS table (table order = match order).
    virtual Status set_qos_rules(const std::vector<QosRule>& rules) = 0;
    virtual Status add_ips_pattern(const IpsPattern& pattern) = 0;
    virtual Result<bool> remove_ips_pattern(std::uint32_t id) = 0;  // whether it existed
    virtual Result<fw_tc_stats> stats_total() const = 0;
};

// The real target. `tc` must outlive it (TcPolicyStore::detach() before the classifier goes).
class TcClassifierTarget final : public TcPolicyTarget {
public:
    explicit TcClassifierTarget(TcClassifier& tc) : tc_(tc) {}
    Status set_qos_rules(const std::vector<QosRule>& rules) override { return tc_.set_qos_rules(rules); }
    Status add_ips_pattern(const IpsPattern& pattern) override { return tc_.add_ips_pattern(pattern); }
    Result<bool> remove_ips_pattern(std::uint32_t id) override { return tc_.remove_ips_pattern(id); }
    Result<fw_tc_stats> stats_total() const override { return tc_.stats_total(); }

private:
    TcClassifier& tc_;
};

class TcPolicyStore {
public:
    TcPolicyStore() = default;
    TcPolicyStore(const TcPolicyStore&) = delete;
    TcPolicyStore& operator=(const TcPolicyStore&) = delete;

    // Gives the store its target (an empty table is assumed); detach() drops it and forgets the
    // entries (the table goes with the classifier).
    void attach(std::unique_ptr<TcPolicyTarget> target);
    void detach();
    [[nodiscard]] bool attached() const;

    // Makes the config-owned entries those of `rules` and `patterns` (see the header comment).
    // On a QoS write failure the previous QoS table stays; IPS patterns are applied one by one.
    Status sync_config(const std::vector<config::QosRuleConfig>& rules,
                       const std::vector<config::IpsPatternConfig>& patterns);

    Result<std::vector<NamedQosRule>> qos_rules() const;  // table order
    // Adds, or replaces a rule of the same name in place (it then belongs to the API).
    Status add_qos_rule(const config::QosRuleConfig& rule);
    Result<bool> remove_qos_rule(const std::string& name);  // whether it existed

    Result<std::vector<NamedIpsPattern>> ips_patterns() const;  // by name
    // Adds, or replaces a pattern of the same name; returns the id assigned to it.
    Result<std::uint32_t> add_ips_pattern(const config::IpsPatternConfig& pattern);
    Result<bool> remove_ips_pattern(const std::string& name);  // whether it existed

    Result<fw_tc_stats> tc_stats() const;

private:
    Status write_qos_locked();
    Result<std::uint32_t> add_ips_locked(const config::IpsPatternConfig& pattern, bool from_config);
    Status check_attached_locked() const;

    mutable std::mutex mu_;
    std::unique_ptr<TcPolicyTarget> target_;
    std::vector<NamedQosRule> qos_;  // table order
    std::map<std::string, NamedIpsPattern> ips_;
    std::uint32_t next_ips_id_ = 1;
};

}  // namespace flywall
