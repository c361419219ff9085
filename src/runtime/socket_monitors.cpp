#include "runtime/socket_monitors.hpp"
#include "common/text.hpp"

#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>

namespace flywall {

std::string mac_to_string(const MacAddress& mac) {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return buf;
}

std::string ip_to_string(uint8_t family, const uint8_t* addr) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof(buf))) return {};
    return buf;
}

std::string dhcp_fingerprint(std::span<const uint8_t> prl) {
    std::string s;
    for (size_t i = 0; i < prl.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(prl[i]);
    }
    return s;
}

// ---- DeviceTable ----

Device& DeviceTable::touch(const MacAddress& mac, uint64_t ts) {
    auto [it, inserted] = devices_.try_emplace(mac);
    Device& d = it->second;
    if (inserted) {
        d.mac = mac;
        d.first_seen_ns = ts;
    }
    d.last_seen_ns = std::max(d.last_seen_ns, ts);
    return d;
}

void DeviceTable::add_ip(Device& d, uint32_t ip) {
    if (ip != 0 && std::find(d.ipv4.begin(), d.ipv4.end(), ip) == d.ipv4.end()) d.ipv4.push_back(ip);
}

void DeviceTable::on_dhcp(const fw_dhcp_record& rec) {
    MacAddress mac;
    std::memcpy(mac.data(), rec.mac, 6);
    if (mac == MacAddress{}) return;  // not an Ethernet client
    Device& d = touch(mac, rec.ts_ns);
    const auto ev = SocketMonitors::decode(rec);
    if (!ev.hostname.empty()) d.hostname = ev.hostname;
    if (!ev.vendor_class.empty()) d.vendor_class = ev.vendor_class;
    if (rec.prl_len) d.fingerprint = ev.fingerprint;
    if (rec.msg_type) d.last_dhcp_type = rec.msg_type;
    add_ip(d, rec.ciaddr);
    if (rec.flags & FW_DHCP_HAS_REQ_IP) add_ip(d, rec.requested_ip);
}

void DeviceTable::on_arp(const fw_arp_record& rec) {
    MacAddress mac;
    std::memcpy(mac.data(), rec.mac, 6);
    Device& d = touch(mac, rec.ts_ns);
    add_ip(d, rec.ip);
    if (rec.change == FW_ARP_CHANGED) {  // the address left its previous owner
        MacAddress old;
        std::memcpy(old.data(), rec.old_mac, 6);
        auto it = devices_.find(old);
        if (it != devices_.end() && old != mac) std::erase(it->second.ipv4, rec.ip);
    }
}

std::optional<Device> DeviceTable::find(const MacAddress& mac) const {
    auto it = devices_.find(mac);
    if (it == devices_.end()) return std::nullopt;
    return it->second;
}

std::vector<Device> DeviceTable::devices() const {
    std::vector<Device> out;
    for (const auto& [mac, d] : devices_) out.push_back(d);
    return out;
}

// ---- decoding ----

DnsEvent SocketMonitors::decode(const fw_dns_record& rec) {
    DnsEvent e;
    e.raw = rec;
    e.name = text::safe(std::string_view(rec.name, strnlen(rec.name, std::min<size_t>(rec.name_len, FW_DNS_QNAME_MAX - 1))));
    e.client = ip_to_string(rec.family, rec.client);
    return e;
}

Result<TlsEvent> SocketMonitors::decode(const fw_tls_hello& rec) {
    TlsEvent e;
    e.raw = rec;
    e.fields = hello_fields(rec);
    e.ja3 = ja3_string(e.fields);
    FW_TRY_ASSIGN(e.ja3_hash, md5_hex(e.ja3));
    return e;
}

DhcpEvent SocketMonitors::decode(const fw_dhcp_record& rec) {
    DhcpEvent e;
    e.raw = rec;
    std::memcpy(e.mac.data(), rec.mac, 6);
    e.hostname = text::safe(std::string_view(rec.hostname, std::min<size_t>(rec.hostname_len, FW_DHCP_STR_MAX)));
    e.vendor_class = text::safe(std::string_view(rec.vendor, std::min<size_t>(rec.vendor_len, FW_DHCP_STR_MAX)));
    e.fingerprint = dhcp_fingerprint(std::span<const uint8_t>(rec.prl, std::min<size_t>(rec.prl_len, FW_DHCP_PRL_MAX)));
    return e;
}

// ---- SocketMonitors ----

struct SocketMonitors::State {
    std::optional<Skeleton<socket_dns>> dns;
    std::optional<Skeleton<socket_tls>> tls;
    std::optional<Skeleton<socket_dhcp>> dhcp;
    ring_buffer* rb = nullptr;
    SocketMonitorHandlers handlers;
    DeviceTable devices;
    int consumed = 0;
    std::optional<Error> decode_error;

