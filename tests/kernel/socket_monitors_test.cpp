// Kernel tests of the socket monitors. BPF_PROG_TEST_RUN runs SOCKET_FILTER programs (the
// frame goes in with its Ethernet header; the program sees it from the network header, as on
// a packet socket it reads relative to the network header). Records are read back through
// SocketMonitors::poll, exactly as the daemon reads them. Two live tests attach the filters
// to AF_PACKET sockets on loopback (HookManager) and send real datagrams / a real TCP stream.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/socket_monitors.hpp"
#include "tls_vectors.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

Bytes dns_message(uint16_t id, uint16_t flags, const std::vector<std::string>& labels, uint16_t qtype,
                  uint16_t ancount = 0) {
    Bytes m = {uint8_t(id >> 8), uint8_t(id), uint8_t(flags >> 8), uint8_t(flags), 0, 1, uint8_t(ancount >> 8),
               uint8_t(ancount), 0, 0, 0, 0};
    for (const auto& l : labels) {
        m.push_back(static_cast<uint8_t>(l.size()));
        m.insert(m.end(), l.begin(), l.end());
    }
    m.push_back(0);
    m.push_back(uint8_t(qtype >> 8));
    m.push_back(uint8_t(qtype));
    m.push_back(0);
    m.push_back(1);  // IN
    return m;
}

struct Collected {
    std::vector<DnsEvent> dns;
    std::vector<TlsEvent> tls;
    std::vector<DhcpEvent> dhcp;
    std::vector<fw_arp_record> arp;
};

class SocketMonitorsTest : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto m = SocketMonitors::load();
        ASSERT_TRUE(m.ok()) << m.error().message();
        mon_.emplace(std::move(m).value());
        mon_->set_handlers({
            [this](const DnsEvent& e) { got_.dns.push_back(e); },
            [this](const TlsEvent& e) { got_.tls.push_back(e); },
            [this](const DhcpEvent& e) { got_.dhcp.push_back(e); },
            [this](const fw_arp_record& r) { got_.arp.push_back(r); },
        });
    }
    void run(int fd, const Bytes& frame) {
        auto r = run_prog(fd, frame);
        ASSERT_TRUE(r.ok()) << r.error().message();
        EXPECT_EQ(r->retval, 0u) << "monitors never queue frames to their socket";
    }
    void drain() {
        auto n = mon_->poll(0);
        ASSERT_TRUE(n.ok()) << n.error().message();
    }
    std::optional<SocketMonitors> mon_;
    Collected got_;
};

}  // namespace

TEST_F(SocketMonitorsTest, DnsQueriesAndResponsesAreReportedAndCounted) {
    const int fd = mon_->dns_prog_fd();
    auto q = dns_message(0x1234, 0x0100, {"www", "Example", "com"}, 1);
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.53", IPPROTO_UDP).udp(40000, 53).payload(q.data(), q.size()).build());
    auto q6 = dns_message(7, 0x0100, {"ipv6", "example", "org"}, 28);
    run(fd, PacketBuilder().eth().ipv6("2001:db8::10", "2001:db8::53", IPPROTO_UDP).udp(40001, 53).payload(q6.data(), q6.size()).build());
    auto resp = dns_message(0x1234, 0x8183, {"nope", "example", "com"}, 1);  // NXDOMAIN
    run(fd, PacketBuilder().eth().ipv4("198.18.1.53", "198.18.0.10", IPPROTO_UDP).udp(53, 40000).payload(resp.data(), resp.size()).build());
    auto root = dns_message(9, 0x0100, {}, 2);  // ". NS"
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.53", IPPROTO_UDP).udp(40002, 53).payload(root.data(), root.size()).build());
    // not DNS: nothing reported
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.53", IPPROTO_UDP).udp(40000, 54).payload(q.data(), q.size()).build());
    run(fd, PacketBuilder().eth(0x0806).pad_to(60).build());
    drain();

    ASSERT_EQ(got_.dns.size(), 4u);
    const auto& a = got_.dns[0];
    EXPECT_EQ(a.name, "www.Example.com");
    EXPECT_EQ(a.raw.qtype, 1);
    EXPECT_EQ(a.raw.qclass, 1);
    EXPECT_EQ(a.raw.id, 0x1234);
    EXPECT_FALSE(a.raw.is_response);
    EXPECT_EQ(a.client, "198.18.0.10");
    EXPECT_EQ(ntohs(a.raw.client_port), 40000);
    EXPECT_EQ(a.raw.ifindex, 1u);
    EXPECT_EQ(got_.dns[1].name, "ipv6.example.org");
    EXPECT_EQ(got_.dns[1].raw.qtype, 28);
    EXPECT_EQ(got_.dns[1].client, "2001:db8::10");
    const auto& r = got_.dns[2];
    EXPECT_TRUE(r.raw.is_response);
    EXPECT_EQ(r.raw.rcode, 3);
    EXPECT_EQ(r.name, "nope.example.com");
    EXPECT_EQ(r.client, "198.18.0.10");  // the querier is the response's destination
    EXPECT_EQ(got_.dns[3].name, "");
    EXPECT_EQ(got_.dns[3].raw.qtype, 2);

    auto types = mon_->dns_qtype_counts();
    ASSERT_TRUE(types.ok()) << types.error().message();
    EXPECT_EQ((*types)[1], 1u);
    EXPECT_EQ((*types)[28], 1u);
    EXPECT_EQ((*types)[2], 1u);
    auto rcodes = mon_->dns_rcode_counts();
    ASSERT_TRUE(rcodes.ok());
    EXPECT_EQ((*rcodes)[3], 1u);
    auto st = mon_->dns_stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->packets, 6u);
    EXPECT_EQ(st->dns_packets, 4u);
    EXPECT_EQ(st->queries, 3u);
    EXPECT_EQ(st->responses, 1u);
    EXPECT_EQ(st->records, 4u);
}

