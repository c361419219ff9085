// The configuration schema: typed structs with defaults, loading from HCL with every problem
// reported at its line:column, and printing back as HCL or JSON.
//
// Feature dependency rules (inline_ips needs flow_monitoring, ...) are the coordinator's job;
// this layer only checks that names, types and ranges are valid.
#pragma once

#include "common/result.hpp"
#include "config/hcl.hpp"
#include "config/tc_rules.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flywall::config {

enum class XdpMode { Auto, Native, Generic, Offload };
enum class DnsAction { Drop, Nxdomain };
enum class MalformedVerdict { Pass, Drop };
enum class LogLevel { Trace, Debug, Info, Warn, Error, Critical, Off };

[[nodiscard]] std::string_view to_string(XdpMode mode);      // "auto", "native", ...
[[nodiscard]] std::string_view to_string(DnsAction action);  // "drop", "nxdomain"
[[nodiscard]] std::string_view to_string(MalformedVerdict verdict);  // "pass", "drop"
[[nodiscard]] std::string_view to_string(LogLevel level);    // "trace" ... "off"

// Every feature name the `features { }` block accepts, in documentation order.
[[nodiscard]] const std::vector<std::string>& feature_names();
[[nodiscard]] bool is_known_feature(std::string_view name);
// All known features; a feature omitted from the file takes this value
// (statistics on, everything else off: features are opted into).
[[nodiscard]] std::map<std::string, bool> default_features();

struct PerformanceConfig {
    double max_cpu_percent = 50;             // 0..100
    std::uint64_t max_memory_mb = 500;       // > 0
    std::uint64_t max_events_per_sec = 10000;  // > 0
    std::uint64_t max_pps = 10000000;        // > 0
    // The programs time 1 packet in 2^time_sample_shift themselves (fw_stats.timed_*): 0 times
    // every packet (two clock reads each), 10 (the default) one in 1024. 0..20.
    std::uint64_t time_sample_shift = 10;
    bool operator==(const PerformanceConfig&) const = default;
};

struct AdaptiveConfig {
    bool enabled = true;
    double scale_back_threshold = 80;  // percent of the budget, 0..100
    double scale_back_rate = 0.1;      // fraction per step, 0..1
    std::vector<std::string> minimum_features{"ddos_protection", "flow_monitoring"};  // known names
    bool operator==(const AdaptiveConfig&) const = default;
};

struct EbpfConfig {
    bool enabled = true;
    std::map<std::string, bool> features = default_features();  // always holds every known name
    PerformanceConfig performance;
    AdaptiveConfig adaptive;
    bool operator==(const EbpfConfig&) const = default;
};

struct InterfaceConfig {
    std::string name;  // kernel interface name, 1..15 characters
    XdpMode xdp_mode = XdpMode::Auto;
    bool tc = true;  // attach the TC classifier (clsact) as well
    bool operator==(const InterfaceConfig&) const = default;
};

struct ApiConfig {
    std::string listen = "127.0.0.1:8080";  // "host:port" or "[v6]:port"
    std::string token_file = "/etc/flywall/api.token";  // absolute path
    // TLS certificate chain and key (PEM, absolute paths); required when listen is not on
    // loopback, which also makes reads need the token.
    std::string tls_cert;
    std::string tls_key;
    bool operator==(const ApiConfig&) const = default;
};

struct BlocklistConfig {
    std::vector<std::string> ips;           // IPv4/IPv6 addresses or CIDRs, as written
    std::vector<std::string> ip_files;      // files with one address/CIDR per line
    std::vector<std::string> allow_ips;     // addresses/CIDRs never blocked
    std::vector<std::string> domains;       // lower-cased, no trailing dot, optional "*." prefix
    std::vector<std::string> domain_files;  // files with one domain per line
    DnsAction dns_action = DnsAction::Nxdomain;
    // What the XDP fast path does with a packet it cannot fully parse (truncated headers, more
    // IPv6 extension headers or VLAN tags than it follows, a bad IPv4 version or IHL) whose
    // addresses matched neither list. Listed addresses are decided by the lists first: a blocked
    // source is dropped and an allowlisted one passed however its packet continues.
    MalformedVerdict malformed_verdict = MalformedVerdict::Pass;
    // Lifetime in seconds of entries added at run time without their own TTL; unset = no expiry.
    std::optional<std::uint64_t> default_ttl;
    // Exact addresses each list (allow/block, per family) holds in its fast table before the
    // rest spill to the slower kernel hash. Fast tables are preallocated (2 slots per entry,
    // 32 B a slot for IPv4, 48 B for IPv6), so this sizes the program's memory.
    std::uint64_t exact_capacity = 131072;
    bool operator==(const BlocklistConfig&) const = default;
};

// Per-source limits (IPv6 sources are grouped by ipv6_prefix_len). A rate of 0 turns that
// particular limit off.
struct RateLimitConfig {
    bool enabled = false;
    std::uint64_t pps = 100000;               // packets per second
    std::uint64_t bps = 1000000000;           // bits per second
    std::uint64_t burst_packets = 200000;     // > 0
    std::uint64_t burst_bytes = 250000000;    // > 0
    std::uint64_t syn_pps = 10000;            // TCP SYN packets per second
    std::uint64_t icmp_pps = 1000;            // ICMP/ICMPv6 packets per second
    std::uint64_t udp_pps = 50000;            // UDP packets per second
    std::uint32_t ipv6_prefix_len = 64;       // 1..128
    bool operator==(const RateLimitConfig&) const = default;
};

