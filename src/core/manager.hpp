// Manager: the daemon's lifecycle. It composes the components, it does not absorb them:
//
//   config ─► PinDir::acquire(pin_path)   (a second instance on the same pin_path refuses)
//          ─► XdpFastPath::load ─► pin ─► BPF run-time stats on
//          ─► Coordinator (feature apply hooks flip fw_cfg.features bits at run time)
//          ─► settings (limits, DNS action, flows, events) ─► IpLists (config entries)
//          ─► HookManager: XDP (and what else the interface block asks) per interface
//          ─► EventProcessor (ring buffers) [+ JSON-lines log] ─► Governor (ticked by the owner)
//
// reload() applies a validated new config as a diff (features, list entries added/removed,
// limits, interfaces attached/detached); maps keep their contents and no program is reloaded.
// stop() detaches exactly what this instance attached and removes its pins.
//
// Components with a concern of their own live in their own files, with their own lock:
//   SocketMonitorService (core/socket_monitor_service.hpp): socket monitors, their hooks,
//     poll thread, recent DNS/TLS rings, and their records' translation into Events;
//   TcPolicyStore (core/tc_policy_store.hpp): the TC classifier's QoS rules and IPS patterns.
// The control plane reaches them through socket_monitors() and tc_policy().
//
// Thread-safety: public members may be called from API threads concurrently with the owner's
// tick()/reload(); mu_ serialises everything that touches the XDP hooks, lists or the config.
// Lock order (a lock may be taken while holding one to its left, never the reverse):
//   LearningEngine's mutex -> mu_ -> Governor's -> Coordinator's mutex
//       -> { SocketMonitorService::mu_, TcPolicyStore::mu_, bind_mu_ } -> err_mu_
//   SocketMonitorService::mu_ -> (EventProcessor's subscriber locks)
// The feature apply hooks run under the Coordinator's mutex, with mu_ (reload) or without it
// (API, governor), and take only bind_mu_ or SocketMonitorService::mu_. Neither component calls
// back into the Manager except record_error (err_mu_, a leaf), so holding mu_ while calling
// them cannot deadlock.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "core/bpf_stats.hpp"
#include "core/config_lists.hpp"
#include "core/coordinator.hpp"
#include "core/durable_entries.hpp"
#include "core/event_processor.hpp"
#include "core/governor.hpp"
#include "core/learning_engine.hpp"
#include "core/socket_monitor_service.hpp"
#include "core/tc_policy_store.hpp"
#include "runtime/domains.hpp"
#include "runtime/flows.hpp"
#include "runtime/ratelimit.hpp"
#include "runtime/hooks.hpp"
#include "runtime/iplists.hpp"
#include "runtime/loader.hpp"
#include "runtime/tc_classifier.hpp"
#include "runtime/map.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {

struct ManagerHealth {
    bool healthy = false;
    bool ebpf_enabled = true;
    std::size_t programs_loaded = 0;
    std::size_t hooks_expected = 0;
    std::size_t hooks_attached = 0;
    bool event_thread_alive = false;
    KernelStatsWindow::State kernel_bpf_stats;  // the daemon's profiling window, if one is open
    std::string pin_path;
    std::vector<std::string> problems;     // why healthy is false
    std::vector<std::string> last_errors;  // most recent first, bounded
    std::chrono::seconds uptime{0};
    std::uint64_t reloads = 0;
    std::uint64_t reload_failures = 0;
};

struct SelfTimingReport {
    std::uint32_t sample_shift = 0;  // 1 packet in 2^sample_shift is timed
    SelfTiming xdp;                  // xdp_blocklist, all CPUs
    std::optional<SelfTiming> tc;    // tc_classifier, when loaded
    std::uint32_t tc_sample_shift = 0;
};

struct MapReport {
    MapInfo info;
    std::optional<std::uint64_t> entries;  // none for ring buffers
    std::string pin;                       // path of its pin, empty if not pinned
};

struct GovernorReport {
    bool enabled = false;
    double sampling_rate = 1;
    double utilisation_percent = 0;
    LoadSample last_sample;
    std::vector<std::string> shed_features;
};

