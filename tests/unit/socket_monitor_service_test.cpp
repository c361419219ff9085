// SocketMonitorService without a kernel: the translation of monitor records into Events (the
// table of ids and names, every field of every kind) and the service's behaviour when the
// monitors did not load. The live path (attach, poll thread, events) is in
// tests/kernel/socket_monitor_service_test.cpp.
#include "core/socket_monitor_service.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <set>

#include "flywall/abi.h"
#include "flywall/abi_tc.h"

namespace flywall {
namespace {

void set_ip(std::uint8_t family, const char* text, std::uint8_t* out16) {
    std::memset(out16, 0, 16);
    ASSERT_EQ(inet_pton(family == 4 ? AF_INET : AF_INET6, text, out16), 1) << text;
}

std::uint32_t be_ipv4(const char* text) {
    in_addr a{};
    inet_pton(AF_INET, text, &a);
    return a.s_addr;
}

TEST(SocketEventTable, IdsAreTheBasePlusTheRecordTypeAndNamesAreUnique) {
    std::set<std::uint32_t> ids;
    std::set<std::string_view> names;
    for (const auto& k : kSocketEventKinds) {
        EXPECT_EQ(static_cast<std::uint32_t>(k.type), kSocketEventBase + k.record_type) << k.name;
        EXPECT_EQ(to_string(k.type), k.name);
        EXPECT_EQ(socket_event_type(k.record_type), std::optional<SocketEventType>(k.type)) << k.name;
        ids.insert(static_cast<std::uint32_t>(k.type));
        names.insert(k.name);
    }
    EXPECT_EQ(ids.size(), kSocketEventKinds.size());
    EXPECT_EQ(names.size(), kSocketEventKinds.size());
    // The public ids of the event stream (type_id in SSE and the JSON-lines log).
    EXPECT_EQ(static_cast<std::uint32_t>(SocketEventType::DnsQuery), 0x101u);
    EXPECT_EQ(static_cast<std::uint32_t>(SocketEventType::TlsClientHello), 0x102u);
    EXPECT_EQ(static_cast<std::uint32_t>(SocketEventType::DhcpDevice), 0x103u);
    EXPECT_EQ(static_cast<std::uint32_t>(SocketEventType::ArpBinding), 0x104u);
    EXPECT_EQ(to_string(SocketEventType::DnsQuery), "dns_query");
    EXPECT_EQ(to_string(SocketEventType::TlsClientHello), "tls_client_hello");
    EXPECT_EQ(to_string(SocketEventType::DhcpDevice), "dhcp_device");
    EXPECT_EQ(to_string(SocketEventType::ArpBinding), "arp_binding");
    // No collision with the XDP and TC programs' event types.
    for (std::uint32_t xdp : {FW_EV_IP_BLOCKED, FW_EV_DOMAIN_BLOCKED, FW_EV_RATE_LIMITED, FW_EV_NEW_FLOW})
        EXPECT_FALSE(ids.count(xdp)) << xdp;
    for (std::uint32_t tc : {FW_TC_EV_IPS_ALERT, FW_TC_EV_IPS_DROP}) EXPECT_FALSE(ids.count(tc)) << tc;
    EXPECT_FALSE(socket_event_type(0).has_value());
    EXPECT_FALSE(socket_event_type(FW_REC_ARP + 1).has_value());
}

TEST(SocketEventTable, FeatureNamesMapToMonitors) {
    EXPECT_EQ(socket_monitor_feature("socket_filters"), SocketMonitorFeature::SocketFilters);
    EXPECT_EQ(socket_monitor_feature("dns_monitoring"), SocketMonitorFeature::Dns);
    EXPECT_EQ(socket_monitor_feature("tls_fingerprinting"), SocketMonitorFeature::Tls);
    EXPECT_EQ(socket_monitor_feature("dhcp_monitoring"), SocketMonitorFeature::Dhcp);
    EXPECT_FALSE(socket_monitor_feature("ip_blocklist").has_value());
    EXPECT_FALSE(socket_monitor_feature("").has_value());
}

DnsEvent dns_record(bool response) {
    DnsEvent d{};
    d.raw.ts_ns = 1000;
    d.raw.type = FW_REC_DNS;
    d.raw.ifindex = 3;
    d.raw.family = 6;
    d.raw.is_response = response ? 1 : 0;
    d.raw.rcode = response ? 3 : 0;
    d.raw.qtype = 28;
    d.raw.client_port = htons(40000);
    d.raw.server_port = htons(53);
    set_ip(6, "2001:db8::53", d.raw.server);
    d.client = "2001:db8::10";
    d.name = "www.example.test";
    return d;
}

TEST(SocketEventTranslation, DnsQueryBecomesAnEventAndAResponseOnlyAView) {
    const DnsEvent q = dns_record(false);
    const DnsMessageView v = to_dns_view(q);
    EXPECT_EQ(v.ts_ns, 1000u);
    EXPECT_FALSE(v.response);
    EXPECT_EQ(v.client, "2001:db8::10");
    EXPECT_EQ(v.server, "2001:db8::53");
    EXPECT_EQ(v.name, "www.example.test");
    EXPECT_EQ(v.qtype, 28);

    auto e = to_event(q);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->type, 0x101u);
    EXPECT_EQ(e->type_name, "dns_query");
    EXPECT_EQ(e->ts_ns, 1000u);
    EXPECT_EQ(e->ifindex, 3u);
    EXPECT_EQ(e->family, 6);
    EXPECT_EQ(e->proto, IPPROTO_UDP);
    EXPECT_EQ(e->src, "2001:db8::10");
    EXPECT_EQ(e->dst, "2001:db8::53");
    EXPECT_EQ(e->sport, 40000);
    EXPECT_EQ(e->dport, 53);
    EXPECT_EQ(e->name, "www.example.test");
    EXPECT_EQ(e->extra, (nlohmann::json{{"qtype", 28}}));
    const nlohmann::json j = to_json(*e);
    EXPECT_EQ(j.at("type"), "dns_query");
    EXPECT_EQ(j.at("type_id"), 0x101);
    EXPECT_EQ(j.at("qtype"), 28);

