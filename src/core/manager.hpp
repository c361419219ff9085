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
// Thread-safety: public members may be called from API threads concurrently with the owner's
// tick()/reload(); one mutex serialises everything that touches hooks, lists or the config.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "config/tc_rules.hpp"
#include "core/bpf_stats.hpp"
#include "core/config_lists.hpp"
#include "core/coordinator.hpp"
#include "core/event_processor.hpp"
#include "core/governor.hpp"
#include "core/learning_engine.hpp"
#include "runtime/domains.hpp"
#include "runtime/flows.hpp"
#include "runtime/ratelimit.hpp"
#include "runtime/hooks.hpp"
#include "runtime/iplists.hpp"
#include "runtime/loader.hpp"
#include "runtime/tc_classifier.hpp"
#include "runtime/map.hpp"
#include "runtime/socket_monitors.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {

struct ManagerHealth {
    bool healthy = false;
    bool ebpf_enabled = true;
    std::size_t programs_loaded = 0;
    std::size_t hooks_expected = 0;
    std::size_t hooks_attached = 0;
    bool event_thread_alive = false;
    bool stats_enabled = false;  // kernel BPF run-time statistics
    std::string pin_path;
    std::vector<std::string> problems;     // why healthy is false
    std::vector<std::string> last_errors;  // most recent first, bounded
    std::chrono::seconds uptime{0};
    std::uint64_t reloads = 0;
    std::uint64_t reload_failures = 0;
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

// A TLS ClientHello seen by the tls_fingerprinting socket monitor.
struct TlsHelloView {
    std::uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
    std::string src, dst;
    std::uint16_t sport = 0, dport = 0;
    std::string sni, ja3, ja3_hash;
};

// A DNS query or response seen by the dns_monitoring socket monitor.
struct DnsMessageView {
    std::uint64_t ts_ns = 0;
    bool response = false;
    std::string client, server, name;
    std::uint16_t qtype = 0;
    std::uint8_t rcode = 0;
};

struct DnsReport {
    fw_dns_stats stats{};
    std::map<std::uint16_t, std::uint64_t> qtypes;  // queries by qtype
    std::map<std::uint8_t, std::uint64_t> rcodes;   // responses by rcode
    std::vector<DnsMessageView> recent;             // oldest first
};

// QoS rules and IPS patterns by name; config-owned ones are replaced or removed by a reload,
// API-owned ones are kept.
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

class Manager {
public:
    // `config_source`: the file the config came from ("" = the embedded default); reload reads it.
    static Result<std::unique_ptr<Manager>> start(config::Config cfg, std::string config_source);
    ~Manager();
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    // Reads and validates config_source again; on success applies it as a diff. A config that
    // does not load, or that the coordinator rejects, leaves the running state untouched.
    Status reload();
    Status apply_config(const config::Config& next);
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
    std::vector<ProgramStats> programs() const;
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

    // ---- socket monitors (socket_filters, dns_monitoring, tls_fingerprinting, dhcp_monitoring)
    static constexpr std::size_t kRecentMax = 1000;  // bounded rings of recent hellos / DNS messages
    Result<std::vector<Device>> devices() const;
    Result<std::vector<TlsHelloView>> tls_hellos() const;  // oldest first
    Result<DnsReport> dns() const;

    // ---- QoS rules and IPS patterns (TC classifier)
    Result<std::vector<NamedQosRule>> qos_rules() const;
    // Adds, or replaces a rule of the same name in place (it then belongs to the API).
    Status add_qos_rule(const config::QosRuleConfig& rule);
    Result<bool> remove_qos_rule(const std::string& name);
    Result<std::vector<NamedIpsPattern>> ips_patterns() const;
    // Adds, or replaces a pattern of the same name; returns the id assigned to it.
    Result<std::uint32_t> add_ips_pattern(const config::IpsPatternConfig& pattern);
    Result<bool> remove_ips_pattern(const std::string& name);
    Result<fw_tc_stats> tc_stats() const;

private:
    Manager() = default;
    Status init(config::Config cfg);
    Status register_features();
    Status attach_interface(const config::InterfaceConfig& iface);
    Status detach_interface(const std::string& name);
    Status sync_config_lists(const std::set<ConfigIpEntry>& desired);
    Status sync_config_domains(const std::set<std::string>& desired);
    // Writes fw_cfg.features from the coordinator's state and the current config's bindings.
    void resync_feature_bits();
    std::vector<int> program_fds() const;
    std::vector<MapRef> all_maps() const;
    Status configure_governor(const config::Config& cfg);
    void apply_sampling(double rate);
    void record_error(const Error& e);
    // Attaches/detaches each monitor's socket per configured interface to match sock_want_.
    Status reconcile_sockets();
    void socket_loop();
    SocketMonitorHandlers socket_handlers();
    void stop_sockets();
    Status write_qos_locked();
    // Config rules/patterns replace or remove the previous config's; API ones of another name stay.
    Status sync_config_qos_ips(const config::Config& next);
    Result<std::uint32_t> add_ips_locked(const config::IpsPatternConfig& pattern, bool from_config);

    mutable std::mutex mu_;
    config::Config cfg_;
    // What feature apply hooks read: they run on API and governor threads without mu_.
    mutable std::mutex bind_mu_;
    config::Config bind_cfg_;
    void set_config(const config::Config& c);
    std::string config_source_;
    std::chrono::steady_clock::time_point started_;
    bool stopped_ = false;

    std::optional<PinDir> pins_;
    std::optional<XdpFastPath> xdp_;
    std::optional<TcClassifier> tc_;  // absent when it failed to load (reported in health)
    std::optional<RunTimeStats> run_stats_;
    std::optional<IpLists> lists_;
    std::set<ConfigIpEntry> config_entries_;  // what the current config put into the lists
    std::optional<DomainBlocklist> domains_;
    std::set<std::string> config_domains_;    // what the current config put into the domain table
    std::optional<FlowTable> flows_;
    HookManager hooks_;
    std::map<std::string, std::vector<HookId>> iface_hooks_;  // interface name -> our hooks

    Coordinator coordinator_;
    SteadyClock clock_;
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

    // Socket monitors: their own hooks, thread and lock (sock_mu_ is taken inside feature apply
    // hooks, which may run under mu_; nothing holding sock_mu_ takes mu_).
    mutable std::mutex sock_mu_;
    std::optional<SocketMonitors> sock_;
    HookManager sock_hooks_;
    std::map<std::pair<std::string, int>, HookId> sock_attached_;  // (interface, monitor) -> hook
    std::atomic<bool> sock_want_[4] = {};  // socket_filters, dns, tls, dhcp
    std::thread sock_thread_;
    std::atomic<bool> sock_stop_{false};
    std::deque<TlsHelloView> tls_recent_;
    std::deque<DnsMessageView> dns_recent_;

    // QoS rules (table order) and IPS patterns; under mu_.
    std::vector<NamedQosRule> qos_;
    std::map<std::string, NamedIpsPattern> ips_;
    std::uint32_t next_ips_id_ = 1;

    mutable std::mutex err_mu_;
    std::vector<std::string> last_errors_;
    std::uint64_t reloads_ = 0, reload_failures_ = 0;
};

}  // namespace flywall