TEST_F(SocketMonitorsTest, DnsLongCompressedAndTruncatedNames) {
    const int fd = mon_->dns_prog_fd();
    // 253-character name: the longest legal
    std::vector<std::string> labels = {std::string(63, 'a'), std::string(63, 'b'), std::string(63, 'c'),
                                       std::string(61, 'd')};
    auto q = dns_message(1, 0x0100, labels, 16);
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.53", IPPROTO_UDP).udp(1000, 53).payload(q.data(), q.size()).build());
    // compression pointer inside the question
    Bytes c = {0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0xC0, 12, 0, 1, 0, 1};
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.53", IPPROTO_UDP).udp(1001, 53).payload(c.data(), c.size()).build());
    // packet ends inside the name
    Bytes t = {0, 3, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a'};
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.53", IPPROTO_UDP).udp(1002, 53).payload(t.data(), t.size()).build());
    drain();
    ASSERT_EQ(got_.dns.size(), 3u);
    EXPECT_EQ(got_.dns[0].name.size(), 253u);
    EXPECT_EQ(got_.dns[0].name, labels[0] + "." + labels[1] + "." + labels[2] + "." + labels[3]);
    EXPECT_EQ(got_.dns[0].raw.qtype, 16);
    EXPECT_EQ(got_.dns[1].raw.name_flags & FW_DNS_NAME_COMPRESSED, FW_DNS_NAME_COMPRESSED);
    EXPECT_EQ(got_.dns[1].name, "www");
    EXPECT_EQ(got_.dns[2].raw.name_flags & FW_DNS_NAME_TRUNCATED, FW_DNS_NAME_TRUNCATED);
    EXPECT_EQ(got_.dns[2].raw.qtype, 0);
}

TEST_F(SocketMonitorsTest, TlsClientHelloGivesTsharksJa3AndTheSni) {
    const int fd = mon_->tls_prog_fd();
    auto hello = openssl_client_hello();
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.1", IPPROTO_TCP).tcp(50000, 8443, 0x18).payload(hello.data(), hello.size()).build());
    auto greased = with_grease(hello);
    run(fd, PacketBuilder().eth().ipv6("2001:db8::10", "2001:db8::1", IPPROTO_TCP).tcp(50001, 443, 0x18).payload(greased.data(), greased.size()).build());
    // not TLS, and a ServerHello-like record: nothing
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.1", IPPROTO_TCP).tcp(50002, 443, 0x18).payload("GET / HTTP/1.1\r\n\r\n").build());
    auto server_hello = hello;
    server_hello[5] = 2;
    run(fd, PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.1", IPPROTO_TCP).tcp(50003, 443, 0x18).payload(server_hello.data(), server_hello.size()).build());
    drain();

    ASSERT_EQ(got_.tls.size(), 2u);
    for (const auto& e : got_.tls) {
        EXPECT_EQ(e.ja3, kOpensslJa3String);
        EXPECT_EQ(e.ja3_hash, kOpensslJa3Hash);
        EXPECT_EQ(e.fields.sni, "flywall.example");
        EXPECT_EQ(e.raw.flags, 0);
    }
    EXPECT_EQ(ntohs(got_.tls[0].raw.dport), 8443);
    EXPECT_EQ(got_.tls[1].raw.family, 6);
    auto st = mon_->tls_stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->hellos, 2u);
    EXPECT_EQ(st->tcp_payload, 4u);
}

TEST_F(SocketMonitorsTest, TlsHelloCutByTheSegmentIsReportedAsPartial) {
    auto hello = openssl_client_hello();
    hello.resize(200);  // the rest would come in the next segment
    run(mon_->tls_prog_fd(), PacketBuilder().eth().ipv4("198.18.0.10", "198.18.1.1", IPPROTO_TCP).tcp(50000, 443, 0x18).payload(hello.data(), hello.size()).build());
    drain();
    ASSERT_EQ(got_.tls.size(), 1u);
    EXPECT_TRUE(got_.tls[0].raw.flags & FW_TLS_PARTIAL);
    EXPECT_EQ(got_.tls[0].raw.client_version, 0x0303);
    EXPECT_EQ(got_.tls[0].fields.ciphers.size(), 31u);  // all suites fit in the first 200 bytes
}

namespace {

Bytes dhcp_request(uint8_t msg_type, const MacAddress& mac, const std::string& host, const std::string& vendor,
                   const std::vector<uint8_t>& prl, const char* requested) {
    Bytes b(236, 0);
    b[0] = 1;  // BOOTREQUEST
    b[1] = 1;
    b[2] = 6;
    b[4] = 0xde, b[5] = 0xad, b[6] = 0xbe, b[7] = 0xef;
    std::copy(mac.begin(), mac.end(), b.begin() + 28);
    Bytes opt = {0x63, 0x82, 0x53, 0x63, 53, 1, msg_type, 0, 0};  // two pads
    auto add = [&](uint8_t code, const void* p, size_t n) {
        opt.push_back(code);
        opt.push_back(static_cast<uint8_t>(n));
        auto* c = static_cast<const uint8_t*>(p);
        opt.insert(opt.end(), c, c + n);
    };
    add(61, "\x01\x02\x00\x00\x00\x00\x07", 7);
    if (requested) {
        auto ip = ip4(requested);
        add(50, ip.data(), 4);
    }
    if (!host.empty()) add(12, host.data(), host.size());
    if (!vendor.empty()) add(60, vendor.data(), vendor.size());
    if (!prl.empty()) add(55, prl.data(), prl.size());
    opt.push_back(255);
    b.insert(b.end(), opt.begin(), opt.end());
    return b;
}

Bytes arp_frame(uint16_t op, const MacAddress& sha, const char* spa, const char* tpa) {
    Bytes a = {0, 1, 8, 0, 6, 4, uint8_t(op >> 8), uint8_t(op)};
    a.insert(a.end(), sha.begin(), sha.end());
    auto s = ip4(spa), t = ip4(tpa);
    a.insert(a.end(), s.begin(), s.end());
    a.insert(a.end(), 6, 0);
    a.insert(a.end(), t.begin(), t.end());
    return PacketBuilder().eth(0x0806).payload(a.data(), a.size()).pad_to(60).build();
}

}  // namespace

TEST_F(SocketMonitorsTest, DhcpDiscoverGivesAFingerprintedDevice) {
    const int fd = mon_->dhcp_prog_fd();
    const MacAddress mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x07};
    const std::vector<uint8_t> prl = {1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252};
    auto d = dhcp_request(1, mac, "laptop-07", "MSFT 5.0", prl, "198.18.0.50");
    run(fd, PacketBuilder().eth().ipv4("0.0.0.0", "255.255.255.255", IPPROTO_UDP).udp(68, 67).payload(d.data(), d.size()).build());
    // a server reply (BOOTREPLY) carries no client fingerprint
    auto reply = d;
    reply[0] = 2;
    run(fd, PacketBuilder().eth().ipv4("198.18.0.1", "198.18.0.50", IPPROTO_UDP).udp(67, 68).payload(reply.data(), reply.size()).build());
    drain();

    ASSERT_EQ(got_.dhcp.size(), 1u);
    const auto& e = got_.dhcp[0];
    EXPECT_EQ(e.raw.msg_type, 1);
    EXPECT_EQ(e.mac, mac);
    EXPECT_EQ(e.hostname, "laptop-07");
    EXPECT_EQ(e.vendor_class, "MSFT 5.0");
    EXPECT_EQ(e.fingerprint, "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
    EXPECT_EQ(e.raw.xid, htonl(0xdeadbeef));
    auto dev = mon_->devices().find(mac);
    ASSERT_TRUE(dev.has_value());
    EXPECT_EQ(dev->hostname, "laptop-07");
    EXPECT_EQ(dev->fingerprint, e.fingerprint);
    ASSERT_EQ(dev->ipv4.size(), 1u);
    EXPECT_EQ(ip_to_string(4, reinterpret_cast<const uint8_t*>(&dev->ipv4[0])), "198.18.0.50");
    auto st = mon_->dhcp_stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->dhcp_packets, 2u);
    EXPECT_EQ(st->dhcp_records, 1u);
}

