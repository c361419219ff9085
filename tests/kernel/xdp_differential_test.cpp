// Differential test of xdp_blocklist: generated packets run through the real program
// (BPF_PROG_TEST_RUN, repeat 1) and through a reference model written from the documented rules,
// and the verdicts must agree on every packet; statistics (malformed reasons, list hits, drop
// reasons) must agree on every batch.
//
// The rules the model implements (bpf/lib/fw_parse.h, flywall/abi.h, DESIGN.md "fail closed"):
//  * Frame: Ethernet, then up to two VLAN tags (TPID 0x8100 or 0x88A8, 4 bytes each). A tag cut
//    short is malformed (vlan); a third tag is malformed (vlan_depth). Any other ethertype than
//    IPv4/IPv6 is not IP and passes.
//  * IPv4: the 20-byte fixed header with version 4 and IHL >= 5 gives the addresses; less than 20
//    bytes, another version or IHL < 5 is malformed (ipv4) with the addresses unknown; options
//    cut short (IHL past the end) are malformed (ipv4) with the addresses known. A fragment with a
//    non-zero offset carries no transport header.
//  * IPv6: the 40-byte header gives the addresses (its version nibble is not checked); shorter is
//    malformed (ipv6). Up to kFollowedExtHeaders extension headers are followed: hop-by-hop,
//    routing and destination options are 8 * (1 + length byte) long, a fragment header 8; one
//    cut short, or one more extension header than followed, is malformed (ipv6_ext). A fragment
//    header with a non-zero offset ends the walk with no transport header.
//  * Transport: TCP needs 20 bytes, UDP 8, ICMP and ICMPv6 8 (by protocol number, in either IP
//    version); fewer is malformed (l4). Other protocols are not parsed.
//  * Verdict: addresses known -> allowlist match passes, else blocklist match drops (an entry
//    matches by source, destination or both, exact address or CIDR); a packet not fully parsed
//    whose addresses matched no list, or are unknown, gets malformed_verdict; anything else
//    passes. Every packet not fully parsed is counted under its malformed reason.
//
// FLYWALL_DIFF_PACKETS sets the number of packets (default 200000), FLYWALL_DIFF_SEED the seed
// (default fixed; printed either way so a failure can be replayed).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/iplists.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

// Documented limit of the parser (bpf/lib/fw_parse.h).
constexpr int kFollowedExtHeaders = 8;
constexpr int kFollowedVlanTags = 2;

constexpr uint8_t kHop = 0, kRouting = 43, kFrag = 44, kDstOpts = 60;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58;

// ------------------------------------------------------------------------ deterministic PRNG