    const DnsEvent r = dns_record(true);
    EXPECT_FALSE(to_event(r).has_value());
    const DnsMessageView rv = to_dns_view(r);
    EXPECT_TRUE(rv.response);
    EXPECT_EQ(rv.rcode, 3);
}

TEST(SocketEventTranslation, TlsHelloCarriesSniAndJa3) {
    TlsEvent t{};
    t.raw.ts_ns = 2000;
    t.raw.type = FW_REC_TLS_HELLO;
    t.raw.ifindex = 4;
    t.raw.family = 4;
    t.raw.sport = htons(51000);
    t.raw.dport = htons(443);
    set_ip(4, "198.18.0.10", t.raw.saddr);
    set_ip(4, "198.18.1.1", t.raw.daddr);
    t.fields.sni = "site.example.test";
    t.ja3 = "771,4865,0-10,29,0";
    t.ja3_hash = "0123456789abcdef0123456789abcdef";

    const TlsHelloView v = to_tls_view(t);
    EXPECT_EQ(v.src, "198.18.0.10");
    EXPECT_EQ(v.dst, "198.18.1.1");
    EXPECT_EQ(v.sport, 51000);
    EXPECT_EQ(v.dport, 443);
    EXPECT_EQ(v.sni, "site.example.test");
    EXPECT_EQ(v.ja3, t.ja3);
    EXPECT_EQ(v.ja3_hash, t.ja3_hash);

    const Event e = to_event(t);
    EXPECT_EQ(e.type, 0x102u);
    EXPECT_EQ(e.type_name, "tls_client_hello");
    EXPECT_EQ(e.ts_ns, 2000u);
    EXPECT_EQ(e.ifindex, 4u);
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.proto, IPPROTO_TCP);
    EXPECT_EQ(e.src, "198.18.0.10");
    EXPECT_EQ(e.dst, "198.18.1.1");
    EXPECT_EQ(e.sport, 51000);
    EXPECT_EQ(e.dport, 443);
    EXPECT_EQ(e.name, "site.example.test");
    EXPECT_EQ(e.extra, (nlohmann::json{{"sni", t.fields.sni}, {"ja3", t.ja3}, {"ja3_hash", t.ja3_hash}}));
}

