// Manager: the read side. Reports the API serves (health, hooks, maps, programs, statistics,
// lists, flows, the event subscriptions); nothing here changes the datapath.
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/manager.hpp"

namespace flywall {

namespace {

// Socket hooks live in SocketMonitorService's own HookManager; their ids are shown above this
// offset so they never collide with the interface hooks' ids.
constexpr HookId kSocketHookIdBase = HookId{1} << 32;

}  // namespace

config::Config Manager::config() const {
    std::lock_guard lk(mu_);
    return cfg_;
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
                auto n = m.count_keys();
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
    // A hook counts as attached only while the kernel says our program is in its slot: XDP and
    // both tc directions alike (HookManager::status()).
    for (const auto& st : hooks_.status()) {
        if (st.attached)
            ++h.hooks_attached;
        else
            h.problems.push_back(st.problem);
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

Result<std::vector<DomainEntry>> Manager::list_domains(std::size_t limit) const {
    std::lock_guard lk(mu_);
    if (!domains_) return Error::from_errno(ENODEV, "domain table not loaded");
    return domains_->list(limit);
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