struct Rng {
    uint64_t state;
    uint64_t next() {  // splitmix64: the same sequence on every platform and library
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
    bool percent(uint32_t p) { return below(100) < p; }
    uint8_t byte() { return static_cast<uint8_t>(next()); }
    template <class T, size_t N>
    T pick(const T (&a)[N]) { return a[below(N)]; }
};

// ------------------------------------------------------------------------ address lists

struct ListEntry {
    const char* text;
    IpListKind list;
    MatchDir dir;
};

// Exact and CIDR entries of both lists, both families, every direction. Prefixes of one list and
// family do not nest (fw_iplist.h: a trie lookup sees only the longest match); an allow entry
// sits inside a blocked prefix to exercise precedence.
const ListEntry kEntries[] = {
    {"198.18.0.66", IpListKind::Block, MatchDir::Src},
    {"198.18.40.0/24", IpListKind::Block, MatchDir::Src},
    {"198.19.0.0/16", IpListKind::Block, MatchDir::Src},
    {"198.18.1.66", IpListKind::Block, MatchDir::Dst},
    {"198.18.41.0/24", IpListKind::Block, MatchDir::Dst},
    {"198.18.0.99", IpListKind::Block, MatchDir::Both},
    {"198.18.0.77", IpListKind::Allow, MatchDir::Src},
    {"198.18.40.7", IpListKind::Allow, MatchDir::Src},
    {"198.18.42.0/24", IpListKind::Allow, MatchDir::Dst},
    {"2001:db8::66", IpListKind::Block, MatchDir::Src},
    {"2001:db8:40::/48", IpListKind::Block, MatchDir::Src},
    {"2001:db8:1::66", IpListKind::Block, MatchDir::Dst},
    {"2001:db8:41::/64", IpListKind::Block, MatchDir::Dst},
    {"2001:db8::99", IpListKind::Block, MatchDir::Both},
    {"2001:db8::77", IpListKind::Allow, MatchDir::Src},
    {"2001:db8:40::7", IpListKind::Allow, MatchDir::Src},
    {"2001:db8:42::/56", IpListKind::Allow, MatchDir::Dst},
};

using Addr = std::array<uint8_t, 16>;  // IPv4 in the first 4 bytes

struct ModelEntry {
    IpPrefix prefix;
    IpListKind list;
    MatchDir dir;
};

bool prefix_contains(const IpPrefix& p, int family, const Addr& a) {
    if (p.family != family) return false;
    for (int bit = 0; bit < p.prefix_len; ++bit) {
        uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
        if ((p.addr[bit / 8] & mask) != (a[bit / 8] & mask)) return false;
    }
    return true;
}

// Packet addresses drawn from: the listed exact addresses, hosts inside each listed prefix,
// and unlisted neighbours (all inside 198.18.0.0/15 and 2001:db8::/32).
Addr draw_address(Rng& r, int family) {
    Addr a{};
    if (family == 4) {
        static const char* exact[] = {"198.18.0.66", "198.18.1.66", "198.18.0.99", "198.18.0.77", "198.18.40.7",
                                      "198.18.0.1",  "198.18.1.1"};
        static const std::array<uint8_t, 3> nets[] = {{198, 18, 40}, {198, 18, 41}, {198, 18, 42}, {198, 18, 43}};
        switch (r.below(4)) {
        case 0:
        case 1: {
            auto v = ip4(r.pick(exact));
            std::copy(v.begin(), v.end(), a.begin());
            break;
        }
        case 2: {
            const auto& n = nets[r.below(4)];
            a[0] = n[0], a[1] = n[1], a[2] = n[2], a[3] = r.byte();
            break;
        }
        default:  // anywhere in 198.18.0.0/15, 198.19/16 being blocked
            a[0] = 198, a[1] = static_cast<uint8_t>(18 + r.below(2)), a[2] = r.byte(), a[3] = r.byte();
        }
        return a;
    }
    static const char* exact[] = {"2001:db8::66", "2001:db8:1::66", "2001:db8::99", "2001:db8::77",
                                  "2001:db8:40::7", "2001:db8::1",   "2001:db8:1::1"};
    static const uint16_t nets[] = {0x40, 0x41, 0x42, 0x43};
    switch (r.below(4)) {
    case 0:
    case 1:
        return ip6(r.pick(exact));
    case 2: {
        a = ip6("2001:db8::");
        uint16_t n = r.pick(nets);
        a[4] = static_cast<uint8_t>(n >> 8), a[5] = static_cast<uint8_t>(n);
        // inside 2001:db8:41::/64 or 2001:db8:42::/56 half of the time, elsewhere in the /48 otherwise
        if (r.percent(50)) a[6] = 0, a[7] = static_cast<uint8_t>(r.below(2) ? 0 : r.byte());
        else a[6] = r.byte(), a[7] = r.byte();
        for (int i = 8; i < 16; ++i) a[i] = r.byte();
        return a;
    }
    default:
        a = ip6("2001:db8::");
        for (int i = 4; i < 16; ++i) a[i] = r.percent(70) ? 0 : r.byte();
        return a;
    }
}

// ------------------------------------------------------------------------ packet generator

class Frame {
public:
    void u8(uint8_t v) { b_.push_back(v); }
    void u16(uint16_t v) {
        u8(static_cast<uint8_t>(v >> 8));
        u8(static_cast<uint8_t>(v));
    }
    void u32(uint32_t v) {
        u16(static_cast<uint16_t>(v >> 16));
        u16(static_cast<uint16_t>(v));
    }
    void put(const uint8_t* p, size_t n) { b_.insert(b_.end(), p, p + n); }
    void random(Rng& r, size_t n) {
        for (size_t i = 0; i < n; ++i) u8(r.byte());
    }
    size_t size() const { return b_.size(); }
    Bytes take() { return std::move(b_); }

private:
    Bytes b_;
};

uint8_t draw_l4_proto(Rng& r) {
    static const uint8_t common[] = {kTcp, kUdp, kIcmp, kIcmp6};
    static const uint8_t other[] = {47 /* GRE */, 50 /* ESP */, 51 /* AH */, 59 /* no next header */,
                                    132 /* SCTP */, 135 /* mobility */, 253};
    if (r.percent(80)) return r.pick(common);
    return r.percent(70) ? r.pick(other) : r.byte();
}

void put_l4(Rng& r, Frame& f, uint8_t proto) {
    switch (proto) {
    case kTcp:
        f.u16(static_cast<uint16_t>(r.next()));
        f.u16(static_cast<uint16_t>(r.next()));
        f.u32(static_cast<uint32_t>(r.next()));
        f.u32(static_cast<uint32_t>(r.next()));
        f.u8(static_cast<uint8_t>((5 + r.below(11)) << 4));
        f.u8(r.byte());
        f.random(r, 6);
        break;
    case kUdp:
        f.random(r, 8);
        break;
    case kIcmp:
    case kIcmp6:
        f.random(r, 8);
        break;
    default:
        f.random(r, r.below(12));
    }
    f.random(r, r.percent(50) ? 0 : r.below(48));  // payload
}

void put_ipv4(Rng& r, Frame& f) {
    uint8_t version = r.percent(3) ? static_cast<uint8_t>(r.below(16)) : 4;
    uint8_t ihl;
    if (r.percent(5)) ihl = static_cast<uint8_t>(r.below(5));  // bad IHL
    else ihl = static_cast<uint8_t>(r.percent(65) ? 5 : 5 + r.below(11));
    uint8_t proto = draw_l4_proto(r);
    uint16_t frag = 0;
    if (r.percent(20)) {
        switch (r.below(3)) {
        case 0: frag = 0x2000; break;                                               // first, more follow
        case 1: frag = static_cast<uint16_t>(0x2000 | (1 + r.below(0x1FFF))); break;  // middle
        default: frag = static_cast<uint16_t>(1 + r.below(0x1FFF));                  // last
        }
        if (r.percent(10)) frag |= 0x4000;  // DF as well: still a fragment by its offset/MF
    } else if (r.percent(30)) {
        frag = 0x4000;  // DF only: not a fragment
    }
    f.u8(static_cast<uint8_t>(version << 4 | ihl));
    f.u8(r.byte());
    f.u16(0);  // total length: the parser works from the frame length
    f.u16(static_cast<uint16_t>(r.next()));
    f.u16(frag);
    f.u8(64);
    f.u8(proto);
    f.u16(0);
    Addr s = draw_address(r, 4), d = draw_address(r, 4);
    f.put(s.data(), 4);
    f.put(d.data(), 4);
    if (ihl > 5) {
        for (int i = 0; i < (ihl - 5) * 4; ++i) f.u8(r.percent(80) ? 1 : r.byte());  // NOPs and noise
    }
    put_l4(r, f, proto);
}

void put_ipv6(Rng& r, Frame& f) {
    uint8_t version = r.percent(3) ? static_cast<uint8_t>(r.below(16)) : 6;
    int n_ext = static_cast<int>(r.below(11));  // 0..10 extension headers
    // Types of the chain, then the transport (or unknown) protocol.
    std::vector<uint8_t> types;
    std::vector<bool> later_fragment;
    for (int i = 0; i < n_ext; ++i) {
        switch (r.below(5)) {
        case 0: types.push_back(kHop); later_fragment.push_back(false); break;
        case 1: types.push_back(kRouting); later_fragment.push_back(false); break;
        case 2: types.push_back(kDstOpts); later_fragment.push_back(false); break;
        case 3: types.push_back(kFrag); later_fragment.push_back(false); break;
        default: types.push_back(kFrag); later_fragment.push_back(r.percent(70)); break;
        }
    }
    uint8_t l4 = draw_l4_proto(r);
    auto next_of = [&](size_t i) { return i + 1 < types.size() ? types[i + 1] : l4; };

    f.u32(static_cast<uint32_t>(version) << 28 | (static_cast<uint32_t>(r.next()) & 0x0FFFFFFF));
    f.u16(0);  // payload length: not used by the parser
    f.u8(types.empty() ? l4 : types[0]);
    f.u8(64);
    Addr s = draw_address(r, 6), d = draw_address(r, 6);
    f.put(s.data(), 16);
    f.put(d.data(), 16);
    for (size_t i = 0; i < types.size(); ++i) {
        if (types[i] == kFrag) {
            uint16_t offset = later_fragment[i] ? static_cast<uint16_t>(1 + r.below(8191)) : 0;
            f.u8(next_of(i));
            f.u8(0);
            f.u16(static_cast<uint16_t>(offset << 3 | (r.percent(50) ? 1 : 0) | (r.below(4) << 1)));
            f.u32(static_cast<uint32_t>(r.next()));
        } else {
            uint8_t len8 = static_cast<uint8_t>(r.percent(60) ? 0 : r.below(4));
            f.u8(next_of(i));
            f.u8(len8);
            f.random(r, 8u * (1u + len8) - 2);
        }
    }
    put_l4(r, f, l4);
}

// One generated frame: 0-3 VLAN tags, IPv4/IPv6/other, then mutations: a random byte (a
// header field gone wrong) and a cut at a random offset (truncation at every byte position
// over the run).
Bytes generate(Rng& r) {
    Frame f;
    static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    f.put(macs, 12);
    uint32_t roll = r.below(100);
    int tags = roll < 60 ? 0 : roll < 82 ? 1 : roll < 96 ? 2 : 3;
    for (int i = 0; i < tags; ++i) {
        f.u16(r.percent(50) ? 0x8100 : 0x88A8);
        f.u16(static_cast<uint16_t>(r.next()));
    }
    roll = r.below(100);
    if (roll < 45) {
        f.u16(0x0800);
        put_ipv4(r, f);
    } else if (roll < 90) {
        f.u16(0x86DD);
        put_ipv6(r, f);
    } else {
        static const uint16_t others[] = {0x0806, 0x88CC, 0x8847, 0x86DE, 0x0801, 0x88E5};
        f.u16(r.percent(70) ? r.pick(others) : static_cast<uint16_t>(r.next()));
        f.random(r, 46);
    }
    Bytes b = f.take();
    if (r.percent(8)) {  // one header byte replaced
        size_t span = std::min<size_t>(b.size() - 12, 14 + 12 + 120);
        b[12 + r.below(static_cast<uint32_t>(span))] = r.byte();
    }
    if (r.percent(35)) b.resize(14 + r.below(static_cast<uint32_t>(b.size() - 14 + 1)));
    return b;
}

// ------------------------------------------------------------------------ reference model

enum class ListMatch { None, Allowed, Blocked };

struct Expected {
    uint32_t verdict = XDP_PASS;
    int malformed = -1;  // fw_malformed_reason, -1 when fully parsed
    int family = 0;      // 4 or 6 when the addresses are known
    ListMatch list = ListMatch::None;
};

class Model {
public:
    explicit Model(std::vector<ModelEntry> entries) : entries_(std::move(entries)) {}