TEST_F(SocketMonitorsTest, ArpBindingsAreTrackedAndMacChangesReported) {
    const int fd = mon_->dhcp_prog_fd();
    const MacAddress a = {0x02, 0, 0, 0, 0, 0x0a}, b = {0x02, 0, 0, 0, 0, 0x0b};
    run(fd, arp_frame(1, a, "198.18.0.20", "198.18.0.1"));
    run(fd, arp_frame(1, a, "198.18.0.20", "198.18.0.1"));  // same binding: no new record
    run(fd, arp_frame(2, b, "198.18.0.20", "198.18.0.1"));  // the address moved
    run(fd, arp_frame(1, b, "0.0.0.0", "198.18.0.99"));     // probe: not learned
    drain();
    ASSERT_EQ(got_.arp.size(), 2u);
    EXPECT_EQ(got_.arp[0].change, FW_ARP_NEW);
    EXPECT_EQ(got_.arp[1].change, FW_ARP_CHANGED);
    EXPECT_EQ(0, std::memcmp(got_.arp[1].old_mac, a.data(), 6));

    auto table = mon_->arp_table();
    ASSERT_TRUE(table.ok()) << table.error().message();
    ASSERT_EQ(table->size(), 1u);
    const auto& e = (*table)[0].entry;
    EXPECT_EQ(0, std::memcmp(e.mac, b.data(), 6));
    EXPECT_EQ(e.mac_changes, 1u);
    EXPECT_EQ(e.packets, 3u);
    EXPECT_EQ(e.last_op, 2);
    EXPECT_GE(e.last_seen_ns, e.first_seen_ns);
    EXPECT_EQ(ip_to_string(4, reinterpret_cast<const uint8_t*>(&(*table)[0].key.ip)), "198.18.0.20");
    // the device table moved the address to the new MAC
    auto dev_a = mon_->devices().find(a), dev_b = mon_->devices().find(b);
    ASSERT_TRUE(dev_a && dev_b);
    EXPECT_TRUE(dev_a->ipv4.empty());
    ASSERT_EQ(dev_b->ipv4.size(), 1u);
}

