// SocketMonitorService: the socket monitors (DNS, TLS, DHCP/ARP socket filters) as a running
// service of the daemon. It owns
//   * the SocketMonitors programs and their AF_PACKET hooks (its own HookManager),
//   * which monitors are wanted (the features socket_filters, dns_monitoring,
//     tls_fingerprinting, dhcp_monitoring) and on which interfaces, and reconciles the hooks to
//     that: a monitor is attached on every interface while socket_filters and its own feature
//     are on,
//   * the poll thread (socket_loop) that drains the monitors' ring buffers every 50 ms,
//   * the bounded rings of recent TLS hellos and DNS messages (kRecentMax each),
//   * the translation of monitor records into the daemon's Event stream (the table below).
//
// Thread-safety and lock order: one mutex (mu_) guards everything above; the poll thread holds
// it while the monitors call the handlers, which publish to the event sink and may report an
// error. So: SocketMonitorService::mu_ -> (event processor's subscriber locks, the error
// reporter's lock). The service never calls back into its owner otherwise: the owner may hold
// its own lock while calling in (Manager::mu_ -> SocketMonitorService::mu_), and neither the
// event sink nor the error reporter may call back into this service or take Manager::mu_.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "core/event_processor.hpp"
#include "runtime/hooks.hpp"
#include "runtime/socket_monitors.hpp"

namespace flywall {

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

// ---- Event translation ----
// Socket-monitor records join the daemon's Event stream (SSE, JSON-lines log, learning engine)
// with type ids kSocketEventBase + the record's FW_REC_* type (bpf/include/flywall/abi_sock.h):
// above every XDP fw_event_type and TC fw_tc_event_type, so an Event's `type` ("type_id" in
// JSON) names its source without a second field. These ids and names are part of the public
// event stream: never renumber them.
inline constexpr std::uint32_t kSocketEventBase = 0x100;

enum class SocketEventType : std::uint32_t {
    DnsQuery = kSocketEventBase + FW_REC_DNS,              // "dns_query" (responses are not events)
    TlsClientHello = kSocketEventBase + FW_REC_TLS_HELLO,  // "tls_client_hello"
    DhcpDevice = kSocketEventBase + FW_REC_DHCP,           // "dhcp_device"
    ArpBinding = kSocketEventBase + FW_REC_ARP,            // "arp_binding"
};

struct SocketEventKind {
    SocketEventType type;
    std::uint32_t record_type;  // FW_REC_*
    std::string_view name;      // Event::type_name
};

inline constexpr std::array<SocketEventKind, 4> kSocketEventKinds{{
    {SocketEventType::DnsQuery, FW_REC_DNS, "dns_query"},
    {SocketEventType::TlsClientHello, FW_REC_TLS_HELLO, "tls_client_hello"},
    {SocketEventType::DhcpDevice, FW_REC_DHCP, "dhcp_device"},
    {SocketEventType::ArpBinding, FW_REC_ARP, "arp_binding"},
}};

[[nodiscard]] std::string_view to_string(SocketEventType t);
// The event type of a FW_REC_* record type; none for an unknown one.
[[nodiscard]] std::optional<SocketEventType> socket_event_type(std::uint32_t record_type);

// The views and events built from decoded monitor records (pure; no kernel).
[[nodiscard]] DnsMessageView to_dns_view(const DnsEvent& d);
[[nodiscard]] std::optional<Event> to_event(const DnsEvent& d);  // none for a response
[[nodiscard]] TlsHelloView to_tls_view(const TlsEvent& t);
[[nodiscard]] Event to_event(const TlsEvent& t);
[[nodiscard]] Event to_event(const DhcpEvent& d);
[[nodiscard]] Event to_event(const fw_arp_record& r);

// The features that drive the monitors (coordinator names in the comments).
enum class SocketMonitorFeature : int {
    SocketFilters = 0,  // "socket_filters": the master switch
    Dns = 1,            // "dns_monitoring"
    Tls = 2,            // "tls_fingerprinting"
    Dhcp = 3,           // "dhcp_monitoring" (DHCP fingerprints and ARP)
};
[[nodiscard]] std::optional<SocketMonitorFeature> socket_monitor_feature(std::string_view feature_name);

class SocketMonitorService {
public:
    static constexpr std::size_t kRecentMax = 1000;  // bounded rings of recent hellos / DNS messages
    using ErrorReporter = std::function<void(const Error&)>;
    using EventSink = std::function<void(const Event&)>;

    // `report_error` receives what fails where nobody is waiting for the answer (a poll on the
    // thread, a detach while a feature turns off).
    explicit SocketMonitorService(ErrorReporter report_error);
    ~SocketMonitorService();
    SocketMonitorService(const SocketMonitorService&) = delete;
    SocketMonitorService& operator=(const SocketMonitorService&) = delete;

    // Loads the monitor programs. Without them the service stays empty: enabling a monitor
    // fails with ENOTSUP and the views with ENODEV.
    Status load(SocketMonitorOptions options = {});
    [[nodiscard]] bool loaded() const;
    // Installs the record handlers (events go to `sink`, may be empty) and starts the poll
    // thread. Nothing happens when the monitors did not load or the thread already runs.
    void start(EventSink sink);
    // Detaches every monitor, stops the thread, unloads. Idempotent; also run by the destructor.
    void stop();

    // The interfaces the monitors attach to; takes effect at the next reconcile (set_wanted or
    // reconcile()), so a config and its features are applied together.
    void set_interfaces(std::vector<std::string> names);
    // Turns a monitor feature on or off and reconciles. Turning on fails (and is rolled back)
    // when the monitors did not load or a socket cannot be attached; turning off always
    // succeeds, a detach error going to the error reporter.
    Status set_wanted(SocketMonitorFeature feature, bool on);
    // Attaches/detaches each monitor's socket per interface to match what is wanted.
    Status reconcile();

    [[nodiscard]] std::vector<HookInfo> hooks() const;
    Result<std::vector<Device>> devices() const;
    Result<std::vector<TlsHelloView>> tls_hellos() const;  // oldest first
    Result<DnsReport> dns() const;

private:
    Status reconcile_locked();
    SocketMonitorHandlers handlers();  // run on the poll thread with mu_ held
    void socket_loop();

    ErrorReporter report_error_;
    mutable std::mutex mu_;
    std::optional<SocketMonitors> sock_;
    HookManager hooks_;
    std::vector<std::string> interfaces_;
    std::map<std::pair<std::string, int>, HookId> attached_;  // (interface, monitor 0..2) -> hook
    std::array<bool, 4> want_{};                               // by SocketMonitorFeature
    EventSink sink_;
    std::deque<TlsHelloView> tls_recent_;
    std::deque<DnsMessageView> dns_recent_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

}  // namespace flywall
