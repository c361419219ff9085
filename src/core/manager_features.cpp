// Manager: the feature switchboard. Registers the coordinator's features with apply hooks that
// flip the programs' feature bits, keeps those bits in step with the config (resync), and wires
// the governor (shedding, sampling).
#include <spdlog/spdlog.h>

#include "core/datapath_settings.hpp"
#include "core/manager.hpp"

namespace flywall {

Status Manager::register_features() {
    FW_TRY(coordinator_.register_builtin_features());
    for (const auto& f : coordinator_.features()) {
        const std::string name = f.name;
        FW_TRY(coordinator_.set_apply_hook(name, [this, name](bool enabled) -> Status {
            if (name == "learning_engine") FW_TRY(set_learning_enabled(enabled));  // and its event bits below
            if (auto monitor = socket_monitor_feature(name)) {
                auto st = sockets_.set_wanted(*monitor, enabled);
                if (!st.ok()) return std::move(st).error().wrap("feature \"" + name + "\"");
                return {};
            }
            // Under reload the new config is in place before features are applied.
            FeatureBinding b = [&] {
                std::lock_guard lk(bind_mu_);
                return feature_binding(name, bind_cfg_);
            }();
            if (!b.implemented || (b.needs_tc && !tc_)) {
                if (!enabled) return {};
                return Error::from_errno(ENOTSUP, "feature \"" + name + "\" has no kernel program in this " +
                                                      (b.implemented ? "daemon (the TC classifier did not load)" : "build"));
            }
            // Bits are the union over the applied features (two may share one: learning_engine
            // needs the events the events feature also sends), never one feature's own toggle.
            std::lock_guard lk(bind_mu_);
            applied_[name] = enabled;
            write_feature_bits_locked();
            return {};
        }));
    }
    return {};
}

Status Manager::configure_governor(const config::Config& cfg) {
    GovernorConfig g;
    const auto& p = cfg.ebpf.performance;
    const auto& a = cfg.ebpf.adaptive;
    g.enabled = a.enabled;
    g.max_cpu_percent = p.max_cpu_percent;
    g.max_memory_mb = static_cast<double>(p.max_memory_mb);
    g.max_events_per_sec = static_cast<double>(p.max_events_per_sec);
    g.max_pps = static_cast<double>(p.max_pps);
    g.scale_back_threshold = a.scale_back_threshold > 0 ? a.scale_back_threshold : 80;
    // The governor needs a rate strictly inside (0, 1).
    g.scale_back_rate = std::clamp(a.scale_back_rate, 0.01, 0.99);
    g.minimum_features = a.minimum_features;
    g.hysteresis_gap = std::min(g.hysteresis_gap, g.scale_back_threshold / 2);
    return governor_->configure(g);
}

void Manager::apply_sampling(double rate) {
    // Called by the governor (under its lock) and after a reload: the governor's reduction
    // comes on top of the configured flow sampling.
    const std::uint32_t gov_shift = sampling_shift(rate);
    auto& c = xdp_->config();
    const std::uint32_t base = sampling_shift(cfg_.flows.sample_rate);
    __atomic_store_n(&c.event_sample_shift, gov_shift, __ATOMIC_SEQ_CST);
    __atomic_store_n(&c.flow_sample_shift, std::min<std::uint32_t>(31, base + gov_shift), __ATOMIC_SEQ_CST);
}

void Manager::set_config(const config::Config& c) {
    cfg_ = c;
    {
        std::lock_guard lk(bind_mu_);
        bind_cfg_ = c;
    }
    // The socket monitors follow the configured interfaces (applied at their next reconcile).
    std::vector<std::string> ifaces;
    if (c.ebpf.enabled)
        for (const auto& i : c.interfaces) ifaces.push_back(i.name);
    sockets_.set_interfaces(std::move(ifaces));
}

void Manager::resync_feature_bits() {
    const auto features = coordinator_.features();
    std::lock_guard lk(bind_mu_);
    for (const auto& f : features) applied_[f.name] = f.enabled;
    write_feature_bits_locked();
}

void Manager::write_feature_bits_locked() {
    // Managed: every bit some feature may set (with the config that sets the most); the rest of
    // the word (none today) is left alone.
    config::Config all_on = bind_cfg_;
    all_on.rate_limit.enabled = true;
    all_on.flows.trusted_after_packets = 1;
    std::uint32_t managed = 0, want = 0, tc_managed = 0, tc_want = 0;
    for (const auto& [name, on] : applied_) {
        const FeatureBinding all = feature_binding(name, all_on);
        const FeatureBinding b = feature_binding(name, bind_cfg_);
        managed |= all.bits;
        tc_managed |= all.tc_bits;
        if (on) {
            want |= b.bits;
            tc_want |= b.tc_bits;
        }
    }
    const auto store = [](std::uint32_t* word, std::uint32_t mask, std::uint32_t bits) {
        std::uint32_t cur = __atomic_load_n(word, __ATOMIC_SEQ_CST);
        while (!__atomic_compare_exchange_n(word, &cur, (cur & ~mask) | bits, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        }
    };
    store(&xdp_->config().features, managed, want);
    if (tc_) store(&tc_->config().features, tc_managed, tc_want);
    bump_policy_generation(xdp_->config());
}

Result<std::vector<std::string>> Manager::set_feature(const std::string& name, bool enable, bool force) {
    if (enable) {
        FW_TRY(coordinator_.enable(name, Actor::user));
        return std::vector<std::string>{name};
    }
    return coordinator_.disable(name, force, Actor::user);
}

}  // namespace flywall