    Expected judge(const Bytes& b, uint32_t malformed_verdict) const {
        Expected e;
        Addr src{}, dst{};
        e.malformed = parse(b, e.family, src, dst);
        if (e.family) e.list = lists(e.family, src, dst);
        if (e.list == ListMatch::Allowed) e.verdict = XDP_PASS;
        else if (e.list == ListMatch::Blocked) e.verdict = XDP_DROP;
        else if (e.malformed >= 0) e.verdict = malformed_verdict;
        else e.verdict = XDP_PASS;
        return e;
    }

private:
    static uint16_t be16(const Bytes& b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }

    // Bytes a transport header needs, 0 for a protocol that is not parsed.
    static size_t transport_header_bytes(uint8_t proto) {
        switch (proto) {
        case kTcp: return 20;
        case kUdp: return 8;
        case kIcmp:
        case kIcmp6: return 8;
        default: return 0;
        }
    }
    static bool is_ipv6_extension(uint8_t t) { return t == kHop || t == kRouting || t == kDstOpts || t == kFrag; }

    // Returns the malformed reason or -1; sets family and addresses once they are known.
    static int parse(const Bytes& b, int& family, Addr& src, Addr& dst) {
        const size_t n = b.size();
        if (n < 14) return FW_MAL_ETH;
        size_t at = 14;
        uint16_t type = be16(b, 12);
        int tags = 0;
        while (type == 0x8100 || type == 0x88A8) {
            if (tags == kFollowedVlanTags) return FW_MAL_VLAN_DEPTH;
            if (at + 4 > n) return FW_MAL_VLAN;
            type = be16(b, at + 2);
            at += 4;
            ++tags;
        }
        size_t l4_at = 0;
        uint8_t proto = 0;
        if (type == 0x0800) {
            if (at + 20 > n) return FW_MAL_IPV4;
            unsigned version = b[at] >> 4, header_bytes = (b[at] & 15u) * 4;
            if (version != 4 || header_bytes < 20) return FW_MAL_IPV4;
            family = 4;
            std::copy_n(&b[at + 12], 4, src.begin());
            std::copy_n(&b[at + 16], 4, dst.begin());
            if (at + header_bytes > n) return FW_MAL_IPV4;
            if (be16(b, at + 6) & 0x1FFF) return -1;  // a later fragment: addresses only
            proto = b[at + 9];
            l4_at = at + header_bytes;
        } else if (type == 0x86DD) {
            if (at + 40 > n) return FW_MAL_IPV6;
            family = 6;
            std::copy_n(&b[at + 8], 16, src.begin());
            std::copy_n(&b[at + 24], 16, dst.begin());
            proto = b[at + 6];
            size_t cur = at + 40;
            for (int followed = 0; is_ipv6_extension(proto); ++followed) {
                if (followed == kFollowedExtHeaders) return FW_MAL_IPV6_EXT;  // one more than followed
                size_t len = 8;
                if (proto != kFrag) {
                    if (cur + 2 > n) return FW_MAL_IPV6_EXT;
                    len = 8 * (size_t{b[cur + 1]} + 1);
                }
                if (cur + len > n) return FW_MAL_IPV6_EXT;
                bool later_fragment = proto == kFrag && (be16(b, cur + 2) >> 3) != 0;
                proto = b[cur];
                if (later_fragment) return -1;  // addresses only
                cur += len;
            }
            l4_at = cur;
        } else {
            return -1;  // not IP
        }
        if (l4_at + transport_header_bytes(proto) > n) return FW_MAL_L4;
        return -1;
    }

