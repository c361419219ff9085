// Manager: reload as one transaction. Everything that can be checked is checked before anything
// changes; then each step (settings, features, IP lists, domains, TC policy, governor, learning,
// interfaces) runs and leaves an undo behind. When a step fails, the undos run in reverse order,
// so the running state (kernel maps, hooks, feature bits, what the API answers) is the old one
// again, and the error says which step failed. fail_reload_at() injects a failure before a step
// (tests: ManagerReload.*).
#include <spdlog/spdlog.h>

#include <functional>
#include <map>

#include "core/datapath_settings.hpp"
#include "core/feature_check.hpp"
#include "core/manager.hpp"

namespace flywall {

const std::vector<std::string>& Manager::reload_steps() {
    static const std::vector<std::string> steps{"settings", "features",  "ip_lists", "domains", "tc_policy",
                                                "governor", "learning", "interfaces", "commit"};
    return steps;
}

void Manager::fail_reload_at(std::string step) {
    std::lock_guard lk(mu_);
    reload_fault_ = std::move(step);
}

Status Manager::reload() {
    config::LoadResult lr = config_source_.empty() ? config::load_default() : config::load_file(config_source_);
    std::optional<config::Diagnostic> graph = lr.ok() ? feature_graph_problem(lr) : std::nullopt;
    if (!lr.ok() || graph) {
        Error e = Error::invalid("reload: invalid configuration " +
                                 (config_source_.empty() ? std::string("(built-in)") : config_source_))
                      .with_detail(graph ? graph->to_string() : lr.error_text());
        record_error(e);
        std::lock_guard lk(err_mu_);
        ++reload_failures_;
        return e;
    }
    return apply_config(lr.config());
}

// Detaches the interfaces of `prev` that `next` drops or changes and attaches those `next` adds
// or changes. On a failure it puts back what it changed before returning the error.
Status Manager::switch_interfaces(const config::Config& prev, const config::Config& next) {
    std::map<std::string, config::InterfaceConfig> want, had;
    if (next.ebpf.enabled)
        for (const auto& i : next.interfaces) want[i.name] = i;
    if (prev.ebpf.enabled)
        for (const auto& i : prev.interfaces) had[i.name] = i;
    std::vector<config::InterfaceConfig> detached, attached;
    auto undo = [&] {
        for (const auto& i : attached) (void)detach_interface(i.name);
        for (const auto& i : detached)
            if (auto s = attach_interface(i, Takeover::Never); !s.ok()) record_error(std::move(s).error().wrap("rollback: re-attach"));
    };
    for (const auto& [name, i] : had) {
        auto w = want.find(name);
        if (w != want.end() && w->second == i && iface_hooks_.count(name)) continue;
        if (!iface_hooks_.count(name)) continue;  // never attached (a failed earlier attach)
        if (auto s = detach_interface(name); !s.ok()) {
            undo();
            return std::move(s).error();
        }
        detached.push_back(i);
    }
    for (const auto& [name, i] : want) {
        if (iface_hooks_.count(name)) continue;
        // No takeover on reload: orphans exist only before the first start (and the daemon
        // may have dropped the capabilities that telling them apart needs).
        if (auto s = attach_interface(i, Takeover::Never); !s.ok()) {
            undo();
            return std::move(s).error();
        }
        attached.push_back(i);
    }
    // Socket monitors follow the interfaces of the new config.
    if (auto s = sockets_.reconcile(); !s.ok()) {
        undo();
        (void)sockets_.reconcile();
        return std::move(s).error();
    }
    return {};
}

Status Manager::apply_config(const config::Config& next) {
    std::lock_guard lk(mu_);
    auto fail = [this](Error e) -> Status {
        record_error(e);
        std::lock_guard elk(err_mu_);
        ++reload_failures_;
        return e;
    };
    if (next.blocklist.exact_capacity != cfg_.blocklist.exact_capacity)
        return fail(Error::invalid("reload: blocklist.exact_capacity cannot change while running (" +
                                   std::to_string(cfg_.blocklist.exact_capacity) + " -> " +
                                   std::to_string(next.blocklist.exact_capacity) +
                                   "); it sizes preallocated tables: restart the daemon"));
    if (next.state_dir != cfg_.state_dir)
        return fail(Error::invalid("reload: state_dir cannot change while running (" + cfg_.state_dir + " -> " +
                                   next.state_dir + "); restart the daemon"));
    if (next.pin_path != cfg_.pin_path)
        return fail(Error::invalid("reload: pin_path cannot change while running (" + cfg_.pin_path + " -> " +
                                   next.pin_path + "); restart the daemon"));
    // Everything that can be checked is checked before anything changes.
    auto entries = config_ip_entries(next.blocklist);
    if (!entries.ok()) return fail(std::move(entries).error().wrap("reload"));
    auto domains = config_domains(next.blocklist);
    if (!domains.ok()) return fail(std::move(domains).error().wrap("reload"));

    const config::Config prev = cfg_;
    const std::set<ConfigIpEntry> prev_entries = config_entries_;
    const std::set<std::string> prev_domains = config_domains_;
    std::map<std::string, bool> prev_features;
    for (const auto& f : coordinator_.features()) prev_features[f.name] = f.enabled;

    std::vector<std::pair<std::string, std::function<Status()>>> undo;
    auto rollback = [&](const std::string& step, Error e) -> Status {
        for (auto it = undo.rbegin(); it != undo.rend(); ++it)
            if (auto s = it->second(); !s.ok()) record_error(std::move(s).error().wrap("reload rollback of " + it->first));
        return fail(std::move(e).wrap("reload failed at step " + step + ", the running configuration is unchanged"));
    };
    using Step = std::pair<std::function<Status()>, std::function<Status()>>;
    const std::vector<std::pair<std::string, Step>> steps{
        {"settings",
         {[&] {
              set_config(next);
              if (tc_) apply_tc_settings(next, tc_->config());
              return apply_settings(next, xdp_->config());
          },
          [&]() -> Status {
              set_config(prev);
              if (tc_) apply_tc_settings(prev, tc_->config());
              FW_TRY(apply_settings(prev, xdp_->config()));
              resync_feature_bits();  // the bindings of the old config again
              return {};
          }}},
        {"features",
         {[&]() -> Status {
              FW_TRY(coordinator_.configure(next.ebpf.features));  // rolls its own changes back on failure
              resync_feature_bits();  // bindings depend on the config (trusted offload, rate_limit.enabled)
              return {};
          },
          [&]() -> Status {
              FW_TRY(coordinator_.configure(prev_features));
              resync_feature_bits();
              return {};
          }}},
        {"ip_lists", {[&] { return sync_config_lists(*entries); }, [&] { return sync_config_lists(prev_entries); }}},
        {"domains", {[&] { return sync_config_domains(*domains); }, [&] { return sync_config_domains(prev_domains); }}},
        {"tc_policy",
         {[&] { return tc_policy_.sync_config(next.qos.rules, next.ips.patterns); },
          [&] { return tc_policy_.sync_config(prev.qos.rules, prev.ips.patterns); }}},
        {"governor", {[&] { return configure_governor(next); }, [&] { return configure_governor(prev); }}},
        {"learning", {[&] { return configure_learning(next); }, [&] { return configure_learning(prev); }}},
        {"interfaces", {[&] { return switch_interfaces(prev, next); }, [&] { return switch_interfaces(next, prev); }}},
    };
    for (const auto& [name, step] : steps) {
        if (reload_fault_ == name) return rollback(name, Error::from_errno(EIO, "injected failure (fail_reload_at)"));
        if (auto s = step.first(); !s.ok()) {
            // A step that failed undoes its own partial work where it can (the lists and the
            // coordinator are all-or-nothing); its undo runs too, to be sure.
            if (auto u = step.second(); !u.ok()) record_error(std::move(u).error().wrap("reload rollback of " + name));
            return rollback(name, std::move(s).error());
        }
        undo.emplace_back(name, step.second);
    }
    if (reload_fault_ == "commit") return rollback("commit", Error::from_errno(EIO, "injected failure (fail_reload_at)"));
    apply_sampling(governor_->sampling_rate());
    {
        std::lock_guard elk(err_mu_);
        ++reloads_;
    }
    spdlog::info("flywall: configuration reloaded from {}", config_source_.empty() ? "(built-in)" : config_source_);
    return {};
}

}  // namespace flywall