TEST(SocketEventTranslation, DhcpDeviceCarriesTheFingerprint) {
    DhcpEvent d{};
    d.raw.ts_ns = 3000;
    d.raw.type = FW_REC_DHCP;
    d.raw.ifindex = 5;
    d.raw.msg_type = 1;
    d.raw.src_ip = be_ipv4("198.18.0.20");
    d.mac = {0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc};
    d.hostname = "printer";
    d.vendor_class = "MSFT 5.0";
    d.fingerprint = "1,3,6,15";
    const Event e = to_event(d);
    EXPECT_EQ(e.type, 0x103u);
    EXPECT_EQ(e.type_name, "dhcp_device");
    EXPECT_EQ(e.ts_ns, 3000u);
    EXPECT_EQ(e.ifindex, 5u);
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.proto, IPPROTO_UDP);
    EXPECT_EQ(e.src, "198.18.0.20");
    EXPECT_EQ(e.name, "printer");
    EXPECT_EQ(e.extra, (nlohmann::json{{"mac", "02:00:00:aa:bb:cc"},
                                       {"hostname", "printer"},
                                       {"vendor_class", "MSFT 5.0"},
                                       {"fingerprint", "1,3,6,15"},
                                       {"dhcp_type", 1}}));
}

TEST(SocketEventTranslation, ArpBindingReportsTheOldMacOnlyWhenItChanged) {
    fw_arp_record r{};
    r.ts_ns = 4000;
    r.type = FW_REC_ARP;
    r.ifindex = 6;
    r.ip = be_ipv4("198.18.0.1");
    r.op = 2;
    const std::uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::memcpy(r.mac, mac, 6);
    Event e = to_event(r);
    EXPECT_EQ(e.type, 0x104u);
    EXPECT_EQ(e.type_name, "arp_binding");
    EXPECT_EQ(e.ts_ns, 4000u);
    EXPECT_EQ(e.ifindex, 6u);
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.proto, 0);
    EXPECT_EQ(e.src, "198.18.0.1");
    EXPECT_EQ(e.extra, (nlohmann::json{{"ip", "198.18.0.1"}, {"mac", "02:00:00:00:00:01"}, {"op", 2}}));

    const std::uint8_t old[6] = {0x02, 0, 0, 0, 0, 0x02};
    std::memcpy(r.old_mac, old, 6);
    e = to_event(r);
    EXPECT_EQ(e.extra.at("old_mac"), "02:00:00:00:00:02");
}

TEST(SocketMonitorServiceNotLoaded, MonitorsCannotTurnOnAndViewsSayWhy) {
    std::vector<std::string> reported;
    SocketMonitorService s([&](const Error& e) { reported.push_back(e.message()); });
    EXPECT_FALSE(s.loaded());
    auto st = s.set_wanted(SocketMonitorFeature::Dns, true);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().errnum(), ENOTSUP);
    EXPECT_TRUE(s.set_wanted(SocketMonitorFeature::Dns, false).ok());  // off is always possible
    s.set_interfaces({"lo"});
    EXPECT_TRUE(s.reconcile().ok());
    s.start([](const Event&) {});  // nothing to poll: no thread
    EXPECT_TRUE(s.hooks().empty());
    EXPECT_EQ(s.devices().error().errnum(), ENODEV);
    EXPECT_EQ(s.tls_hellos().error().errnum(), ENODEV);
    EXPECT_EQ(s.dns().error().errnum(), ENODEV);
    s.stop();
    s.stop();
    EXPECT_TRUE(reported.empty());
}

}  // namespace
}  // namespace flywall
