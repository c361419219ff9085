// PacketBuilder: builds Ethernet frames for kernel tests and benchmarks, layer by layer, with
// correct lengths and checksums. Truncate with .truncate(n) to test every header boundary.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace flywall::test {

using Bytes = std::vector<uint8_t>;

inline std::array<uint8_t, 4> ip4(const char* s) {
    std::array<uint8_t, 4> a{};
    inet_pton(AF_INET, s, a.data());
    return a;
}
inline std::array<uint8_t, 16> ip6(const char* s) {
    std::array<uint8_t, 16> a{};
    inet_pton(AF_INET6, s, a.data());
    return a;
}

inline uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}
inline uint32_t csum_add(uint32_t sum, const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t(p[i]) << 8) | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    return sum;
}

class PacketBuilder {
public:
    PacketBuilder& eth(uint16_t ethertype = 0) {
        static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
        put(dst, 6);
        put(src, 6);
        ethertype_pos_ = buf_.size();
        put16(ethertype);
        return *this;
    }
    // Adds a VLAN tag; tpid 0x8100 (802.1Q) or 0x88A8 (802.1ad).
    PacketBuilder& vlan(uint16_t vid, uint16_t tpid = 0x8100) {
        set_ethertype(tpid);
        put16(vid & 0x0FFF);
        ethertype_pos_ = buf_.size();
        put16(0);
        return *this;
    }
    // IPv4 header with optional options (multiple of 4 bytes). frag_off in host order incl. flags.
    PacketBuilder& ipv4(const char* src, const char* dst, uint8_t proto, size_t options_len = 0,
                        uint16_t frag_off = 0, uint8_t ttl = 64) {
        set_ethertype(0x0800);
        l3_ = buf_.size();
        family_ = 4;
        uint8_t ihl = static_cast<uint8_t>(5 + options_len / 4);
        put8(0x40 | ihl);
        put8(0);
        put16(0);  // total length, fixed in finish()
        put16(0x1234);
        put16(frag_off);
        put8(ttl);
        put8(proto);
        put16(0);
        auto s = ip4(src), d = ip4(dst);
        put(s.data(), 4);
        put(d.data(), 4);
        for (size_t i = 0; i < options_len; ++i) put8(i + 1 == options_len ? 0 : 1);  // NOPs then EOL
        l4_ = buf_.size();
        proto_ = proto;
        return *this;
    }
    PacketBuilder& ipv6(const char* src, const char* dst, uint8_t next_header, uint8_t hop_limit = 64) {
        set_ethertype(0x86DD);
        l3_ = buf_.size();
        family_ = 6;
        put32(0x60000000);
        put16(0);  // payload length, fixed in finish()
        nexthdr_pos_ = buf_.size();
        put8(next_header);
        put8(hop_limit);
        auto s = ip6(src), d = ip6(dst);
        put(s.data(), 16);
        put(d.data(), 16);
        l4_ = buf_.size();
        proto_ = next_header;
        return *this;
    }
    // IPv6 extension header (hop-by-hop 0, routing 43, dest opts 60): 8 * (1 + len8) bytes.
    PacketBuilder& ipv6_ext(uint8_t type, uint8_t next_header, uint8_t len8 = 0) {
        buf_[nexthdr_pos_] = type;
        nexthdr_pos_ = buf_.size();
        put8(next_header);
        put8(len8);
        size_t body = 8 * (1 + size_t(len8)) - 2;
        if (type == 43 && body >= 2) {  // routing: type 0... segments left 0
            put8(4);
            put8(0);
            body -= 2;
        }
        for (size_t i = 0; i < body; ++i) put8(i == 0 ? 1 : 0);
        l4_ = buf_.size();
        proto_ = next_header;
        return *this;
    }
    // IPv6 fragment header; offset in 8-byte units.
    PacketBuilder& ipv6_frag(uint8_t next_header, uint16_t offset8, bool more) {
        buf_[nexthdr_pos_] = 44;
        nexthdr_pos_ = buf_.size();
        put8(next_header);
        put8(0);
        put16(static_cast<uint16_t>((offset8 << 3) | (more ? 1 : 0)));
        put32(0xabcdef01);
        l4_ = buf_.size();
        proto_ = next_header;
        return *this;
    }
    PacketBuilder& udp(uint16_t sport, uint16_t dport) {
        l4_ = buf_.size();
        proto_ = 17;
        put16(sport);
        put16(dport);
        put16(0);
        put16(0);
        return *this;
    }
    PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = 0x02) {
        l4_ = buf_.size();
        proto_ = 6;
        put16(sport);
        put16(dport);
        put32(1);
        put32(0);
        put8(0x50);
        put8(flags);
        put16(65535);
        put16(0);
        put16(0);
        return *this;
    }
    PacketBuilder& icmp_echo(uint16_t id, uint16_t seq, bool v6 = false) {
        l4_ = buf_.size();
        proto_ = v6 ? 58 : 1;
        put8(v6 ? 128 : 8);
        put8(0);
        put16(0);
        put16(id);
        put16(seq);
        return *this;
    }
    PacketBuilder& payload(const void* p, size_t n) {
        put(static_cast<const uint8_t*>(p), n);
        return *this;
    }
    PacketBuilder& payload(const std::string& s) { return payload(s.data(), s.size()); }
    PacketBuilder& pad_to(size_t n) {
        while (buf_.size() < n) put8(0);
        return *this;
    }

    // Fixes lengths and checksums; returns the frame.
    Bytes build() const {
        Bytes b = buf_;
        if (family_ == 4) {
            uint16_t tot = static_cast<uint16_t>(b.size() - l3_);
            b[l3_ + 2] = tot >> 8;
            b[l3_ + 3] = tot & 0xFF;
            size_t ihl = (b[l3_] & 0x0F) * 4;
            b[l3_ + 10] = b[l3_ + 11] = 0;
            uint16_t c = csum_fold(csum_add(0, &b[l3_], ihl));
            b[l3_ + 10] = c >> 8;
            b[l3_ + 11] = c & 0xFF;
        } else if (family_ == 6) {
            uint16_t pl = static_cast<uint16_t>(b.size() - l3_ - 40);
            b[l3_ + 4] = pl >> 8;
            b[l3_ + 5] = pl & 0xFF;
        }
        fix_l4_checksum(b);
        return b;
    }
    size_t size() const { return buf_.size(); }
    size_t l3_offset() const { return l3_; }
    size_t l4_offset() const { return l4_; }

    static Bytes truncate(Bytes b, size_t n) {
        if (n < b.size()) b.resize(n);
        return b;
    }

