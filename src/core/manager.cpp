#include "core/manager.hpp"

#include "core/feature_check.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <set>

#include "core/datapath_settings.hpp"

namespace flywall {

namespace {

constexpr std::size_t kMaxErrors = 16;
constexpr HookId kSocketHookIdBase = HookId{1} << 32;

XdpMode hook_mode(config::XdpMode m) {
    switch (m) {
        case config::XdpMode::Native: return XdpMode::Native;
        case config::XdpMode::Generic: return XdpMode::Generic;
        case config::XdpMode::Offload: return XdpMode::Offload;
        case config::XdpMode::Auto: break;
    }
    return XdpMode::Auto;
}

// Counts a map's keys without knowing its types.
Result<std::uint64_t> count_keys(int fd, std::uint32_t key_size) {
    std::vector<std::uint8_t> cur(std::max<std::uint32_t>(key_size, 1)), next(cur.size());
    std::uint64_t n = 0;
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data()) == 0) {
        ++n;
        cur.swap(next);
        first = false;
    }
    if (errno != ENOENT) return Error::from_errno(errno, "count map entries");
    return n;
}

}  // namespace

Result<std::unique_ptr<Manager>> Manager::start(config::Config cfg, std::string config_source) {
    std::unique_ptr<Manager> m(new Manager());
    m->config_source_ = std::move(config_source);
    m->started_ = std::chrono::steady_clock::now();
    auto st = m->init(std::move(cfg));
    if (!st.ok()) {
        m->stop();  // undo whatever was done before the failure
        return std::move(st).error();
    }
    return m;
}

Manager::~Manager() { stop(); }

Status Manager::init(config::Config cfg) {
    // Lock the pin directory first: a second instance fails before loading anything.
    {
        auto pins = PinDir::acquire(cfg.pin_path);
        if (!pins.ok()) return std::move(pins).error();
        pins_.emplace(std::move(*pins));
    }
    {
        // Fast tables: two slots per configured exact entry (a power of two), so the memory
        // the program preallocates follows blocklist.exact_capacity.
        XdpLoadOptions load_opts;
        const uint64_t slots = std::bit_ceil(std::max<uint64_t>(2 * cfg.blocklist.exact_capacity, 1ull << FW_FT_MIN_BITS));
        load_opts.ft_slots4 = load_opts.ft_slots6 = static_cast<uint32_t>(std::min<uint64_t>(slots, 1ull << FW_FT_MAX_BITS));
        auto xdp = XdpFastPath::load(load_opts);
        if (!xdp.ok()) return std::move(xdp).error();
        xdp_.emplace(std::move(*xdp));
    }
    FW_TRY(pins_->pin_object(xdp_->object()));
    {
        // The TC classifier (flows, QoS, inline IPS). Without it the XDP fast path still
        // runs; features that need it then refuse to turn on, and health says why.
        auto tc = TcClassifier::load();
        if (tc.ok()) {
            tc_.emplace(std::move(*tc));
            tc_->config().features = 0;  // the coordinator turns features on
            FW_TRY(pins_->pin_object(tc_->object()));
            tc_policy_.attach(std::make_unique<TcClassifierTarget>(*tc_));
        } else {
            record_error(std::move(tc).error().wrap("TC classifier not loaded"));
        }
    }

    {
        // Socket monitors (DNS, TLS, DHCP/ARP): loaded now, attached only while socket_filters
        // and the monitor's own feature are on. Without them the rest of the daemon runs.
        if (auto st = sockets_.load(); !st.ok()) record_error(std::move(st).error().wrap("socket monitors not loaded"));
    }

    // Features off in the kernel until the coordinator turns them on; settings first, so a
    // feature never runs with stale limits.
    xdp_->config().features = 0;
    FW_TRY(apply_settings(cfg, xdp_->config()));
    set_config(cfg);  // the feature hooks read the bindings of this config
    lists_.emplace(*xdp_);
    domains_.emplace(DomainBlocklist::of(*xdp_));
    flows_.emplace(FlowTable::of(*xdp_));
    init_learning();  // before the features: the learning_engine hook switches it
    FW_TRY(configure_learning(cfg));
    FW_TRY(register_features());
    FW_TRY(coordinator_.configure(cfg.ebpf.features));

    FW_TRY_ASSIGN(auto entries, config_ip_entries(cfg.blocklist));
    FW_TRY(sync_config_lists(entries));
    FW_TRY_ASSIGN(auto domains, config_domains(cfg.blocklist));
    FW_TRY(sync_config_domains(domains));
    FW_TRY(tc_policy_.sync_config(cfg.qos.rules, cfg.ips.patterns));

    // Events: every ring buffer of the loaded programs, found by type.
    std::vector<RingBufferSource::Ring> rings;
    bpf_map* map;
    bpf_object__for_each_map(map, xdp_->object()) {
        if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF) rings.push_back({bpf_map__fd(map), RecordKind::Xdp});
    }
    if (tc_) rings.push_back({tc_->events_fd(), RecordKind::Tc});
    FW_TRY_ASSIGN(auto source, RingBufferSource::create(rings));
    events_ = std::make_unique<EventProcessor>(std::move(source));
    FW_TRY(events_->start());
    start_learning_runner();
    if (cfg.events.log_file) {
        FW_TRY_ASSIGN(event_log_, JsonLinesLog::open(*events_, *cfg.events.log_file));
    }
    sockets_.start([this](const Event& e) { events_->publish(e); });

    load_ = std::make_unique<DatapathLoad>(
        DatapathLoad::Inputs{
            [this] { return self_timing_unlocked(); },
            [this] {
                std::uint64_t total = 0;
                for (const auto& m : all_maps()) {
                    auto info = m.info();
                    if (info.ok()) total += info->memlock_bytes;
                }
                return total;
            },
            [this] { return events_ ? events_->stats().received : 0; }},
        clock_);
    governor_ = std::make_unique<Governor>(coordinator_, clock_, *load_);
    governor_->set_sampling_applier([this](double rate) -> Status {
        apply_sampling(rate);
        return {};
    });
    FW_TRY(configure_governor(cfg));

    if (cfg.ebpf.enabled) {
        for (const auto& iface : cfg.interfaces) FW_TRY(attach_interface(iface));
    }
    spdlog::info("flywall: xdp_blocklist loaded, pinned under {}, {} hook(s) attached", cfg.pin_path, hooks_.size());
    return {};
}