class Manager {
public:
    // `config_source`: the file the config came from ("" = the embedded default); reload reads it.
    // after_attach runs once the programs are loaded, pinned and attached and before the
    // daemon starts any thread (run.cpp drops capabilities there).
    static Result<std::unique_ptr<Manager>> start(config::Config cfg, std::string config_source,
                                                  std::function<Status()> after_attach = {});
    ~Manager();
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    // Reads and validates config_source again; on success applies it as a diff. A config that
    // does not load, or that the coordinator rejects, leaves the running state untouched.
    // One transaction (manager_reload.cpp): a failure at any step leaves the running
    // state exactly as it was; the error names the step.
    Status reload();
    Status apply_config(const config::Config& next);
    // The steps of a reload, in order ("settings" ... "interfaces", then "commit").
    static const std::vector<std::string>& reload_steps();
    // Tests: the next reloads fail before `step` runs (and roll back); "" clears.
    void fail_reload_at(std::string step);
    // Governor step and TTL reaping; the owner calls it about once a second.
    Status tick();
    // Detach, stop threads, unpin. Idempotent; also run by the destructor.
    void stop();

    // ---- views and operations for the control plane ----
    [[nodiscard]] config::Config config() const;
    [[nodiscard]] const std::string& config_source() const { return config_source_; }
    Coordinator& coordinator() { return coordinator_; }
    Result<std::vector<std::string>> set_feature(const std::string& name, bool enable, bool force);

    Result<fw_stats> datapath_stats() const;
    // The programs' sampled self-timing (bpf/include/flywall/abi.h, fw_stats.timed_*).
    [[nodiscard]] SelfTimingReport self_timing() const;
    // Kernel BPF statistics (kernel run_time_ns is 0 outside a profiling window).
    std::vector<ProgramStats> programs() const;
    // Kernel BPF statistics on for `length` (1..300 s), then off again.
    Result<KernelStatsWindow::State> profile(std::chrono::seconds length) { return kernel_stats_.open(length); }
    [[nodiscard]] EventProcessorStats event_stats() const;
    [[nodiscard]] GovernorReport governor() const;
    [[nodiscard]] std::vector<HookInfo> hooks() const;
    Result<std::vector<MapReport>> maps() const;
    [[nodiscard]] ManagerHealth health() const;

    Result<std::vector<IpListEntry>> list_ips() const;
    // All-or-nothing.
    Result<std::size_t> add_ips(std::vector<IpEntrySpec> entries);
    Result<std::size_t> remove_ips(const std::vector<IpEntrySpec>& entries);

    Result<std::vector<DomainEntry>> list_domains(std::size_t limit = SIZE_MAX) const;
    // All-or-nothing validation; `ttl` none = never expires.
    Result<std::size_t> add_domains(const std::vector<std::pair<std::string, DomainAction>>& names,
                                    const std::vector<std::optional<std::chrono::seconds>>& ttls);
    Result<std::size_t> remove_domains(const std::vector<std::string>& names);
    // QoS rules and IPS patterns written through the API: TcPolicyStore, and the durable store so
    // they survive a restart (manager_entries.cpp).
    Status add_qos_rule(const config::QosRuleConfig& rule);
    Result<bool> remove_qos_rule(const std::string& name);
    Result<std::uint32_t> add_ips_pattern(const config::IpsPatternConfig& pattern);
    Result<bool> remove_ips_pattern(const std::string& name);

    Result<std::vector<FlowEntry>> flows(std::size_t limit) const;
    // Entries in the flow table now (none when it cannot be read).
    std::optional<std::uint64_t> flow_occupancy() const;
    static constexpr std::size_t flow_capacity() { return FlowTable::capacity(); }
    // Sources in the rate limiter's table now (none when the fast path is not loaded).
    std::optional<std::uint64_t> rate_limiter_occupancy() const;
    static constexpr std::size_t rate_limiter_capacity() { return RateLimiterTable::capacity(); }

    std::shared_ptr<Subscription> subscribe_events(const std::string& name, std::size_t capacity = 1024);
    void unsubscribe_events(const std::shared_ptr<Subscription>& sub);

    // Learning engine (core/learning_engine.hpp; manager_learning.cpp): the GET
    // /api/ebpf/learning view, apply/reject of a proposal, the auto-apply switch.
    Result<nlohmann::json> learning_view() const;
    Result<nlohmann::json> learning_decide(std::uint64_t id, bool apply);
    Result<nlohmann::json> learning_set_auto_apply(bool on);