    ListMatch lists(int family, const Addr& src, const Addr& dst) const {
        auto any = [&](IpListKind list) {
            for (const auto& e : entries_) {
                if (e.list != list) continue;
                bool by_src = (static_cast<unsigned>(e.dir) & FW_ENTRY_MATCH_SRC) && prefix_contains(e.prefix, family, src);
                bool by_dst = (static_cast<unsigned>(e.dir) & FW_ENTRY_MATCH_DST) && prefix_contains(e.prefix, family, dst);
                if (by_src || by_dst) return true;
            }
            return false;
        };
        if (any(IpListKind::Allow)) return ListMatch::Allowed;
        if (any(IpListKind::Block)) return ListMatch::Blocked;
        return ListMatch::None;
    }

    std::vector<ModelEntry> entries_;
};

// ------------------------------------------------------------------------ the run

uint64_t env_u64(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    unsigned long long x = std::strtoull(v, &end, 0);
    return end && *end == 0 ? x : fallback;
}

std::string hex(const Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < b.size(); ++i) {
        if (i && i % 16 == 0) s += "\n    ";
        else if (i) s += ' ';
        s += digits[b[i] >> 4];
        s += digits[b[i] & 15];
    }
    return s;
}

const char* reason_name(int r) {
    static const char* names[] = {"eth", "vlan", "vlan_depth", "ipv4", "ipv6", "ipv6_ext", "l4", "dns"};
    return r >= 0 && r < 8 ? names[r] : "none";
}