Status Manager::register_features() {
    FW_TRY(coordinator_.register_builtin_features());
    for (const auto& f : coordinator_.features()) {
        const std::string name = f.name;
        FW_TRY(coordinator_.set_apply_hook(name, [this, name](bool enabled) -> Status {
            if (name == "learning_engine") return set_learning_enabled(enabled);  // user space only
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
            auto* features = &xdp_->config().features;
            if (enabled) __atomic_fetch_or(features, b.bits, __ATOMIC_SEQ_CST);
            else __atomic_fetch_and(features, ~b.bits, __ATOMIC_SEQ_CST);
            if (tc_ && b.tc_bits) {
                auto* tcf = &tc_->config().features;
                if (enabled) __atomic_fetch_or(tcf, b.tc_bits, __ATOMIC_SEQ_CST);
                else __atomic_fetch_and(tcf, ~b.tc_bits, __ATOMIC_SEQ_CST);
            }
            bump_policy_generation(xdp_->config());
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

std::vector<int> Manager::program_fds() const {
    std::vector<int> fds;
    if (xdp_) fds.push_back(xdp_->prog_fd());
    if (tc_) fds.push_back(tc_->prog_fd());
    return fds;
}

std::vector<MapRef> Manager::all_maps() const {
    std::vector<MapRef> maps;
    if (xdp_) maps = xdp_->all_maps();
    if (tc_)
        for (auto& m : tc_->all_maps()) maps.push_back(std::move(m));
    return maps;
}

Status Manager::attach_interface(const config::InterfaceConfig& iface) {
    // Takeover: a previous instance's program (left by SIGKILL, or by SIGTERM with
    // detach_on_exit = false) is replaced in one step; our lists are already in the maps.
    auto r = hooks_.attach_xdp(xdp_->prog_fd(), iface.name, hook_mode(iface.xdp_mode), Takeover::Orphaned);
    if (!r.ok()) return std::move(r).error().wrap("attach xdp_blocklist to " + iface.name);
    iface_hooks_[iface.name].push_back(r->id);
    if (iface.tc) {
        if (!tc_) {
            (void)detach_interface(iface.name);
            return Error::from_errno(ENOTSUP, "interface " + iface.name + " asks for tc = true, but the TC classifier did not load");
        }
        for (TcDirection dir : {TcDirection::Ingress, TcDirection::Egress}) {
            auto t = hooks_.attach_tc(tc_->prog_fd(), iface.name, dir,
                                      TcOptions{kTcClassifierPriority, kTcClassifierHandle, Takeover::Orphaned});
            if (!t.ok()) {
                (void)detach_interface(iface.name);
                return std::move(t).error().wrap(std::string("attach tc_classifier to ") + iface.name +
                                                 (dir == TcDirection::Ingress ? " ingress" : " egress"));
            }
            iface_hooks_[iface.name].push_back(t->id);
        }
    }
    spdlog::info("flywall: xdp_blocklist attached to {} in {} mode{}{}", iface.name, to_string(r->obtained),
                 r->fallback_reason.empty() ? "" : " (", r->fallback_reason.empty() ? "" : r->fallback_reason + ")");
    return {};
}

Status Manager::detach_interface(const std::string& name) {
    auto it = iface_hooks_.find(name);
    if (it == iface_hooks_.end()) return {};
    Status first;
    for (HookId id : it->second) {
        auto r = hooks_.detach(id);
        if (!r.ok() && first.ok()) first = std::move(r).error();
    }
    iface_hooks_.erase(it);
    return first;
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
    std::uint32_t managed = 0, want = 0;
    for (const auto& f : coordinator_.features()) {
        config::Config all_on = cfg_;
        all_on.rate_limit.enabled = true;
        all_on.flows.trusted_after_packets = 1;
        managed |= feature_binding(f.name, all_on).bits;
        if (f.enabled) want |= feature_binding(f.name, cfg_).bits;
    }
    auto* features = &xdp_->config().features;
    std::uint32_t cur = __atomic_load_n(features, __ATOMIC_SEQ_CST);
    while (!__atomic_compare_exchange_n(features, &cur, (cur & ~managed) | want, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
    }
    bump_policy_generation(xdp_->config());
    // The TC bits do not depend on the config; the apply hooks keep them in step.
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
    if (next.pin_path != cfg_.pin_path)
        return fail(Error::invalid("reload: pin_path cannot change while running (" + cfg_.pin_path + " -> " +
                                   next.pin_path + "); restart the daemon"));
    // Everything that can be checked is checked before anything changes.
    auto entries = config_ip_entries(next.blocklist);
    if (!entries.ok()) return fail(std::move(entries).error().wrap("reload"));
    auto domains = config_domains(next.blocklist);
    if (!domains.ok()) return fail(std::move(domains).error().wrap("reload"));

    const config::Config prev = cfg_;
    set_config(next);
    if (auto s = apply_settings(next, xdp_->config()); !s.ok()) {
        set_config(prev);
        return fail(std::move(s).error().wrap("reload"));
    }
    auto st = coordinator_.configure(next.ebpf.features);
    if (!st.ok()) {  // the coordinator rolled its own changes back
        set_config(prev);
        (void)apply_settings(prev, xdp_->config());
        return fail(std::move(st).error().wrap("reload"));
    }
    // Bindings depend on the config (trusted offload, rate_limit.enabled).
    resync_feature_bits();
    if (auto s = sync_config_lists(*entries); !s.ok()) return fail(std::move(s).error().wrap("reload"));
    if (auto s = sync_config_domains(*domains); !s.ok()) return fail(std::move(s).error().wrap("reload"));
    if (auto s = tc_policy_.sync_config(next.qos.rules, next.ips.patterns); !s.ok())
        return fail(std::move(s).error().wrap("reload"));
    if (auto s = configure_governor(next); !s.ok()) return fail(std::move(s).error().wrap("reload"));
    if (auto s = configure_learning(next); !s.ok()) return fail(std::move(s).error().wrap("reload"));
    apply_sampling(governor_->sampling_rate());

    // Interfaces: detach those gone or changed, attach new or changed ones.
    std::map<std::string, config::InterfaceConfig> want, had;
    if (next.ebpf.enabled)
        for (const auto& i : next.interfaces) want[i.name] = i;
    if (prev.ebpf.enabled)
        for (const auto& i : prev.interfaces) had[i.name] = i;
    Status iface_err;
    for (const auto& [name, i] : had) {
        auto w = want.find(name);
        if (w == want.end() || !(w->second == i)) {
            if (auto s = detach_interface(name); !s.ok() && iface_err.ok()) iface_err = std::move(s).error();
        }
    }
    for (const auto& [name, i] : want) {
        auto h = had.find(name);
        if (h == had.end() || !(h->second == i) || !iface_hooks_.count(name)) {
            if (auto s = attach_interface(i); !s.ok() && iface_err.ok()) iface_err = std::move(s).error();
        }
    }
    // Socket monitors follow the interfaces of the new config.
    if (auto s = sockets_.reconcile(); !s.ok() && iface_err.ok()) iface_err = std::move(s).error();
    {
        std::lock_guard elk(err_mu_);
        ++reloads_;
    }
    if (!iface_err.ok()) {
        record_error(iface_err.error());
        return std::move(iface_err).error().wrap("reload applied, but");
    }
    spdlog::info("flywall: configuration reloaded from {}", config_source_.empty() ? "(built-in)" : config_source_);
    return {};
}

Status Manager::tick() {
    Status result;
    kernel_stats_.expire();
    if (governor_) {
        auto st = governor_->tick();
        if (!st.ok()) {
            record_error(st.error());
            result = std::move(st).error();
        }
    }
    tick_learning();  // without mu_: the engine's blocklist takes it
    std::lock_guard lk(mu_);
    if (lists_) {
        auto r = lists_->reap_expired();
        if (!r.ok()) {
            record_error(r.error());
            if (result.ok()) result = std::move(r).error();
        }
    }
    if (xdp_ && xdp_->watch_fast_clock(monotonic_ns()))
        spdlog::warn("flywall: the XDP program's millisecond clock had stopped; re-armed by the next packet");
    if (flows_ && coordinator_.is_enabled("flow_monitoring")) {
        auto r = flows_->expire_idle(cfg_.flows.idle_timeout_sec * 1000000000ull);
        if (!r.ok()) {
            record_error(r.error());
            if (result.ok()) result = std::move(r).error();
        }
    }
    return result;
}

void Manager::stop() {
    stop_learning();  // before mu_: the runner's thread may be waiting for it
    std::lock_guard lk(mu_);
    if (stopped_) return;
    stopped_ = true;
    sockets_.stop();
    if (event_log_) event_log_->stop();
    if (events_) events_->stop();
    // detach_on_exit = false: the programs stay attached on their maps (and pins) until the next
    // instance replaces them or `flywall stop --detach` removes them.
    const bool detach = cfg_.detach_on_exit;
    if (!detach)
        hooks_.leave_attached();
    else if (auto st = hooks_.detach_all(); !st.ok())
        spdlog::warn("flywall: detach: {}", st.error().message());
    iface_hooks_.clear();
    event_log_.reset();
    governor_.reset();
    load_.reset();
    lists_.reset();
    tc_policy_.detach();
    tc_.reset();
    domains_.reset();
    flows_.reset();
    kernel_stats_.close();
    if (pins_ && detach) pins_->unpin_all();
    if (pins_ && !detach) pins_->keep_pins();
    xdp_.reset();
    pins_.reset();
}

void Manager::record_error(const Error& e) {
    spdlog::error("flywall: {}", e.message());
    std::lock_guard lk(err_mu_);
    last_errors_.insert(last_errors_.begin(), e.message());
    if (last_errors_.size() > kMaxErrors) last_errors_.resize(kMaxErrors);
}

// ---- views ----

config::Config Manager::config() const {
    std::lock_guard lk(mu_);
    return cfg_;
}

Result<std::vector<std::string>> Manager::set_feature(const std::string& name, bool enable, bool force) {
    if (enable) {
        FW_TRY(coordinator_.enable(name, Actor::user));
        return std::vector<std::string>{name};
    }
    return coordinator_.disable(name, force, Actor::user);
}

Result<fw_stats> Manager::datapath_stats() const {
    std::lock_guard lk(mu_);
    if (!xdp_) return Error::from_errno(ENODEV, "datapath not loaded");
    return xdp_->stats_total();
}

std::vector<SelfTiming> Manager::self_timing_unlocked() const {
    std::vector<SelfTiming> out;
    if (!xdp_) return out;
    auto st = xdp_->stats_total();
    if (!st.ok()) {
        out.emplace_back();
        return out;
    }
    out.push_back(SelfTiming{st->processed, st->timed_packets, st->timed_ns});
    if (tc_) {
        auto ts = tc_->stats_total();
        out.push_back(ts.ok() ? SelfTiming{ts->packets, ts->timed_packets, ts->timed_ns} : SelfTiming{});
    }
    return out;
}

SelfTimingReport Manager::self_timing() const {
    std::lock_guard lk(mu_);
    SelfTimingReport r;
    if (!xdp_) return r;
    r.sample_shift = xdp_->config().time_sample_shift;
    auto programs = self_timing_unlocked();
    if (!programs.empty()) r.xdp = programs.front();
    if (programs.size() > 1) {
        r.tc = programs[1];
        r.tc_sample_shift = tc_->config().time_sample_shift;
    }
    return r;
}

std::vector<ProgramStats> Manager::programs() const {
    std::lock_guard lk(mu_);
    std::vector<ProgramStats> out;
    for (int fd : program_fds()) {
        auto ps = program_stats(fd);
        if (ps.ok()) out.push_back(*ps);
    }
    return out;
}

EventProcessorStats Manager::event_stats() const {
    return events_ ? events_->stats() : EventProcessorStats{};
}

GovernorReport Manager::governor() const {
    GovernorReport r;
    if (!governor_) return r;
    r.enabled = governor_->config().enabled;
    r.sampling_rate = governor_->sampling_rate();
    r.utilisation_percent = governor_->last_utilisation();
    r.shed_features = governor_->shed_features();
    if (load_) r.last_sample = load_->last();
    return r;
}

std::vector<HookInfo> Manager::hooks() const {
    std::vector<HookInfo> out;
    {
        std::lock_guard lk(mu_);
        out = hooks_.list();
    }
    // The socket monitors' hooks have their own HookManager: their ids are reported from 2^32
    // so they never collide with the interface hooks' ids.
    for (auto& h : sockets_.hooks()) {
        h.id += kSocketHookIdBase;
        out.push_back(std::move(h));
    }
    return out;
}

Result<std::vector<MapReport>> Manager::maps() const {
    std::lock_guard lk(mu_);
    std::vector<MapReport> out;
    if (!xdp_) return out;
    std::set<std::string> pinned(pins_ ? pins_->pins().begin() : std::vector<std::string>::const_iterator{},
                                 pins_ ? pins_->pins().end() : std::vector<std::string>::const_iterator{});
    for (const auto& m : all_maps()) {
        FW_TRY_ASSIGN(auto info, m.info());
        MapReport r;
        r.info = info;
        r.info.name = m.name();  // the full name (the kernel truncates to 15 characters)
        switch (info.type) {
            case BPF_MAP_TYPE_RINGBUF:
            case BPF_MAP_TYPE_BLOOM_FILTER:  // no keys to walk
                break;
            case BPF_MAP_TYPE_ARRAY:
            case BPF_MAP_TYPE_PERCPU_ARRAY: {
                // Slot tables are arrays whose occupancy is what matters: count used slots.
                const std::string& n = r.info.name;
                if (n == "fw_flows" && flows_) {
                    if (auto k = flows_->occupancy(); k.ok()) r.entries = *k;
                } else if (n == "fw_rl_map") {
                    if (auto k = RateLimiterTable::of(*xdp_).occupancy(); k.ok()) r.entries = *k;
                } else if (lists_ && n.rfind("fw_ft_", 0) == 0 && n.rfind("fw_ft_hint", 0) != 0) {
                    IpListKind list = n.find("allow") != std::string::npos ? IpListKind::Allow : IpListKind::Block;
                    uint8_t family = n.back() == '6' ? 6 : 4;
                    r.entries = lists_->exact_stats(list, family).used;
                } else {
                    r.entries = info.max_entries;
                }
                break;
            }
            default: {
                auto n = count_keys(m.fd(), info.key_size);
                if (n.ok()) r.entries = *n;
                else if (n.error().errnum() != ENOTSUP && n.error().errnum() != 524 /* ENOTSUPP */)
                    return std::move(n).error().wrap("map " + m.name());
            }
        }
        std::string name = m.name();
        for (auto& c : name)
            if (c == '/' || c == '.') c = '_';  // as PinDir names pins
        std::string pin = pins_ ? pins_->maps_dir() + "/" + name : std::string();
        if (pinned.count(pin)) r.pin = pin;
        out.push_back(std::move(r));
    }
    return out;
}

ManagerHealth Manager::health() const {
    ManagerHealth h;
    std::lock_guard lk(mu_);
    h.ebpf_enabled = cfg_.ebpf.enabled;
    h.pin_path = cfg_.pin_path;
    h.uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
    if (xdp_ && xdp_->prog_fd() >= 0) {
        // The program is really there: the kernel answers for its fd.
        if (program_stats(xdp_->prog_fd()).ok()) h.programs_loaded = 1;
    }
    if (h.programs_loaded == 0) h.problems.push_back("xdp_blocklist is not loaded");
    if (!tc_) {
        bool wanted = false;
        for (const auto& i : cfg_.interfaces) wanted |= i.tc;
        if (wanted) h.problems.push_back("tc_classifier is not loaded");
    }
    if (cfg_.ebpf.enabled)
        for (const auto& i : cfg_.interfaces) h.hooks_expected += i.tc ? 3 : 1;  // XDP (+ TC ingress, egress)
    if (xdp_ && tc_ && program_stats(tc_->prog_fd()).ok()) ++h.programs_loaded;
    // A hook counts as attached only while the interface still exists with our program on it.
    for (const auto& hk : hooks_.list()) {
        if (hk.attach_point != AttachPoint::Xdp) {
            ++h.hooks_attached;
            continue;
        }
        unsigned ifindex = if_nametoindex(hk.ifname.c_str());
        __u32 prog_id = 0;
        LIBBPF_OPTS(bpf_xdp_query_opts, q);
        if (ifindex != 0 && static_cast<int>(ifindex) == hk.ifindex && bpf_xdp_query(static_cast<int>(ifindex), 0, &q) == 0) {
            prog_id = q.prog_id ? q.prog_id : (q.skb_prog_id ? q.skb_prog_id : q.drv_prog_id);
            if (q.skb_prog_id == hk.prog_id || q.drv_prog_id == hk.prog_id || q.hw_prog_id == hk.prog_id) {
                ++h.hooks_attached;
                continue;
            }
        }
        h.problems.push_back("xdp hook on " + hk.ifname + " is gone" +
                             (prog_id ? " (another program, id " + std::to_string(prog_id) + ", is attached)" : ""));
    }
    if (h.hooks_attached < h.hooks_expected && h.problems.empty())
        h.problems.push_back(std::to_string(h.hooks_expected - h.hooks_attached) + " configured interface(s) not attached");
    h.event_thread_alive = events_ && events_->running();
    if (!h.event_thread_alive) h.problems.push_back("event processor thread is not running");
    h.kernel_bpf_stats = kernel_stats_.state();
    h.healthy = h.problems.empty();
    std::lock_guard elk(err_mu_);
    h.last_errors = last_errors_;
    h.reloads = reloads_;
    h.reload_failures = reload_failures_;
    return h;
}

Result<std::vector<IpListEntry>> Manager::list_ips() const {
    std::lock_guard lk(mu_);
    if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
    return lists_->list();
}

Result<std::size_t> Manager::add_ips(std::vector<IpEntrySpec> entries) {
    std::lock_guard lk(mu_);
    if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
    for (auto& e : entries) e.source_id = 0;  // API entries are never removed by a reload
    return lists_->add_bulk(entries);
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
    }
    return removed;
}

Result<std::vector<DomainEntry>> Manager::list_domains(std::size_t limit) const {
    std::lock_guard lk(mu_);
    if (!domains_) return Error::from_errno(ENODEV, "domain table not loaded");
    return domains_->list(limit);
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
    return domains_->add_many(rules);
}

Result<std::size_t> Manager::remove_domains(const std::vector<std::string>& names) {
    std::lock_guard lk(mu_);
    if (!domains_) return Error::from_errno(ENODEV, "domain table not loaded");
    std::size_t removed = 0;
    for (const auto& n : names) {
        FW_TRY_ASSIGN(bool existed, domains_->remove(n));
        removed += existed ? 1 : 0;
    }
    return removed;
}

Result<std::vector<FlowEntry>> Manager::flows(std::size_t limit) const {
    std::lock_guard lk(mu_);
    if (!flows_) return Error::from_errno(ENODEV, "flow table not loaded");
    return flows_->list(limit);
}

std::optional<std::uint64_t> Manager::flow_occupancy() const {
    std::lock_guard lk(mu_);
    if (!flows_) return std::nullopt;
    auto n = flows_->occupancy();
    if (!n.ok()) return std::nullopt;
    return *n;
}

std::optional<std::uint64_t> Manager::rate_limiter_occupancy() const {
    std::lock_guard lk(mu_);
    if (!xdp_) return std::nullopt;
    auto n = RateLimiterTable::of(*xdp_).occupancy();
    if (!n.ok()) return std::nullopt;
    return *n;
}

std::shared_ptr<Subscription> Manager::subscribe_events(const std::string& name, std::size_t capacity) {
    if (!events_ || !events_->running()) return nullptr;
    return events_->subscribe(name, capacity);
}

void Manager::unsubscribe_events(const std::shared_ptr<Subscription>& sub) {
    if (events_) events_->unsubscribe(sub);
}

}  // namespace flywall