    ~State() {
        if (rb) ring_buffer__free(rb);
    }

    static int on_record(void* ctx, void* data, size_t size) {
        auto* s = static_cast<State*>(ctx);
        if (size < sizeof(fw_sock_record_hdr)) return 0;
        fw_sock_record_hdr h;
        std::memcpy(&h, data, sizeof(h));
        ++s->consumed;
        switch (h.type) {
            case FW_REC_DNS:
                if (size >= sizeof(fw_dns_record)) {
                    fw_dns_record r;
                    std::memcpy(&r, data, sizeof(r));
                    if (s->handlers.on_dns) s->handlers.on_dns(decode(r));
                }
                break;
            case FW_REC_TLS_HELLO:
                if (size >= sizeof(fw_tls_hello)) {
                    fw_tls_hello r;
                    std::memcpy(&r, data, sizeof(r));
                    auto ev = decode(r);
                    if (!ev) s->decode_error = std::move(ev).error();
                    else if (s->handlers.on_tls) s->handlers.on_tls(*ev);
                }
                break;
            case FW_REC_DHCP:
                if (size >= sizeof(fw_dhcp_record)) {
                    fw_dhcp_record r;
                    std::memcpy(&r, data, sizeof(r));
                    s->devices.on_dhcp(r);
                    if (s->handlers.on_dhcp) s->handlers.on_dhcp(decode(r));
                }
                break;
            case FW_REC_ARP:
                if (size >= sizeof(fw_arp_record)) {
                    fw_arp_record r;
                    std::memcpy(&r, data, sizeof(r));
                    s->devices.on_arp(r);
                    if (s->handlers.on_arp) s->handlers.on_arp(r);
                }
                break;
            default: break;
        }
        return 0;
    }

    Status add_ring(int fd, const char* name) {
        if (!rb) {
            rb = ring_buffer__new(fd, &State::on_record, this, nullptr);
            if (!rb) return Error::from_errno(errno, std::string("open ring buffer ") + name);
            return {};
        }
        if (int rc = ring_buffer__add(rb, fd, &State::on_record, this); rc < 0)
            return Error::from_neg(rc, std::string("add ring buffer ") + name);
        return {};
    }
};

SocketMonitors::SocketMonitors(std::unique_ptr<State> s) : s_(std::move(s)) {}
SocketMonitors::SocketMonitors(SocketMonitors&&) noexcept = default;
SocketMonitors& SocketMonitors::operator=(SocketMonitors&&) noexcept = default;
SocketMonitors::~SocketMonitors() = default;

Result<SocketMonitors> SocketMonitors::load(SocketMonitorOptions o) {
    auto s = std::make_unique<State>();
    if (o.dns) {
        FW_TRY_ASSIGN(auto sk, Skeleton<socket_dns>::open_and_load());
        s->dns.emplace(std::move(sk));
        FW_TRY(s->add_ring(bpf_map__fd(s->dns->get()->maps.dns_records), "dns_records"));
    }
    if (o.tls) {
        FW_TRY_ASSIGN(auto sk, Skeleton<socket_tls>::open_and_load());
        s->tls.emplace(std::move(sk));
        FW_TRY(s->add_ring(bpf_map__fd(s->tls->get()->maps.tls_hellos), "tls_hellos"));
    }
    if (o.dhcp) {
        FW_TRY_ASSIGN(auto sk, Skeleton<socket_dhcp>::open_and_load());
        s->dhcp.emplace(std::move(sk));
        FW_TRY(s->add_ring(bpf_map__fd(s->dhcp->get()->maps.dhcp_records), "dhcp_records"));
    }
    return SocketMonitors(std::move(s));
}

int SocketMonitors::dns_prog_fd() const { return s_->dns ? bpf_program__fd((*s_->dns)->progs.socket_dns) : -1; }
int SocketMonitors::tls_prog_fd() const { return s_->tls ? bpf_program__fd((*s_->tls)->progs.socket_tls) : -1; }
int SocketMonitors::dhcp_prog_fd() const { return s_->dhcp ? bpf_program__fd((*s_->dhcp)->progs.socket_dhcp) : -1; }

std::vector<int> SocketMonitors::ring_fds() const {
    std::vector<int> out;
    if (s_->dns) out.push_back(bpf_map__fd((*s_->dns)->maps.dns_records));
    if (s_->tls) out.push_back(bpf_map__fd((*s_->tls)->maps.tls_hellos));
    if (s_->dhcp) out.push_back(bpf_map__fd((*s_->dhcp)->maps.dhcp_records));
    return out;
}

