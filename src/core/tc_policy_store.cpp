#include "core/tc_policy_store.hpp"

#include <algorithm>
#include <set>

namespace flywall {

QosRule to_qos_rule(const config::QosRuleConfig& r) {
    QosRule q;
    q.proto = r.proto;
    if (r.sport) q.sport = PortRange{r.sport->lo, r.sport->hi};
    if (r.dport) q.dport = PortRange{r.dport->lo, r.dport->hi};
    q.dscp = r.dscp;
    q.classid = r.classid;
    q.priority = r.priority;
    q.set_dscp = r.set_dscp;
    return q;
}

IpsPattern to_ips_pattern(const config::IpsPatternConfig& p, std::uint32_t id) {
    IpsPattern out;
    out.id = id;
    out.bytes = p.bytes;
    out.action = p.action == config::IpsActionConfig::Drop ? IpsAction::Drop : IpsAction::Alert;
    out.proto = p.proto;
    out.port = p.port;
    return out;
}

void TcPolicyStore::attach(std::unique_ptr<TcPolicyTarget> target) {
    std::lock_guard lk(mu_);
    target_ = std::move(target);
}

void TcPolicyStore::detach() {
    std::lock_guard lk(mu_);
    target_.reset();
    qos_.clear();
    ips_.clear();
}

bool TcPolicyStore::attached() const {
    std::lock_guard lk(mu_);
    return target_ != nullptr;
}

Status TcPolicyStore::check_attached_locked() const {
    if (!target_) return Error::from_errno(ENODEV, "TC classifier not loaded");
    return {};
}

Status TcPolicyStore::write_qos_locked() {
    std::vector<QosRule> rules;
    for (const auto& q : qos_) rules.push_back(to_qos_rule(q.rule));
    return target_->set_qos_rules(rules);
}

Status TcPolicyStore::sync_config(const std::vector<config::QosRuleConfig>& config_rules,
                                  const std::vector<config::IpsPatternConfig>& config_patterns) {
    std::lock_guard lk(mu_);
    if (!target_) {
        if (config_rules.empty() && config_patterns.empty()) return {};
        return Error::from_errno(ENOTSUP, "QoS rules and IPS patterns are configured but the TC classifier did not load");
    }
    // QoS: the config's rules first (in config order), then the API's of names the config does
    // not use (in their current order).
    std::vector<NamedQosRule> rules;
    std::set<std::string> names;
    for (const auto& r : config_rules) {
        rules.push_back(NamedQosRule{r, true});
        names.insert(r.name);
    }
    for (const auto& r : qos_)
        if (!r.from_config && !names.count(r.rule.name)) rules.push_back(r);
    if (rules != qos_) {
        auto prev = std::move(qos_);
        qos_ = std::move(rules);
        if (auto st = write_qos_locked(); !st.ok()) {
            qos_ = std::move(prev);
            return std::move(st).error().wrap("apply configured QoS rules");
        }
    }
    // IPS: drop the previous config's patterns the new one does not name, then add or replace
    // the config's (an unchanged config pattern keeps its id).
    std::map<std::string, const config::IpsPatternConfig*> want;
    for (const auto& p : config_patterns) want[p.name] = &p;
    for (auto it = ips_.begin(); it != ips_.end();) {
        if (!it->second.from_config || want.count(it->first)) {
            ++it;
            continue;
        }
        auto r = target_->remove_ips_pattern(it->second.id);
        if (!r.ok()) return std::move(r).error().wrap("remove IPS pattern \"" + it->first + "\" dropped from the configuration");
        it = ips_.erase(it);
    }
    for (const auto& [name, p] : want) {
        auto it = ips_.find(name);
        if (it != ips_.end() && it->second.from_config && it->second.pattern == *p) continue;
        auto r = add_ips_locked(*p, true);
        if (!r.ok()) return std::move(r).error().wrap("apply configured IPS pattern \"" + name + "\"");
    }
    return {};
}

Result<std::vector<NamedQosRule>> TcPolicyStore::qos_rules() const {
    std::lock_guard lk(mu_);
    FW_TRY(check_attached_locked());
    return qos_;
}

Status TcPolicyStore::add_qos_rule(const config::QosRuleConfig& rule) {
    std::lock_guard lk(mu_);
    FW_TRY(check_attached_locked());
    const auto prev = qos_;
    auto it = std::find_if(qos_.begin(), qos_.end(), [&](const NamedQosRule& q) { return q.rule.name == rule.name; });
    if (it != qos_.end()) *it = NamedQosRule{rule, false};
    else qos_.push_back(NamedQosRule{rule, false});
    if (auto st = write_qos_locked(); !st.ok()) {
        qos_ = prev;
        return std::move(st).error().wrap("QoS rule \"" + rule.name + "\"");
    }
    return {};
}

Result<bool> TcPolicyStore::remove_qos_rule(const std::string& name) {
    std::lock_guard lk(mu_);
    FW_TRY(check_attached_locked());
    auto it = std::find_if(qos_.begin(), qos_.end(), [&](const NamedQosRule& q) { return q.rule.name == name; });
    if (it == qos_.end()) return false;
    const auto prev = qos_;
    qos_.erase(it);
    if (auto st = write_qos_locked(); !st.ok()) {
        qos_ = prev;
        return std::move(st).error().wrap("remove QoS rule \"" + name + "\"");
    }
    return true;
}

Result<std::vector<NamedIpsPattern>> TcPolicyStore::ips_patterns() const {
    std::lock_guard lk(mu_);
    FW_TRY(check_attached_locked());
    std::vector<NamedIpsPattern> out;
    for (const auto& [_, p] : ips_) out.push_back(p);
    return out;
}

Result<std::uint32_t> TcPolicyStore::add_ips_locked(const config::IpsPatternConfig& pattern, bool from_config) {
    FW_TRY(check_attached_locked());
    const std::uint32_t id = next_ips_id_;
    FW_TRY(target_->add_ips_pattern(to_ips_pattern(pattern, id)));
    ++next_ips_id_;
    // A pattern of the same name is replaced once the new one is in (no gap in coverage).
    if (auto it = ips_.find(pattern.name); it != ips_.end()) {
        auto r = target_->remove_ips_pattern(it->second.id);
        if (!r.ok()) {
            (void)target_->remove_ips_pattern(id);
            return std::move(r).error().wrap("replace IPS pattern \"" + pattern.name + "\"");
        }
    }
    ips_[pattern.name] = NamedIpsPattern{pattern, id, from_config};
    return id;
}

Result<std::uint32_t> TcPolicyStore::add_ips_pattern(const config::IpsPatternConfig& pattern) {
    std::lock_guard lk(mu_);
    return add_ips_locked(pattern, false);
}

Result<bool> TcPolicyStore::remove_ips_pattern(const std::string& name) {
    std::lock_guard lk(mu_);
    FW_TRY(check_attached_locked());
    auto it = ips_.find(name);
    if (it == ips_.end()) return false;
    FW_TRY(target_->remove_ips_pattern(it->second.id));
    ips_.erase(it);
    return true;
}

Result<fw_tc_stats> TcPolicyStore::tc_stats() const {
    std::lock_guard lk(mu_);
    FW_TRY(check_attached_locked());
    return target_->stats_total();
}

}  // namespace flywall
