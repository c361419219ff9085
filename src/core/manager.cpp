#include "core/manager.hpp"

#include "core/feature_check.hpp"

#include <net/if.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <set>

#include "core/datapath_settings.hpp"

namespace flywall {

namespace {

constexpr std::size_t kMaxErrors = 16;

XdpMode hook_mode(config::XdpMode m) {
    switch (m) {
        case config::XdpMode::Native: return XdpMode::Native;
        case config::XdpMode::Generic: return XdpMode::Generic;
        case config::XdpMode::Offload: return XdpMode::Offload;
        case config::XdpMode::Auto: break;
    }
    return XdpMode::Auto;
}

}  // namespace

Result<std::unique_ptr<Manager>> Manager::start(config::Config cfg, std::string config_source,
                                                std::function<Status()> after_attach) {
    std::unique_ptr<Manager> m(new Manager());
    m->config_source_ = std::move(config_source);
    m->after_attach_ = std::move(after_attach);
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
        // A previous instance left its datapath attached (SIGTERM with detach_on_exit = false,
        // or a crash): its flows and limiter state carry over when their layout is this build's.
        std::string why_not;
        std::optional<CarriedTables> previous = read_previous_tables(pins_->maps_dir(), &why_not);
        if (previous) load_opts.tbl_seed = previous->seeds;
        auto xdp = XdpFastPath::load(load_opts);
        if (!xdp.ok()) return std::move(xdp).error();
        xdp_.emplace(std::move(*xdp));
        if (previous) {
            const auto a = xdp_->adopt(*previous);
            spdlog::info("flywall: from the previous instance: flows {}, rate limiter {}{}{}", a.flows ? "carried over" : "not",
                         a.rl ? "carried over" : "not", a.why_not.empty() ? "" : " (", a.why_not.empty() ? "" : a.why_not + ")");
        } else {
            spdlog::debug("flywall: nothing carried over: {}", why_not);
        }
    }
    // Hold the previous instance's pins open until our programs have replaced its programs:
    // pinning ours unlinks them, and a map nobody holds from user space loses its BPF timers,
    // which would freeze the still-running program's clock (and so its rate limiter).
    std::vector<UniqueFd> previous_pins = pins_->open_existing();
    FW_TRY(pins_->pin_object(xdp_->object()));
    {
        // The TC classifier (flows, QoS, inline IPS). Without it the XDP fast path still
        // runs; features that need it then refuse to turn on, and health says why.
        auto tc = TcClassifier::load();
        if (tc.ok()) {
            tc_.emplace(std::move(*tc));
            tc_->config().features = 0;  // the coordinator turns features on
            apply_tc_settings(cfg, tc_->config());
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
    FW_TRY(restore_durable(cfg));  // API and learned entries of earlier runs, before any attach

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
        for (const auto& iface : cfg.interfaces) FW_TRY(attach_interface(iface, Takeover::Orphaned));
    }
    // Everything that needs start-up privileges is done (load, pin, mount, take over): the
    // owner may drop them now, while this is still the only thread, so every thread started
    // from here on (events, learning, socket monitors, the API) inherits the reduced set.
    if (after_attach_) FW_TRY(after_attach_());

    // Events: every ring buffer of the loaded programs, found by type.
    std::vector<RingBufferSource::Ring> rings;
    for (int fd : xdp_->ring_fds()) rings.push_back({fd, RecordKind::Xdp});
    if (tc_) rings.push_back({tc_->events_fd(), RecordKind::Tc});
    FW_TRY_ASSIGN(auto source, RingBufferSource::create(rings));
    events_ = std::make_unique<EventProcessor>(std::move(source));
    FW_TRY(events_->start());
    start_learning_runner();
    if (cfg.events.log_file) {
        FW_TRY_ASSIGN(event_log_, JsonLinesLog::open(*events_, *cfg.events.log_file));
    }
    sockets_.start([this](const Event& e) { events_->publish(e); });

    spdlog::info("flywall: xdp_blocklist loaded, pinned under {}, {} hook(s) attached", cfg.pin_path, hooks_.size());
    return {};
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

Status Manager::attach_interface(const config::InterfaceConfig& iface, Takeover takeover) {
    // Takeover (at start): a previous instance's program (left by SIGKILL, or by SIGTERM with
    // detach_on_exit = false) is replaced in one step; our lists are already in the maps.
    auto r = hooks_.attach_xdp(xdp_->prog_fd(), iface.name, hook_mode(iface.xdp_mode), takeover);
    if (!r.ok()) return std::move(r).error().wrap("attach xdp_blocklist to " + iface.name);
    iface_hooks_[iface.name].push_back(r->id);
    if (iface.tc) {
        if (!tc_) {
            (void)detach_interface(iface.name);
            return Error::from_errno(ENOTSUP, "interface " + iface.name + " asks for tc = true, but the TC classifier did not load");
        }
        for (TcDirection dir : {TcDirection::Ingress, TcDirection::Egress}) {
            auto t = hooks_.attach_tc(tc_->prog_fd(), iface.name, dir,
                                      TcOptions{kTcClassifierPriority, kTcClassifierHandle, takeover});
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
    durable_.reset();
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

}  // namespace flywall
