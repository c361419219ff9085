#include "core/socket_monitor_service.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

namespace flywall {

namespace {

std::string ipv4_text(std::uint32_t be_ip) {
    std::uint8_t a[16] = {};
    std::memcpy(a, &be_ip, 4);
    return ip_to_string(4, a);
}

Event event_of(SocketEventType t, std::uint64_t ts_ns) {
    Event e;
    e.ts_ns = ts_ns;
    e.type = static_cast<std::uint32_t>(t);
    e.type_name = std::string(to_string(t));
    return e;
}

// Monitors in the order of SocketMonitorFeature after SocketFilters (dns, tls, dhcp).
constexpr int kMonitors = 3;

}  // namespace

std::string_view to_string(SocketEventType t) {
    for (const auto& k : kSocketEventKinds)
        if (k.type == t) return k.name;
    return "unknown";
}

std::optional<SocketEventType> socket_event_type(std::uint32_t record_type) {
    for (const auto& k : kSocketEventKinds)
        if (k.record_type == record_type) return k.type;
    return std::nullopt;
}

std::optional<SocketMonitorFeature> socket_monitor_feature(std::string_view name) {
    if (name == "socket_filters") return SocketMonitorFeature::SocketFilters;
    if (name == "dns_monitoring") return SocketMonitorFeature::Dns;
    if (name == "tls_fingerprinting") return SocketMonitorFeature::Tls;
    if (name == "dhcp_monitoring") return SocketMonitorFeature::Dhcp;
    return std::nullopt;
}

DnsMessageView to_dns_view(const DnsEvent& d) {
    DnsMessageView v;
    v.ts_ns = d.raw.ts_ns;
    v.response = d.raw.is_response != 0;
    v.client = d.client;
    v.server = ip_to_string(d.raw.family, d.raw.server);
    v.name = d.name;
    v.qtype = d.raw.qtype;
    v.rcode = d.raw.rcode;
    return v;
}

std::optional<Event> to_event(const DnsEvent& d) {
    if (d.raw.is_response != 0) return std::nullopt;
    const DnsMessageView v = to_dns_view(d);
    Event e = event_of(SocketEventType::DnsQuery, v.ts_ns);
    e.ifindex = d.raw.ifindex;
    e.family = d.raw.family;
    e.proto = IPPROTO_UDP;
    e.src = v.client;
    e.dst = v.server;
    e.sport = ntohs(d.raw.client_port);
    e.dport = ntohs(d.raw.server_port);
    e.name = v.name;
    e.extra = nlohmann::json{{"qtype", v.qtype}};
    return e;
}

TlsHelloView to_tls_view(const TlsEvent& t) {
    TlsHelloView v;
    v.ts_ns = t.raw.ts_ns;
    v.src = ip_to_string(t.raw.family, t.raw.saddr);
    v.dst = ip_to_string(t.raw.family, t.raw.daddr);
    v.sport = ntohs(t.raw.sport);
    v.dport = ntohs(t.raw.dport);
    v.sni = t.fields.sni;
    v.ja3 = t.ja3;
    v.ja3_hash = t.ja3_hash;
    return v;
}

Event to_event(const TlsEvent& t) {
    const TlsHelloView v = to_tls_view(t);
    Event e = event_of(SocketEventType::TlsClientHello, v.ts_ns);
    e.ifindex = t.raw.ifindex;
    e.family = t.raw.family;
    e.proto = IPPROTO_TCP;
    e.src = v.src;
    e.dst = v.dst;
    e.sport = v.sport;
    e.dport = v.dport;
    e.name = v.sni;
    e.extra = nlohmann::json{{"sni", v.sni}, {"ja3", v.ja3}, {"ja3_hash", v.ja3_hash}};
    return e;
}

Event to_event(const DhcpEvent& d) {
    Event e = event_of(SocketEventType::DhcpDevice, d.raw.ts_ns);
    e.ifindex = d.raw.ifindex;
    e.family = 4;
    e.proto = IPPROTO_UDP;
    e.src = ipv4_text(d.raw.src_ip);
    e.name = d.hostname;
    e.extra = nlohmann::json{{"mac", mac_to_string(d.mac)},
                             {"hostname", d.hostname},
                             {"vendor_class", d.vendor_class},
                             {"fingerprint", d.fingerprint},
                             {"dhcp_type", d.raw.msg_type}};
    return e;
}

Event to_event(const fw_arp_record& r) {
    MacAddress mac{}, old{};
    std::memcpy(mac.data(), r.mac, 6);
    std::memcpy(old.data(), r.old_mac, 6);
    Event e = event_of(SocketEventType::ArpBinding, r.ts_ns);
    e.ifindex = r.ifindex;
    e.family = 4;
    e.src = ipv4_text(r.ip);
    e.extra = nlohmann::json{{"ip", e.src}, {"mac", mac_to_string(mac)}, {"op", r.op}};
    if (old != MacAddress{}) e.extra["old_mac"] = mac_to_string(old);
    return e;
}

SocketMonitorService::SocketMonitorService(ErrorReporter report_error) : report_error_(std::move(report_error)) {}

SocketMonitorService::~SocketMonitorService() { stop(); }

Status SocketMonitorService::load(SocketMonitorOptions options) {
    FW_TRY_ASSIGN(auto sm, SocketMonitors::load(options));
    std::lock_guard lk(mu_);
    sock_.emplace(std::move(sm));
    return {};
}

bool SocketMonitorService::loaded() const {
    std::lock_guard lk(mu_);
    return sock_.has_value();
}

void SocketMonitorService::start(EventSink sink) {
    std::lock_guard lk(mu_);
    if (!sock_ || thread_.joinable()) return;
    sink_ = std::move(sink);
    sock_->set_handlers(handlers());
    thread_ = std::thread([this] { socket_loop(); });
}

void SocketMonitorService::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lk(mu_);
    if (auto st = hooks_.detach_all(); !st.ok()) spdlog::warn("flywall: detach socket monitors: {}", st.error().message());
    attached_.clear();
    sock_.reset();
}