// Live: the filters on real AF_PACKET sockets (loopback, HookManager), real datagrams and a
// real TCP connection carrying the ClientHello.
TEST_F(SocketMonitorsTest, LiveOnLoopbackThroughHookManager) {
    HookManager hooks;
    auto st = mon_->attach(hooks, InterfaceRef("lo"));
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(hooks.size(), 3u);

    // DNS query to 127.0.0.1:53 (nobody needs to answer)
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(u, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(53);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto q = dns_message(0x4242, 0x0100, {"live", "flywall", "test"}, 1);
    ASSERT_EQ(::sendto(u, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)),
              static_cast<ssize_t>(q.size()));
    ::close(u);

    // TCP: listener on an ephemeral port, client sends the ClientHello bytes
    int l = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in la{};
    la.sin_family = AF_INET;
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&la), sizeof(la)), 0);
    ASSERT_EQ(::listen(l, 1), 0);
    socklen_t len = sizeof(la);
    ::getsockname(l, reinterpret_cast<sockaddr*>(&la), &len);
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&la), sizeof(la)), 0);
    auto hello = openssl_client_hello();
    ASSERT_EQ(::send(c, hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));
    int a = ::accept(l, nullptr, nullptr);

    for (int i = 0; i < 20 && (got_.dns.empty() || got_.tls.empty()); ++i) {
        auto n = mon_->poll(100);
        ASSERT_TRUE(n.ok()) << n.error().message();
    }
    ::close(a);
    ::close(c);
    ::close(l);
    ASSERT_FALSE(got_.dns.empty());
    EXPECT_EQ(got_.dns[0].name, "live.flywall.test");
    EXPECT_EQ(got_.dns[0].client, "127.0.0.1");
    ASSERT_FALSE(got_.tls.empty());
    EXPECT_EQ(got_.tls[0].ja3_hash, kOpensslJa3Hash);
    EXPECT_EQ(got_.tls[0].fields.sni, "flywall.example");

    ASSERT_TRUE(mon_->detach(hooks).ok());
    EXPECT_EQ(hooks.size(), 0u);
}