Status SocketMonitors::attach(HookManager& hooks, const std::optional<InterfaceRef>& iface) {
    for (int fd : {dns_prog_fd(), tls_prog_fd(), dhcp_prog_fd()}) {
        if (fd < 0) continue;
        auto a = hooks.attach_socket_filter(fd, iface);
        if (!a) {
            (void)detach(hooks);
            return std::move(a).error().wrap("attach socket monitors");
        }
        hook_ids_.push_back(a->id);
    }
    return {};
}

Status SocketMonitors::detach(HookManager& hooks) {
    Status first;
    for (HookId id : hook_ids_) {
        auto r = hooks.detach(id);
        if (!r && first.ok()) first = std::move(r).error().wrap("detach socket monitors");
    }
    hook_ids_.clear();
    return first;
}

void SocketMonitors::set_handlers(SocketMonitorHandlers handlers) { s_->handlers = std::move(handlers); }

Result<int> SocketMonitors::poll(int timeout_ms) {
    if (!s_->rb) return 0;
    s_->consumed = 0;
    s_->decode_error.reset();
    int rc = ring_buffer__poll(s_->rb, timeout_ms);
    if (rc < 0 && rc != -EINTR) return Error::from_neg(rc, "poll socket monitor ring buffers");
    if (s_->decode_error) return std::move(*s_->decode_error).wrap("decode TLS hello");
    return s_->consumed;
}

const DeviceTable& SocketMonitors::devices() const { return s_->devices; }

Result<std::vector<ArpBinding>> SocketMonitors::arp_table() const {
    std::vector<ArpBinding> out;
    if (!s_->dhcp) return out;
    Map<fw_arp_key, fw_arp_entry> m(bpf_map__fd((*s_->dhcp)->maps.arp_table), "arp_table");
    FW_TRY(m.for_each([&](const fw_arp_key& k, const fw_arp_entry& e) { out.push_back({k, e}); }));
    return out;
}

namespace {
template <class V>
Result<V> sum_stats(int fd, const char* name) {
    if (fd < 0) return Error::from_errno(ENOENT, std::string(name) + ": monitor not loaded");
    return PerCpuMap<__u32, V>(fd, name).lookup_sum(0);
}
}  // namespace

Result<fw_dns_stats> SocketMonitors::dns_stats() const {
    return sum_stats<fw_dns_stats>(s_->dns ? bpf_map__fd((*s_->dns)->maps.dns_stats) : -1, "dns_stats");
}
Result<fw_tls_stats> SocketMonitors::tls_stats() const {
    return sum_stats<fw_tls_stats>(s_->tls ? bpf_map__fd((*s_->tls)->maps.tls_stats) : -1, "tls_stats");
}
Result<fw_dhcp_stats> SocketMonitors::dhcp_stats() const {
    return sum_stats<fw_dhcp_stats>(s_->dhcp ? bpf_map__fd((*s_->dhcp)->maps.dhcp_stats) : -1, "dhcp_stats");
}

Result<std::map<uint16_t, uint64_t>> SocketMonitors::dns_qtype_counts() const {
    std::map<uint16_t, uint64_t> out;
    if (!s_->dns) return Error::from_errno(ENOENT, "dns_qtype_counts: monitor not loaded");
    PerCpuMap<__u32, __u64> m(bpf_map__fd((*s_->dns)->maps.dns_qtype_counts), "dns_qtype_counts");
    for (__u32 q = 0; q < FW_DNS_QTYPE_SLOTS; ++q) {
        FW_TRY_ASSIGN(auto v, m.lookup_sum(q));
        if (v) out[static_cast<uint16_t>(q)] = v;
    }
    return out;
}

Result<std::map<uint8_t, uint64_t>> SocketMonitors::dns_rcode_counts() const {
    std::map<uint8_t, uint64_t> out;
    if (!s_->dns) return Error::from_errno(ENOENT, "dns_rcode_counts: monitor not loaded");
    PerCpuMap<__u32, __u64> m(bpf_map__fd((*s_->dns)->maps.dns_rcode_counts), "dns_rcode_counts");
    for (__u32 r = 0; r < FW_DNS_RCODE_SLOTS; ++r) {
        FW_TRY_ASSIGN(auto v, m.lookup_sum(r));
        if (v) out[static_cast<uint8_t>(r)] = v;
    }
    return out;
}

std::vector<MapRef> SocketMonitors::all_maps() const {
    std::vector<MapRef> out;
    auto add = [&](bpf_object* obj) {
        bpf_map* m;
        bpf_object__for_each_map(m, obj) {
            if (bpf_map__fd(m) >= 0) out.emplace_back(bpf_map__fd(m), bpf_map__name(m));
        }
    };
    if (s_->dns) add(s_->dns->object());
    if (s_->tls) add(s_->tls->object());
    if (s_->dhcp) add(s_->dhcp->object());
    return out;
}

}  // namespace flywall
