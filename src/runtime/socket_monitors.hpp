// Socket monitors: the DNS, TLS and DHCP/ARP socket filters (bpf/socket_{dns,tls,dhcp}.bpf.c),
// their AF_PACKET sockets (through HookManager), the ring buffers they report to, and the device
// table built from DHCP and ARP. Not thread-safe: one owner calls poll() from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "flywall/abi_sock.h"
// clang-format off
#include "socket_dns.skel.h"
#include "socket_tls.skel.h"
#include "socket_dhcp.skel.h"
// clang-format on

#include "common/result.hpp"
#include "runtime/hooks.hpp"
#include "runtime/ja3.hpp"
#include "runtime/loader.hpp"
#include "runtime/map.hpp"

namespace flywall {

#define FW_SOCK_SKELETON_TRAITS(N)                              \
    template <>                                                 \
    struct SkeletonTraits<N> {                                  \
        static constexpr const char* name = #N;                 \
        static N* open() { return N##__open(); }                \
        static int load(N* s) { return N##__load(s); }          \
        static void destroy(N* s) { N##__destroy(s); }          \
    };
FW_SOCK_SKELETON_TRAITS(socket_dns)
FW_SOCK_SKELETON_TRAITS(socket_tls)
FW_SOCK_SKELETON_TRAITS(socket_dhcp)
#undef FW_SOCK_SKELETON_TRAITS

using MacAddress = std::array<uint8_t, 6>;
[[nodiscard]] std::string mac_to_string(const MacAddress& mac);
// "a.b.c.d" or RFC 5952 IPv6 text from a 16-byte field (IPv4 in the first 4 bytes).
[[nodiscard]] std::string ip_to_string(uint8_t family, const uint8_t* addr);

// Fingerbank-style DHCP fingerprint: the option 55 list as decimal codes joined by commas.
[[nodiscard]] std::string dhcp_fingerprint(std::span<const uint8_t> parameter_request_list);

struct DnsEvent {
    fw_dns_record raw;
    std::string name;      // dotted, as on the wire
    std::string client;    // textual address of the querier
};

struct TlsEvent {
    fw_tls_hello raw;
    ClientHelloFields fields;
    std::string ja3;
    std::string ja3_hash;
};

struct DhcpEvent {
    fw_dhcp_record raw;
    MacAddress mac{};
    std::string hostname, vendor_class, fingerprint;
};

struct Device {
    MacAddress mac{};
    std::string hostname;
    std::string vendor_class;
    std::string fingerprint;       // dhcp_fingerprint of the last DISCOVER/REQUEST/INFORM
    uint8_t last_dhcp_type = 0;
    std::vector<uint32_t> ipv4;    // network order; from ARP and from DHCP requested/ciaddr
    uint64_t first_seen_ns = 0;
    uint64_t last_seen_ns = 0;     // CLOCK_MONOTONIC, like bpf_ktime_get_ns
};

// MAC -> device, fed by DHCP and ARP records. Pure user space (unit-tested without a kernel).
class DeviceTable {
public:
    void on_dhcp(const fw_dhcp_record& rec);
    void on_arp(const fw_arp_record& rec);
    [[nodiscard]] std::optional<Device> find(const MacAddress& mac) const;
    [[nodiscard]] std::vector<Device> devices() const;
    [[nodiscard]] size_t size() const { return devices_.size(); }

private:
    Device& touch(const MacAddress& mac, uint64_t ts);
    static void add_ip(Device& d, uint32_t ip);
    std::map<MacAddress, Device> devices_;
};

struct SocketMonitorOptions {
    bool dns = true;
    bool tls = true;
    bool dhcp = true;  // DHCP fingerprints and ARP
};

struct SocketMonitorHandlers {
    std::function<void(const DnsEvent&)> on_dns;
    std::function<void(const TlsEvent&)> on_tls;
    std::function<void(const DhcpEvent&)> on_dhcp;
    std::function<void(const fw_arp_record&)> on_arp;
};

struct ArpBinding {
    fw_arp_key key;
    fw_arp_entry entry;
};

class SocketMonitors {
public:
    static Result<SocketMonitors> load(SocketMonitorOptions options = {});
    SocketMonitors(SocketMonitors&&) noexcept;
    SocketMonitors& operator=(SocketMonitors&&) noexcept;
    SocketMonitors(const SocketMonitors&) = delete;
    SocketMonitors& operator=(const SocketMonitors&) = delete;
    ~SocketMonitors();

    // One AF_PACKET socket per loaded monitor, on `iface` or on every interface. The hooks
    // belong to `hooks`; detach() (or hooks.detach_all()) removes them.
    Status attach(HookManager& hooks, const std::optional<InterfaceRef>& iface = {});
    Status detach(HookManager& hooks);
    [[nodiscard]] const std::vector<HookId>& hook_ids() const { return hook_ids_; }

    void set_handlers(SocketMonitorHandlers handlers);
    // Drains every ring buffer (waiting up to timeout_ms for the first record), updates the
    // device table, calls the handlers. Returns the number of records consumed.
    Result<int> poll(int timeout_ms);

    [[nodiscard]] const DeviceTable& devices() const;
    Result<std::vector<ArpBinding>> arp_table() const;

    // Program fds (-1 when that monitor is not loaded) and ring buffer fds for an external
    // event processor.
    [[nodiscard]] int dns_prog_fd() const;
    [[nodiscard]] int tls_prog_fd() const;
    [[nodiscard]] int dhcp_prog_fd() const;
    [[nodiscard]] std::vector<int> ring_fds() const;

    Result<fw_dns_stats> dns_stats() const;
    Result<fw_tls_stats> tls_stats() const;
    Result<fw_dhcp_stats> dhcp_stats() const;
    // qtype -> queries (qtypes >= 256 are counted under 0); rcode -> responses.
    Result<std::map<uint16_t, uint64_t>> dns_qtype_counts() const;
    Result<std::map<uint8_t, uint64_t>> dns_rcode_counts() const;
    [[nodiscard]] std::vector<MapRef> all_maps() const;

    // Decoding of raw records (what poll() hands to the handlers).
    static DnsEvent decode(const fw_dns_record& rec);
    static Result<TlsEvent> decode(const fw_tls_hello& rec);
    static DhcpEvent decode(const fw_dhcp_record& rec);

private:
    struct State;  // skeletons, ring buffer, handlers, device table (heap: stable for callbacks)
    explicit SocketMonitors(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
    std::vector<HookId> hook_ids_;
};

}  // namespace flywall
