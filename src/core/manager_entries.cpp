// Manager: the list entries and who owns them. Config-owned entries follow the file (a reload
// touches only the difference; an entry an API write took over is not removed by it). API and
// learned entries go to the durable store (core/durable_entries.hpp) as well as to the kernel,
// so they come back after a restart, a crash or a reboot: the store is written first (an entry
// the API acknowledged is never lost), and an add the kernel then refuses is taken out again.
#include <spdlog/spdlog.h>

#include "core/manager.hpp"

namespace flywall {

Status Manager::restore_durable(const config::Config& cfg) {
    FW_TRY_ASSIGN(durable_, DurableEntries::open(cfg.state_dir));
    FW_TRY_ASSIGN(auto restored, durable_->load());
    if (!restored.ips.empty()) {
        auto n = lists_->add_bulk(restored.ips);
        if (!n.ok()) return std::move(n).error().wrap("restore IP entries from " + durable_->path());
    }
    if (!restored.domains.empty()) {
        auto n = domains_->add_many(restored.domains);
        if (!n.ok()) return std::move(n).error().wrap("restore domains from " + durable_->path());
    }
    // API-owned QoS rules and IPS patterns, after the config's (a name the config now uses stays
    // the config's). One that cannot be applied (no TC classifier, a bad row) is reported and
    // skipped: the rest of the datapath still starts.
    std::size_t policies = 0;
    for (const auto& p : restored.policies) {
        auto lr = config::load_string(p.hcl, durable_->path() + ":" + p.kind + ":" + p.name);
        Status st;
        if (!lr.ok()) {
            st = Error::invalid("stored " + p.kind + " '" + p.name + "' does not parse").with_detail(lr.error_text());
        } else if (p.kind == "qos" && lr.config().qos.rules.size() == 1) {
            if (!config_has_qos_rule(p.name)) st = tc_policy_.add_qos_rule(lr.config().qos.rules[0]);
        } else if (p.kind == "ips" && lr.config().ips.patterns.size() == 1) {
            if (!config_has_ips_pattern(p.name)) {
                auto id = tc_policy_.add_ips_pattern(lr.config().ips.patterns[0]);
                if (!id.ok()) st = std::move(id).error();
            }
        } else {
            st = Error::invalid("stored " + p.kind + " '" + p.name + "' is not one rule or pattern");
        }
        if (!st.ok()) {
            record_error(std::move(st).error().wrap("restore from " + durable_->path()));
            continue;
        }
        ++policies;
    }
    spdlog::info("flywall: restored {} IP and {} domain entries and {} QoS/IPS entries from {} ({} had expired)",
                 restored.ips.size(), restored.domains.size(), policies, durable_->path(), restored.expired);
    return {};
}

bool Manager::config_has_qos_rule(const std::string& name) const {
    for (const auto& r : cfg_.qos.rules)
        if (r.name == name) return true;
    return false;
}

bool Manager::config_has_ips_pattern(const std::string& name) const {
    for (const auto& p : cfg_.ips.patterns)
        if (p.name == name) return true;
    return false;
}

Status Manager::add_qos_rule(const config::QosRuleConfig& rule) {
    std::lock_guard lk(mu_);
    FW_TRY(tc_policy_.add_qos_rule(rule));
    if (durable_) {
        config::Config only;
        only.qos.rules = {rule};
        FW_TRY(durable_->put_policy("qos", rule.name, config::to_hcl(only)));
    }
    return {};
}

Result<bool> Manager::remove_qos_rule(const std::string& name) {
    std::lock_guard lk(mu_);
    FW_TRY_ASSIGN(bool existed, tc_policy_.remove_qos_rule(name));
    if (durable_) FW_TRY(durable_->drop_policy("qos", name));
    return existed;
}

Result<std::uint32_t> Manager::add_ips_pattern(const config::IpsPatternConfig& pattern) {
    std::lock_guard lk(mu_);
    FW_TRY_ASSIGN(std::uint32_t id, tc_policy_.add_ips_pattern(pattern));
    if (durable_) {
        config::Config only;
        only.ips.patterns = {pattern};
        FW_TRY(durable_->put_policy("ips", pattern.name, config::to_hcl(only)));
    }
    return id;
}

Result<bool> Manager::remove_ips_pattern(const std::string& name) {
    std::lock_guard lk(mu_);
    FW_TRY_ASSIGN(bool existed, tc_policy_.remove_ips_pattern(name));
    if (durable_) FW_TRY(durable_->drop_policy("ips", name));
    return existed;
}

Result<std::size_t> Manager::add_ips(std::vector<IpEntrySpec> entries) {
    std::lock_guard lk(mu_);
    if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
    for (auto& e : entries) e.source_id = 0;  // API entries are never removed by a reload
    if (durable_) FW_TRY(durable_->put_ips(entries));
    auto n = lists_->add_bulk(entries);
    if (!n.ok() && durable_) {
        for (IpListKind kind : {IpListKind::Block, IpListKind::Allow}) {
            std::vector<IpPrefix> ps;
            for (const auto& e : entries)
                if (e.list == kind) ps.push_back(e.prefix);
            if (auto st = durable_->drop_ips(ps, kind, 0u); !st.ok()) record_error(st.error());
        }
    }
    return n;
}

Result<std::size_t> Manager::remove_ips(const std::vector<IpEntrySpec>& entries) {
    std::lock_guard lk(mu_);
    if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
    std::size_t removed = 0;
    for (IpListKind kind : {IpListKind::Block, IpListKind::Allow}) {
        std::vector<IpPrefix> ps;
        for (const auto& e : entries)
            if (e.list == kind) ps.push_back(e.prefix);
        if (ps.empty()) continue;
        FW_TRY_ASSIGN(auto n, lists_->remove_bulk(ps, kind));
        removed += n;
        if (durable_) FW_TRY(durable_->drop_ips(ps, kind));
    }
    return removed;
}

Result<std::size_t> Manager::add_domains(const std::vector<std::pair<std::string, DomainAction>>& names,
                                         const std::vector<std::optional<std::chrono::seconds>>& ttls) {
    std::lock_guard lk(mu_);
    if (!domains_) return Error::from_errno(ENODEV, "domain table not loaded");
    const std::uint64_t now = monotonic_now_ns();
    std::vector<DomainRule> rules;
    for (std::size_t i = 0; i < names.size(); ++i) {
        DomainRule r{names[i].first, names[i].second, 0, 0};
        if (i < ttls.size() && ttls[i])
            r.expires_ns = now + static_cast<std::uint64_t>(ttls[i]->count()) * 1000000000ull;
        rules.push_back(std::move(r));
    }
    if (durable_) FW_TRY(durable_->put_domains(names, ttls));
    auto n = domains_->add_many(rules);
    if (!n.ok() && durable_) {
        std::vector<std::string> gone;
        for (const auto& [name, action] : names) gone.push_back(name);
        if (auto st = durable_->drop_domains(gone); !st.ok()) record_error(st.error());
    }
    return n;
}

Result<std::size_t> Manager::remove_domains(const std::vector<std::string>& names) {
    std::lock_guard lk(mu_);
    if (!domains_) return Error::from_errno(ENODEV, "domain table not loaded");
    std::size_t removed = 0;
    for (const auto& n : names) {
        FW_TRY_ASSIGN(bool existed, domains_->remove(n));
        removed += existed ? 1 : 0;
    }
    if (durable_) FW_TRY(durable_->drop_domains(names));
    return removed;
}

Status Manager::sync_config_lists(const std::set<ConfigIpEntry>& desired) {
    ListDiff d = diff_entries(config_entries_, desired);
    // Removals: only entries still owned by the config (an API write since then took them over).
    for (IpListKind kind : {IpListKind::Block, IpListKind::Allow}) {
        std::vector<IpPrefix> gone;
        for (const auto& e : d.to_remove) {
            if (e.list != kind) continue;
            FW_TRY_ASSIGN(auto cur, lists_->get(e.prefix, kind));
            if (cur && cur->source_id == kConfigSourceId) gone.push_back(e.prefix);
        }
        if (!gone.empty()) {
            auto r = lists_->remove_bulk(gone, kind);
            if (!r.ok()) return std::move(r).error().wrap("remove IP entries dropped from the configuration");
        }
    }
    std::vector<IpEntrySpec> specs;
    for (const auto& e : d.to_add) {
        IpEntrySpec s;
        s.prefix = e.prefix;
        s.list = e.list;
        s.dir = MatchDir::Src;
        s.source_id = kConfigSourceId;
        specs.push_back(s);
    }
    if (!specs.empty()) {
        auto r = lists_->add_bulk(specs);
        if (!r.ok()) return std::move(r).error().wrap("apply configured IP lists");
    }
    config_entries_ = desired;
    return {};
}

Status Manager::sync_config_domains(const std::set<std::string>& desired) {
    auto d = diff_sets(config_domains_, desired);
    for (const auto& name : d.to_remove) {
        FW_TRY_ASSIGN(auto cur, domains_->lookup(name));
        if (cur && cur->source_id == kConfigSourceId) {
            auto r = domains_->remove(name);
            if (!r.ok()) return std::move(r).error().wrap("remove domain dropped from the configuration");
        }
    }
    std::vector<DomainRule> rules;
    for (const auto& name : d.to_add) rules.push_back(DomainRule{name, DomainAction::Global, 0, kConfigSourceId});
    if (!rules.empty()) {
        auto r = domains_->add_many(rules);
        if (!r.ok()) return std::move(r).error().wrap("apply configured domains");
    }
    config_domains_ = desired;
    return {};
}

}  // namespace flywall