struct FlowsConfig {
    std::uint64_t idle_timeout_sec = 300;     // > 0
    std::uint64_t trusted_after_packets = 0;  // 0 = never mark flows trusted
    double sample_rate = 1.0;                 // 0..1
    bool operator==(const FlowsConfig&) const = default;
};

// learning { ... }: thresholds of the learning engine (src/core/learning_engine.hpp). The
// engine itself is switched by ebpf.features.learning_engine.
struct LearningSettings {
    bool auto_apply = false;                     // apply proposals without an operator
    std::uint64_t rule_ttl_sec = 3600;           // > 0: lifetime of an applied rule
    std::uint64_t rate_limit_trips = 20;         // > 0: rate-limit events from one source ...
    std::uint64_t rate_limit_window_sec = 60;    // > 0: ... within this window
    std::uint64_t scan_ports = 20;               // > 0: distinct destination ports of new flows ...
    std::uint64_t scan_window_sec = 60;          // > 0
    std::uint64_t ips_alerts = 5;                // > 0: IPS alerts/drops from one source ...
    std::uint64_t ips_window_sec = 300;          // > 0
    std::uint64_t reject_cooldown_sec = 3600;    // >= 0: a rejected source is not proposed again
    std::uint64_t idle_expiry_sec = 900;         // > 0: an applied rule without hits is removed
    bool operator==(const LearningSettings&) const = default;
};

struct EventsConfig {
    std::optional<std::string> log_file;  // JSON lines; absolute path; unset = not written
    bool operator==(const EventsConfig&) const = default;
};

// qos { rule "NAME" { ... } }: TC classifier QoS rules, first match (file order) wins.
struct QosConfig {
    std::vector<QosRuleConfig> rules;  // names unique, at most 64
    bool operator==(const QosConfig&) const = default;
};

// ips { pattern "NAME" { ... } }: inline IPS payload patterns.
struct IpsConfig {
    std::vector<IpsPatternConfig> patterns;  // names unique, at most 64
    bool operator==(const IpsConfig&) const = default;
};

struct Config {
    std::string pin_path = "/sys/fs/bpf/flywall";  // absolute path
    // SIGTERM/SIGINT: false leaves the programs attached (running on their last state) for the
    // next instance to take over; true removes every attachment and pin (`flywall stop --detach`
    // does that for a daemon that already left).
    bool detach_on_exit = false;
    // After start (programs loaded, pinned, attached), keep only the capabilities running needs
    // (runtime/privileges.hpp) and set no_new_privs.
    bool drop_capabilities = true;
    // Where the entries the file does not hold (added through the API, applied by the learning
    // engine) are kept across restarts and reboots: <state_dir>/state.db (SQLite). Absolute.
    std::string state_dir = "/var/lib/flywall";
    LogLevel log_level = LogLevel::Info;
    EbpfConfig ebpf;
    std::vector<InterfaceConfig> interfaces;  // names unique, file order
    ApiConfig api;
    BlocklistConfig blocklist;
    RateLimitConfig rate_limit;
    FlowsConfig flows;
    EventsConfig events;
    LearningSettings learning;
    QosConfig qos;
    IpsConfig ips;
    bool operator==(const Config&) const = default;
};

// Either a valid Config or every problem found (never both).
class LoadResult {
public:
    explicit LoadResult(Config config) : config_(std::move(config)) {}
    explicit LoadResult(std::vector<Diagnostic> diagnostics) : diagnostics_(std::move(diagnostics)) {}

    [[nodiscard]] bool ok() const { return diagnostics_.empty(); }
    explicit operator bool() const { return ok(); }

    // Only when ok().
    [[nodiscard]] const Config& config() const& { return config_; }
    [[nodiscard]] Config&& config() && { return std::move(config_); }

    [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
    // One "file:line:col: message" per line.
    [[nodiscard]] std::string error_text() const { return format_diagnostics(diagnostics_); }
    // The project's error type: EINVAL, context "invalid configuration <file>", detail =
    // error_text(). Use at component boundaries.
    [[nodiscard]] Result<Config> to_result() &&;

    // Where a feature is set in the file (its attribute in ebpf.features), else where the
    // features (or ebpf) block starts, else 0:0: for errors found later, such as a
    // dependency the feature graph refuses.
    [[nodiscard]] Diagnostic at_feature(const std::string& name, std::string message) const;
    void set_positions(std::string file, std::map<std::string, Position> features, Position block) {
        file_ = std::move(file);
        feature_pos_ = std::move(features);
        features_block_ = block;
    }

private:
    Config config_;
    std::vector<Diagnostic> diagnostics_;
    std::string file_;
    std::map<std::string, Position> feature_pos_;
    Position features_block_{0, 0};
};

[[nodiscard]] LoadResult load_string(std::string_view text, std::string_view filename);
[[nodiscard]] LoadResult load_file(const std::string& path);

// The built-in default configuration (src/config/default.hcl, embedded).
[[nodiscard]] std::string_view default_config_text();
[[nodiscard]] LoadResult load_default();

// The effective configuration (defaults filled in) as HCL that load_string() reads back to an
// equal Config.
[[nodiscard]] std::string to_hcl(const Config& config);
[[nodiscard]] nlohmann::json to_json(const Config& config);

}  // namespace flywall::config