    // ---- components the control plane uses directly (each with its own lock; see the lock
    // order at the top of this file)
    // Socket monitors: devices, TLS hellos, DNS (socket_filters, dns_monitoring,
    // tls_fingerprinting, dhcp_monitoring).
    [[nodiscard]] const SocketMonitorService& socket_monitors() const { return sockets_; }
    // QoS rules and IPS patterns of the TC classifier (config-owned and API-owned).
    [[nodiscard]] TcPolicyStore& tc_policy() { return tc_policy_; }
    [[nodiscard]] const TcPolicyStore& tc_policy() const { return tc_policy_; }

private:
    Manager() = default;
    Status init(config::Config cfg);
    Status register_features();
    Status attach_interface(const config::InterfaceConfig& iface, Takeover takeover);
    Status switch_interfaces(const config::Config& prev, const config::Config& next);
    Status detach_interface(const std::string& name);
    Status sync_config_lists(const std::set<ConfigIpEntry>& desired);
    Status sync_config_domains(const std::set<std::string>& desired);
    // Opens the durable store (state_dir) and puts its live entries back into the maps
    // (manager_entries.cpp).
    Status restore_durable(const config::Config& cfg);
    bool config_has_qos_rule(const std::string& name) const;
    bool config_has_ips_pattern(const std::string& name) const;
    // Writes fw_cfg.features from the coordinator's state and the current config's bindings.
    void resync_feature_bits();
    // The programs' feature words from applied_ (bind_mu_ held).
    void write_feature_bits_locked();
    std::vector<int> program_fds() const;
    std::vector<SelfTiming> self_timing_unlocked() const;  // for the governor's load source
    std::vector<MapRef> all_maps() const;
    Status configure_governor(const config::Config& cfg);
    void apply_sampling(double rate);
    void record_error(const Error& e);

    mutable std::mutex mu_;
    config::Config cfg_;
    // What feature apply hooks read: they run on API and governor threads without mu_.
    mutable std::mutex bind_mu_;
    config::Config bind_cfg_;
    std::map<std::string, bool> applied_;  // feature -> state its apply hook last set (bind_mu_)
    void set_config(const config::Config& c);
    std::string config_source_;
    std::chrono::steady_clock::time_point started_;
    bool stopped_ = false;

    std::optional<PinDir> pins_;
    std::optional<XdpFastPath> xdp_;
    std::optional<TcClassifier> tc_;  // absent when it failed to load (reported in health)
    std::optional<IpLists> lists_;
    std::unique_ptr<DurableEntries> durable_;
    std::function<Status()> after_attach_;  // API-added and learned entries across restarts
    std::set<ConfigIpEntry> config_entries_;  // what the current config put into the lists
    std::optional<DomainBlocklist> domains_;
    std::set<std::string> config_domains_;    // what the current config put into the domain table
    std::optional<FlowTable> flows_;
    HookManager hooks_;
    std::map<std::string, std::vector<HookId>> iface_hooks_;  // interface name -> our hooks

    Coordinator coordinator_;
    SteadyClock clock_;
    mutable KernelStatsWindow kernel_stats_{clock_};  // thread-safe; health() expires it
    std::unique_ptr<DatapathLoad> load_;
    std::unique_ptr<Governor> governor_;
    std::unique_ptr<EventProcessor> events_;
    std::unique_ptr<JsonLinesLog> event_log_;
    // Learning engine: built before the features are configured, fed once events_ runs.
    void init_learning();
    Status set_learning_enabled(bool enabled);
    // Thresholds from the config's learning block (bounds stay the engine's defaults).
    Status configure_learning(const config::Config& cfg);
    void start_learning_runner();
    void stop_learning();
    void tick_learning();
    std::unique_ptr<LearningBlocklist> learning_blocklist_;
    std::unique_ptr<LearningEngine> learning_;
    std::unique_ptr<LearningRunner> learning_runner_;

    mutable std::mutex err_mu_;
    std::vector<std::string> last_errors_;
    std::uint64_t reloads_ = 0, reload_failures_ = 0;
    std::string reload_fault_;  // fail_reload_at(); under mu_

    // Components with their own locks. Declared after what their callbacks use (record_error:
    // err_mu_, last_errors_), so they are destroyed first; stop() stops them earlier still.
    SocketMonitorService sockets_{[this](const Error& e) { record_error(e); }};
    TcPolicyStore tc_policy_;  // its target is tc_; stop() detaches it before tc_ goes
};

}  // namespace flywall