private:
    void fix_l4_checksum(Bytes& b) const {
        if (l4_ == 0 || l4_ >= b.size() || family_ == 0) return;
        size_t len = b.size() - l4_;
        size_t ck;
        if (proto_ == 17 && len >= 8) {
            b[l4_ + 4] = len >> 8;
            b[l4_ + 5] = len & 0xFF;
            ck = 6;
        } else if (proto_ == 6 && len >= 20) {
            ck = 16;
        } else if ((proto_ == 1 || proto_ == 58) && len >= 4) {
            ck = 2;
        } else {
            return;
        }
        b[l4_ + ck] = b[l4_ + ck + 1] = 0;
        uint32_t sum = 0;
        if (proto_ != 1) {  // pseudo header
            if (family_ == 4) sum = csum_add(sum, &b[l3_ + 12], 8);
            else sum = csum_add(sum, &b[l3_ + 8], 32);
            sum += proto_;
            sum += static_cast<uint32_t>(len);
        }
        sum = csum_add(sum, &b[l4_], len);
        uint16_t c = csum_fold(sum);
        if (proto_ == 17 && c == 0) c = 0xFFFF;
        b[l4_ + ck] = c >> 8;
        b[l4_ + ck + 1] = c & 0xFF;
    }
    void set_ethertype(uint16_t t) {
        buf_[ethertype_pos_] = t >> 8;
        buf_[ethertype_pos_ + 1] = t & 0xFF;
    }
    void put(const uint8_t* p, size_t n) { buf_.insert(buf_.end(), p, p + n); }
    void put8(uint8_t v) { buf_.push_back(v); }
    void put16(uint16_t v) {
        put8(v >> 8);
        put8(v & 0xFF);
    }
    void put32(uint32_t v) {
        put16(v >> 16);
        put16(v & 0xFFFF);
    }

    Bytes buf_;
    size_t ethertype_pos_ = 12, l3_ = 0, l4_ = 0, nexthdr_pos_ = 0;
    uint8_t family_ = 0, proto_ = 0;
};

}  // namespace flywall::test