// Counters the model predicts for one batch.
struct BatchCounts {
    std::array<uint64_t, FW_MAL_REASON_MAX> malformed{};
    uint64_t allowlist_hits = 0, blocklist_hits = 0, drop_blocklist = 0, drop_malformed = 0, passed = 0,
             dropped = 0;
};

TEST(XdpDifferential, VerdictsMatchTheReferenceModel) {
    FW_REQUIRE_BPF();
    const uint64_t packets = env_u64("FLYWALL_DIFF_PACKETS", 200000);
    const uint64_t seed = env_u64("FLYWALL_DIFF_SEED", 0x5EEDF1A7ull);
    std::printf("[ XdpDifferential ] seed=0x%llx packets=%llu (FLYWALL_DIFF_SEED / FLYWALL_DIFF_PACKETS)\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(packets));

    auto loaded = XdpFastPath::load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    XdpFastPath fp = std::move(*loaded);
    IpLists lists(fp);
    std::vector<ModelEntry> model_entries;
    for (const auto& e : kEntries) {
        ASSERT_TRUE(lists.add(e.text, e.list, e.dir).ok()) << e.text;
        auto p = parse_ip_prefix(e.text);
        ASSERT_TRUE(p.ok()) << e.text;
        model_entries.push_back({*p, e.list, e.dir});
    }
    // IP lists and statistics only: rate limiting, DNS, flows and events would make verdicts
    // depend on time and history.
    fp.config().features = FW_F_IP_ALLOWLIST | FW_F_IP_BLOCKLIST | FW_F_STATS;
    const Model model(std::move(model_entries));

    constexpr uint64_t kBatch = 4096;
    Rng rng{seed};
    uint64_t differences = 0, stat_differences = 0, done = 0;
    std::array<uint64_t, FW_MAL_REASON_MAX> by_reason{};
    uint64_t non_ip = 0, allowed = 0, blocked = 0, malformed_known = 0, malformed_unknown = 0, open_parsed = 0;
    uint64_t blocked_malformed = 0, allowed_malformed = 0;
    std::vector<Bytes> batch;
    std::vector<Expected> want;
    auto t0 = std::chrono::steady_clock::now();
    double kernel_s = 0;

    for (uint64_t batch_no = 0; done < packets; ++batch_no) {
        // Both settings of the knob, batch by batch.
        const uint32_t mv = batch_no % 2 ? FW_VERDICT_DROP : FW_VERDICT_PASS;
        fp.config().malformed_verdict = mv;
        const uint64_t n = std::min(kBatch, packets - done);
        batch.clear();
        want.clear();
        BatchCounts expect;
        for (uint64_t i = 0; i < n; ++i) {
            batch.push_back(generate(rng));
            Expected e = model.judge(batch.back(), mv);
            if (e.malformed >= 0) {
                expect.malformed[e.malformed]++;
                by_reason[e.malformed]++;
                (e.family ? malformed_known : malformed_unknown)++;
            }
            if (e.list == ListMatch::Allowed) {
                expect.allowlist_hits++;
                allowed++;
                allowed_malformed += e.malformed >= 0;
            } else if (e.list == ListMatch::Blocked) {
                expect.blocklist_hits++;
                expect.drop_blocklist++;
                blocked++;
                blocked_malformed += e.malformed >= 0;
            } else if (e.malformed >= 0 && mv == FW_VERDICT_DROP) {
                expect.drop_malformed++;
            } else if (e.malformed < 0 && e.family == 0) {
                non_ip++;
            } else if (e.malformed < 0) {
                open_parsed++;
            }
            (e.verdict == XDP_DROP ? expect.dropped : expect.passed)++;
            want.push_back(e);
        }
        ASSERT_TRUE(fp.reset_stats().ok());
        auto k0 = std::chrono::steady_clock::now();
        for (uint64_t i = 0; i < n; ++i) {
            const Bytes& pkt = batch[i];
            LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_size_in = static_cast<__u32>(pkt.size()),
                        .repeat = 1);
            ASSERT_EQ(bpf_prog_test_run_opts(fp.prog_fd(), &opts), 0)
                << "BPF_PROG_TEST_RUN: " << strerror(errno) << " on a " << pkt.size() << "-byte frame";
            if (opts.retval != want[i].verdict) {
                if (++differences <= 5)
                    ADD_FAILURE() << "packet " << done + i << " (" << pkt.size() << " bytes, malformed_verdict "
                                  << (mv == FW_VERDICT_DROP ? "drop" : "pass") << "): program " << opts.retval
                                  << ", model " << want[i].verdict << " (model: family " << want[i].family
                                  << ", malformed " << reason_name(want[i].malformed) << ", list "
                                  << static_cast<int>(want[i].list) << ")\n    " << hex(pkt);
            }
        }
        kernel_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - k0).count();
        auto st = fp.stats_total();
        ASSERT_TRUE(st.ok()) << st.error().message();
        bool same = st->allowlist_hits == expect.allowlist_hits && st->blocklist_hits == expect.blocklist_hits &&
                    st->drop_reason[FW_DROP_IP_BLOCKLIST] == expect.drop_blocklist &&
                    st->drop_reason[FW_DROP_MALFORMED] == expect.drop_malformed && st->passed == expect.passed &&
                    st->dropped == expect.dropped && st->processed == n;
        for (int r = 0; r < FW_MAL_REASON_MAX; ++r) same = same && st->malformed[r] == expect.malformed[r];
        if (!same && ++stat_differences <= 3) {
            std::string mal;
            for (int r = 0; r < FW_MAL_REASON_MAX; ++r)
                mal += std::string(" ") + reason_name(r) + "=" + std::to_string(st->malformed[r]) + "/" +
                       std::to_string(expect.malformed[r]);
            ADD_FAILURE() << "batch " << batch_no << " statistics (program/model): allowlist_hits "
                          << st->allowlist_hits << "/" << expect.allowlist_hits << ", blocklist_hits "
                          << st->blocklist_hits << "/" << expect.blocklist_hits << ", drop ip_blocklist "
                          << st->drop_reason[FW_DROP_IP_BLOCKLIST] << "/" << expect.drop_blocklist
                          << ", drop malformed " << st->drop_reason[FW_DROP_MALFORMED] << "/"
                          << expect.drop_malformed << ", passed " << st->passed << "/" << expect.passed
                          << ", dropped " << st->dropped << "/" << expect.dropped << ", malformed" << mal;
        }
        done += n;
    }
    double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::printf("[ XdpDifferential ] %llu packets in %.2f s (%.2f s in BPF_PROG_TEST_RUN, %.2f us/packet); "
                "%llu verdict and %llu statistics differences\n",
                static_cast<unsigned long long>(done), total_s, kernel_s, kernel_s * 1e6 / double(done),
                static_cast<unsigned long long>(differences), static_cast<unsigned long long>(stat_differences));
    std::printf("[ XdpDifferential ] non-IP %llu, parsed unlisted %llu, allowlisted %llu (%llu malformed), "
                "blocklisted %llu (%llu malformed), malformed with addresses %llu / without %llu\n",
                static_cast<unsigned long long>(non_ip), static_cast<unsigned long long>(open_parsed),
                static_cast<unsigned long long>(allowed), static_cast<unsigned long long>(allowed_malformed),
                static_cast<unsigned long long>(blocked), static_cast<unsigned long long>(blocked_malformed),
                static_cast<unsigned long long>(malformed_known), static_cast<unsigned long long>(malformed_unknown));
    std::string reasons;
    for (int r = 0; r < FW_MAL_REASON_MAX; ++r)
        if (r != FW_MAL_ETH && r != FW_MAL_DNS)
            reasons += std::string(" ") + reason_name(r) + "=" + std::to_string(by_reason[r]);
    std::printf("[ XdpDifferential ] malformed by reason:%s\n", reasons.c_str());

    EXPECT_EQ(differences, 0u);
    EXPECT_EQ(stat_differences, 0u);
    // The generator must reach every class the rules distinguish, or agreement proves little.
    if (packets >= 20000) {
        EXPECT_GT(non_ip, 0u);
        EXPECT_GT(open_parsed, 0u);
        EXPECT_GT(allowed_malformed, 0u);
        EXPECT_GT(blocked_malformed, 0u);
        EXPECT_GT(malformed_unknown, 0u);
        for (int r : {FW_MAL_VLAN, FW_MAL_VLAN_DEPTH, FW_MAL_IPV4, FW_MAL_IPV6, FW_MAL_IPV6_EXT, FW_MAL_L4})
            EXPECT_GT(by_reason[r], 0u) << reason_name(r);
    }
}

