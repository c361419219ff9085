// DHCP fingerprints (fingerbank's option-55 format) and the device table built from DHCP and
// ARP records, without a kernel.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/socket_monitors.hpp"

using namespace flywall;

namespace {

fw_dhcp_record dhcp(const MacAddress& mac, uint8_t type, const char* host, const char* vendor,
                    std::vector<uint8_t> prl, uint64_t ts) {
    fw_dhcp_record r{};
    r.type = FW_REC_DHCP;
    r.ts_ns = ts;
    r.msg_type = type;
    r.op = 1;
    std::memcpy(r.mac, mac.data(), 6);
    r.hostname_len = static_cast<__u8>(std::strlen(host));
    std::memcpy(r.hostname, host, r.hostname_len);
    r.vendor_len = static_cast<__u8>(std::strlen(vendor));
    std::memcpy(r.vendor, vendor, r.vendor_len);
    r.prl_len = static_cast<__u8>(prl.size());
    if (!prl.empty()) std::memcpy(r.prl, prl.data(), prl.size());
    return r;
}

fw_arp_record arp(const MacAddress& mac, const char* ip, uint16_t change, const MacAddress& old, uint64_t ts) {
    fw_arp_record r{};
    r.type = FW_REC_ARP;
    r.ts_ns = ts;
    inet_pton(AF_INET, ip, &r.ip);
    std::memcpy(r.mac, mac.data(), 6);
    std::memcpy(r.old_mac, old.data(), 6);
    r.change = change;
    return r;
}

}  // namespace

TEST(DhcpFingerprint, FingerbankFormat) {
    // Windows 10 DISCOVER, as listed by fingerbank
    const uint8_t win10[] = {1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252};
    EXPECT_EQ(dhcp_fingerprint(win10), "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
    const uint8_t one[] = {1};
    EXPECT_EQ(dhcp_fingerprint(one), "1");
    EXPECT_EQ(dhcp_fingerprint({}), "");
}

TEST(DhcpFingerprint, DecodeUsesTheLengthsNotNulTermination) {
    auto r = dhcp({2, 0, 0, 0, 0, 1}, 1, "host", "android-dhcp-13", {1, 3, 6}, 10);
    std::memset(r.hostname + 4, 'X', 10);  // bytes after the length are not the name
    auto e = SocketMonitors::decode(r);
    EXPECT_EQ(e.hostname, "host");
    EXPECT_EQ(e.vendor_class, "android-dhcp-13");
    EXPECT_EQ(e.fingerprint, "1,3,6");
    EXPECT_EQ(mac_to_string(e.mac), "02:00:00:00:00:01");
}

TEST(DeviceTable, DhcpThenArpBuildOneDevice) {
    DeviceTable t;
    const MacAddress m = {2, 0, 0, 0, 0, 9};
    t.on_dhcp(dhcp(m, 1, "printer", "HP LaserJet", {1, 3, 6, 15, 44, 47}, 100));
    auto r = dhcp(m, 3, "", "", {}, 200);  // REQUEST without options keeps what was learned
    r.flags |= FW_DHCP_HAS_REQ_IP;
    inet_pton(AF_INET, "198.18.0.77", &r.requested_ip);
    t.on_dhcp(r);
    t.on_arp(arp(m, "198.18.0.77", FW_ARP_NEW, {}, 300));
    ASSERT_EQ(t.size(), 1u);
    auto d = t.find(m);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->hostname, "printer");
    EXPECT_EQ(d->vendor_class, "HP LaserJet");
    EXPECT_EQ(d->fingerprint, "1,3,6,15,44,47");
    EXPECT_EQ(d->last_dhcp_type, 3);
    EXPECT_EQ(d->ipv4.size(), 1u);  // the same address from DHCP and ARP counts once
    EXPECT_EQ(d->first_seen_ns, 100u);
    EXPECT_EQ(d->last_seen_ns, 300u);
}

TEST(DeviceTable, ArpMoveTransfersTheAddress) {
    DeviceTable t;
    const MacAddress a = {2, 0, 0, 0, 0, 0xa}, b = {2, 0, 0, 0, 0, 0xb};
    t.on_arp(arp(a, "198.18.0.5", FW_ARP_NEW, {}, 1));
    t.on_arp(arp(b, "198.18.0.5", FW_ARP_CHANGED, a, 2));
    EXPECT_TRUE(t.find(a)->ipv4.empty());
    EXPECT_EQ(t.find(b)->ipv4.size(), 1u);
    EXPECT_EQ(t.devices().size(), 2u);
}

TEST(DeviceTable, RecordsWithoutAnEthernetAddressAreIgnored) {
    DeviceTable t;
    t.on_dhcp(dhcp({}, 1, "x", "", {1}, 1));
    EXPECT_EQ(t.size(), 0u);
}