void SocketMonitorService::set_interfaces(std::vector<std::string> names) {
    std::lock_guard lk(mu_);
    interfaces_ = std::move(names);
}

Status SocketMonitorService::set_wanted(SocketMonitorFeature feature, bool on) {
    std::lock_guard lk(mu_);
    if (on && !sock_) return Error::from_errno(ENOTSUP, "the socket monitors did not load");
    auto& want = want_[static_cast<std::size_t>(feature)];
    const bool before = want;
    want = on;
    auto st = reconcile_locked();
    if (st.ok()) return {};
    if (on) {
        want = before;
        (void)reconcile_locked();
        return st;
    }
    if (report_error_) report_error_(st.error());
    return {};
}

Status SocketMonitorService::reconcile() {
    std::lock_guard lk(mu_);
    return reconcile_locked();
}

Status SocketMonitorService::reconcile_locked() {
    if (!sock_) return {};
    const int fds[kMonitors] = {sock_->dns_prog_fd(), sock_->tls_prog_fd(), sock_->dhcp_prog_fd()};
    std::set<std::pair<std::string, int>> want;
    if (want_[static_cast<std::size_t>(SocketMonitorFeature::SocketFilters)])
        for (const auto& name : interfaces_)
            for (int m = 0; m < kMonitors; ++m)
                if (want_[static_cast<std::size_t>(m + 1)] && fds[m] >= 0) want.insert({name, m});
    Status first;
    for (auto it = attached_.begin(); it != attached_.end();) {
        if (want.count(it->first)) {
            ++it;
            continue;
        }
        auto r = hooks_.detach(it->second);
        if (!r.ok() && first.ok()) first = std::move(r).error().wrap("detach socket monitor from " + it->first.first);
        it = attached_.erase(it);
    }
    for (const auto& key : want) {
        if (attached_.count(key)) continue;
        auto a = hooks_.attach_socket_filter(fds[key.second], InterfaceRef(key.first));
        if (!a.ok()) {
            if (first.ok()) first = std::move(a).error().wrap("attach socket monitor to " + key.first);
            continue;
        }
        attached_[key] = a->id;
    }
    return first;
}

SocketMonitorHandlers SocketMonitorService::handlers() {
    SocketMonitorHandlers h;
    h.on_dns = [this](const DnsEvent& d) {
        dns_recent_.push_back(to_dns_view(d));
        if (dns_recent_.size() > kRecentMax) dns_recent_.pop_front();
        if (!sink_) return;
        if (auto e = to_event(d)) sink_(*e);
    };
    h.on_tls = [this](const TlsEvent& t) {
        tls_recent_.push_back(to_tls_view(t));
        if (tls_recent_.size() > kRecentMax) tls_recent_.pop_front();
        if (sink_) sink_(to_event(t));
    };
    h.on_dhcp = [this](const DhcpEvent& d) {
        if (sink_) sink_(to_event(d));
    };
    h.on_arp = [this](const fw_arp_record& r) {
        if (sink_) sink_(to_event(r));
    };
    return h;
}

void SocketMonitorService::socket_loop() {
    while (!stop_.load()) {
        {
            std::lock_guard lk(mu_);
            auto r = sock_->poll(0);
            if (!r.ok() && report_error_) report_error_(std::move(r).error().wrap("socket monitors"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

std::vector<HookInfo> SocketMonitorService::hooks() const {
    std::lock_guard lk(mu_);
    return hooks_.list();
}

Result<std::vector<Device>> SocketMonitorService::devices() const {
    std::lock_guard lk(mu_);
    if (!sock_) return Error::from_errno(ENODEV, "socket monitors not loaded");
    return sock_->devices().devices();
}

Result<std::vector<TlsHelloView>> SocketMonitorService::tls_hellos() const {
    std::lock_guard lk(mu_);
    if (!sock_) return Error::from_errno(ENODEV, "socket monitors not loaded");
    return std::vector<TlsHelloView>(tls_recent_.begin(), tls_recent_.end());
}

Result<DnsReport> SocketMonitorService::dns() const {
    std::lock_guard lk(mu_);
    if (!sock_) return Error::from_errno(ENODEV, "socket monitors not loaded");
    DnsReport r;
    FW_TRY_ASSIGN(r.stats, sock_->dns_stats());
    FW_TRY_ASSIGN(r.qtypes, sock_->dns_qtype_counts());
    FW_TRY_ASSIGN(r.rcodes, sock_->dns_rcode_counts());
    r.recent.assign(dns_recent_.begin(), dns_recent_.end());
    return r;
}

}  // namespace flywall