// The model itself, on hand-made frames with known answers: a model that agreed with the program
// by being equally wrong would fail here.
TEST(XdpDifferentialModel, KnownAnswers) {
    std::vector<ModelEntry> entries;
    for (const auto& e : kEntries) {
        auto p = parse_ip_prefix(e.text);
        ASSERT_TRUE(p.ok());
        entries.push_back({*p, e.list, e.dir});
    }
    const Model m(std::move(entries));
    auto chain = [](const char* src, int n) {
        PacketBuilder b;
        b.eth().ipv6(src, "2001:db8:1::1", kUdp);
        for (int i = 0; i < n; ++i) b.ipv6_ext(i == 0 ? kHop : kDstOpts, kUdp);
        return b.udp(1, 2).build();
    };
    // Eight extension headers are followed, nine are one too many.
    EXPECT_EQ(m.judge(chain("2001:db8::1", 8), FW_VERDICT_DROP).malformed, -1);
    EXPECT_EQ(m.judge(chain("2001:db8::1", 9), FW_VERDICT_DROP).malformed, FW_MAL_IPV6_EXT);
    EXPECT_EQ(m.judge(chain("2001:db8::1", 9), FW_VERDICT_DROP).verdict, uint32_t{XDP_DROP});
    EXPECT_EQ(m.judge(chain("2001:db8::1", 9), FW_VERDICT_PASS).verdict, uint32_t{XDP_PASS});
    EXPECT_EQ(m.judge(chain("2001:db8::66", 9), FW_VERDICT_PASS).verdict, uint32_t{XDP_DROP});
    EXPECT_EQ(m.judge(chain("2001:db8:40::5", 9), FW_VERDICT_PASS).verdict, uint32_t{XDP_DROP});  // CIDR
    EXPECT_EQ(m.judge(chain("2001:db8:40::7", 9), FW_VERDICT_DROP).verdict, uint32_t{XDP_PASS});  // allow in CIDR
    // Destination entries.
    Bytes to_blocked = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.41.3", kUdp).udp(1, 2).build();
    EXPECT_EQ(m.judge(to_blocked, FW_VERDICT_PASS).list, ListMatch::Blocked);
    Bytes from_dst_only = PacketBuilder().eth().ipv4("198.18.1.66", "198.18.0.1", kUdp).udp(1, 2).build();
    EXPECT_EQ(m.judge(from_dst_only, FW_VERDICT_PASS).list, ListMatch::None);
    // Truncated TCP after a valid IPv4 header: addresses known, malformed l4.
    Bytes tcp = PacketBuilder().eth().vlan(7).ipv4("198.18.0.66", "198.18.0.1", kTcp, 8).tcp(1, 2).build();
    tcp.resize(tcp.size() - 1);
    Expected e = m.judge(tcp, FW_VERDICT_PASS);
    EXPECT_EQ(e.malformed, FW_MAL_L4);
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.verdict, uint32_t{XDP_DROP});
    // A later IPv4 fragment has no transport header to be short of.
    Bytes later = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.0.2", kTcp, 0, 0x2000 | 9).payload("ab").build();
    EXPECT_EQ(m.judge(later, FW_VERDICT_DROP).malformed, -1);
    // Bad IPv4 version: addresses unknown, even if the bytes spell a blocked source.
    Bytes bad = PacketBuilder().eth().ipv4("198.18.0.66", "198.18.0.1", kUdp).udp(1, 2).build();
    bad[14] = 0x65;
    e = m.judge(bad, FW_VERDICT_PASS);
    EXPECT_EQ(e.family, 0);
    EXPECT_EQ(e.verdict, uint32_t{XDP_PASS});
    // Three VLAN tags; ARP.
    Bytes qinqinq = PacketBuilder().eth().vlan(1, 0x88A8).vlan(2).vlan(3).ipv4("198.18.0.66", "198.18.0.1", kUdp).udp(1, 2).build();
    EXPECT_EQ(m.judge(qinqinq, FW_VERDICT_PASS).malformed, FW_MAL_VLAN_DEPTH);
    EXPECT_EQ(m.judge(PacketBuilder().eth(0x0806).pad_to(60).build(), FW_VERDICT_DROP).verdict, uint32_t{XDP_PASS});
}

}  // namespace
