// Flow tracking: counters and TCP flags over several packets (IPv4, IPv6), trusted offload
// skipping the blocklist (user-space mark and auto-trust after N packets), sampling of new flows
// with existing flows always updated, idle expiry, listing, occupancy, eviction counting with
// LRU replacement inside a full bucket, and the millisecond timestamp clock.
#include <gtest/gtest.h>

#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <ctime>
#include <thread>

#include "runtime/carry_over.hpp"
#include "runtime/flows.hpp"
#include "runtime/iplists.hpp"
#include "xdp_feature_util.hpp"

using namespace flywall;
using namespace flywall::test;

namespace {

Bytes tcp4(const char* src, uint16_t sport, uint8_t flags, size_t size = 64) {
    return PacketBuilder().eth().ipv4(src, "198.18.1.1", 6).tcp(sport, 80, flags).pad_to(size).build();
}

// BPF_PROG_TEST_RUN runs XDP with ingress_ifindex of loopback (1).
constexpr uint32_t kTestIfindex = 1;

class XdpFlow : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        fp_.emplace(load_fast_path(FW_F_FLOW_TRACKING | FW_F_TRUSTED_OFFLOAD | FW_F_IP_BLOCKLIST));
    }
    fw_flow_key key4(const char* src, uint16_t sport, uint8_t proto = 6, uint16_t dport = 80) {
        auto k = make_flow_key(src, "198.18.1.1", sport, dport, proto, kTestIfindex);
        EXPECT_TRUE(k.ok());
        return k.ok() ? *k : fw_flow_key{};
    }
    void block(const char* src) {
        auto a = ip4(src);
        __u32 key;
        std::memcpy(&key, a.data(), 4);
        fw_ip_entry e{};
        e.flags = FW_ENTRY_MATCH_SRC;
        ASSERT_TRUE(fp_->block4().update(key, e).ok());
        fp_->config().tables |= FW_T_BLOCK4_EXACT_SRC;
    }
    std::optional<XdpFastPath> fp_;
};

TEST_F(XdpFlow, CountersAndFlagsOverSeveralPackets) {
    auto table = FlowTable::of(*fp_);
    // Flow timestamps are CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns), the same clock.
    timespec coarse{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
    uint64_t before = uint64_t(coarse.tv_sec) * 1000000000ull + uint64_t(coarse.tv_nsec);
    EXPECT_EQ(run_verdict(*fp_, tcp4("198.18.0.1", 1111, 0x02, 64)), XDP_PASS);
    EXPECT_EQ(run_verdict(*fp_, tcp4("198.18.0.1", 1111, 0x10, 100)), XDP_PASS);
    EXPECT_EQ(run_verdict(*fp_, tcp4("198.18.0.1", 1111, 0x18, 200)), XDP_PASS);
    auto v = table.lookup(key4("198.18.0.1", 1111));
    ASSERT_TRUE(v.ok() && v->has_value()) << format_flow_key(key4("198.18.0.1", 1111));
    EXPECT_EQ((*v)->packets, 3u);
    EXPECT_EQ((*v)->bytes, 364u);
    EXPECT_EQ((*v)->tcp_flags_seen, 0x1A);
    EXPECT_GE((*v)->first_seen_ns, before);
    EXPECT_GE((*v)->last_seen_ns, (*v)->first_seen_ns);
    EXPECT_EQ((*v)->flags, 0u);

    auto p6 = PacketBuilder().eth().ipv6("2001:db8::5", "2001:db8::1", 17).udp(5353, 53).pad_to(90).build();
    EXPECT_EQ(run_verdict(*fp_, p6), XDP_PASS);
    EXPECT_EQ(run_verdict(*fp_, p6), XDP_PASS);
    auto k6 = make_flow_key("2001:db8::5", "2001:db8::1", 5353, 53, 17, kTestIfindex);
    ASSERT_TRUE(k6.ok());
    auto v6 = table.lookup(*k6);
    ASSERT_TRUE(v6.ok() && v6->has_value());
    EXPECT_EQ((*v6)->packets, 2u);
    EXPECT_EQ((*v6)->bytes, 180u);
    EXPECT_EQ(stats_of(*fp_).flows_new, 2u);
}

// A trusted flow skips the lists only while the policy it was checked under is current: a block
// added later through IpLists (as the API, the config and the learning engine do) reaches it on
// its next packet. Before the policy generation, the trusted flow kept passing until idle.
TEST_F(XdpFlow, TrustedFlowIsCheckedAgainAfterTheListsChange) {
    auto table = FlowTable::of(*fp_);
    IpLists lists(*fp_);
    auto pkt = tcp4("198.18.0.2", 2222, 0x10);
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    auto mark = table.set_trusted(key4("198.18.0.2", 2222), true);
    ASSERT_TRUE(mark.ok() && *mark);
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 1u) << "trusted under the current policy: fast path";

    const __u32 gen = fp_->config().policy_gen;
    ASSERT_TRUE(lists.add("198.18.0.2", IpListKind::Block).ok());
    EXPECT_GT(fp_->config().policy_gen, gen) << "a list change bumps the generation";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP) << "trusted flow of a blocked source";
    EXPECT_EQ(run_verdict(*fp_, tcp4("198.18.0.2", 2223, 0x10)), XDP_DROP) << "other flow of the source";
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.flows_trusted_fastpath, 1u);
    EXPECT_EQ(st.blocklist_hits, 4u);
    auto v = table.lookup(key4("198.18.0.2", 2222));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_TRUE((*v)->flags & FW_FLOW_TRUSTED) << "the mark stays; the stale stamp is what sends it to the checks";

    // Unblocked: the next packet passes the checks and stamps the flow; the one after is fast again.
    ASSERT_TRUE(lists.remove("198.18.0.2", IpListKind::Block).ok());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 1u);
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 2u);

    fp_->config().features &= ~static_cast<__u32>(FW_F_TRUSTED_OFFLOAD);
    ASSERT_TRUE(lists.add("198.18.0.2", IpListKind::Block).ok());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP) << "offload switched off";
    fp_->config().features |= FW_F_TRUSTED_OFFLOAD;
    auto unmark = table.set_trusted(key4("198.18.0.2", 2222), false);
    ASSERT_TRUE(unmark.ok() && *unmark);
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP) << "untrusted";
    auto missing = table.set_trusted(key4("198.18.0.99", 1), true);
    ASSERT_TRUE(missing.ok());
    EXPECT_FALSE(*missing);
}

// Without a list change the trusted path really skips the lists: a map written behind IpLists'
// back (no generation bump) is not consulted. This is what makes the bump load-bearing.
TEST_F(XdpFlow, TrustedFlowSkipsTheListsWhileThePolicyIsUnchanged) {
    auto pkt = tcp4("198.18.0.5", 5555, 0x10);
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    ASSERT_TRUE(FlowTable::of(*fp_).set_trusted(key4("198.18.0.5", 5555), true).ok());
    block("198.18.0.5");
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 1u);
    bump_policy_generation(fp_->config());
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP);
}

TEST_F(XdpFlow, AutoTrustAfterNPacketsUntilABlockArrives) {
    fp_->config().trusted_after_packets = 3;
    IpLists lists(*fp_);
    auto pkt = tcp4("198.18.0.3", 3333, 0x10);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    auto v = FlowTable::of(*fp_).lookup(key4("198.18.0.3", 3333));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ((*v)->flags, uint32_t(FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED));
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_PASS);
    EXPECT_EQ(stats_of(*fp_).flows_trusted_fastpath, 1u);
    ASSERT_TRUE(lists.add("198.18.0.0/24", IpListKind::Block).ok());  // a CIDR (LPM) block too
    EXPECT_EQ(run_verdict(*fp_, pkt), XDP_DROP);
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.flows_auto_trusted, 1u);
    EXPECT_EQ(st.flows_trusted_fastpath, 1u);
}

TEST_F(XdpFlow, SamplingNewFlowsButAlwaysUpdatingExistingOnes) {
    fp_->config().flow_sample_shift = 3;  // 1 of 8
    const int n = 800;
    for (int i = 0; i < n; ++i) run_verdict(*fp_, tcp4("198.18.0.4", static_cast<uint16_t>(10000 + i), 0x02));
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.flows_new + st.flows_sampled_out, static_cast<uint64_t>(n));
    EXPECT_GE(st.flows_new, 50u);
    EXPECT_LE(st.flows_new, 160u);
    auto table = FlowTable::of(*fp_);
    auto listed = table.list(1000);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), st.flows_new);
    // A tracked flow keeps being updated whatever the sampling.
    fp_->config().flow_sample_shift = 31;
    auto k = listed->front().key;
    auto pkt = tcp4("198.18.0.4", ntohs(k.sport), 0x10);
    for (int i = 0; i < 5; ++i) run_verdict(*fp_, pkt);
    auto v = table.lookup(k);
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ((*v)->packets, 6u);
    fp_->config().flow_sample_shift = 0;
    run_verdict(*fp_, tcp4("198.18.0.4", 9, 0x02));
    EXPECT_EQ(stats_of(*fp_).flows_new, st.flows_new + 1) << "shift 0 tracks every new flow";
}

TEST_F(XdpFlow, ListExpireOccupancyAndEvictionEstimate) {
    auto table = FlowTable::of(*fp_);
    auto s0 = table.sample();
    ASSERT_TRUE(s0.ok());
    for (int i = 0; i < 10; ++i) {
        // Timestamps have tick resolution (CLOCK_MONOTONIC_COARSE): let a few ticks pass
        // before the last flow so that it is the most recent one.
        if (i == 9) std::this_thread::sleep_for(std::chrono::milliseconds(30));
        run_verdict(*fp_, tcp4("198.18.0.5", static_cast<uint16_t>(100 + i), 0x10, 64 + 10 * i));
    }
    auto by_bytes = table.list(3, FlowSort::Bytes);
    ASSERT_TRUE(by_bytes.ok());
    ASSERT_EQ(by_bytes->size(), 3u);
    EXPECT_EQ(ntohs(by_bytes->at(0).key.sport), 109);
    EXPECT_EQ(ntohs(by_bytes->at(2).key.sport), 107);
    auto by_time = table.list(1, FlowSort::LastSeen);
    ASSERT_TRUE(by_time.ok());
    EXPECT_EQ(ntohs(by_time->at(0).key.sport), 109);

    // Age four flows by moving last_seen back one minute.
    for (int i = 0; i < 4; ++i) {
        auto k = key4("198.18.0.5", static_cast<uint16_t>(100 + i));
        auto v = table.lookup(k);
        ASSERT_TRUE(v.ok() && v->has_value());
        fw_flow_value old = **v;
        old.last_seen_ns -= 60ull * 1000000000ull;
        auto stored = table.store(k, old);
        ASSERT_TRUE(stored.ok() && *stored);
    }
    auto expired = table.expire_idle(30ull * 1000000000ull);
    ASSERT_TRUE(expired.ok());
    EXPECT_EQ(*expired, 4u);
    auto occ = table.occupancy();
    ASSERT_TRUE(occ.ok());
    EXPECT_EQ(*occ, 6u);
    EXPECT_EQ(FlowTable::capacity(), size_t(FW_FLOW_MAX));

    auto s1 = table.sample();
    ASSERT_TRUE(s1.ok());
    auto est = FlowTable::estimate_evictions(*s0, *s1);
    EXPECT_EQ(est.new_flows, 10u);
    EXPECT_EQ(est.occupancy_growth, 6);
    EXPECT_EQ(est.expired, 4u);
    EXPECT_EQ(est.evicted, 0u);
    // LRU pressure from the program's eviction counter: 100 new flows, 60 of them evicted one.
    FlowSample a{0, 1000, 0, 0, 7}, b{0, 1040, 100, 0, 67};
    auto e2 = FlowTable::estimate_evictions(a, b);
    EXPECT_EQ(e2.evicted, 60u);
    EXPECT_DOUBLE_EQ(e2.evicted_per_new, 0.6);
}

// The table is set-associative (flywall/flowtable.h): FW_WAYS flows per bucket, LRU within the
// bucket. Five flows aimed at one bucket (found with the table's own seed) leave the four most
// recently seen, count one eviction, and the evicted flow is simply created again later.
TEST_F(XdpFlow, FullBucketEvictsItsLeastRecentlySeenFlow) {
    const fw_tbl_config& seeds = fp_->tbl_config();
    // 2^16 buckets: about one in 65536 port pairs shares the first one's bucket.
    std::vector<std::pair<uint16_t, uint16_t>> ports;  // {sport, dport}
    uint32_t bucket = 0;
    for (uint32_t i = 0; i < (1u << 24) && ports.size() < FW_WAYS + 1; ++i) {
        auto sp = static_cast<uint16_t>(1 + (i & 0xFFF)), dp = static_cast<uint16_t>(1 + (i >> 12));
        fw_flow_key k = key4("198.18.0.7", sp, 6, dp);
        uint32_t b = fw_flow_bucket(fw_flow_hash(&k, seeds.flow_seed));
        if (ports.empty()) bucket = b;
        if (b == bucket) ports.emplace_back(sp, dp);
    }
    ASSERT_EQ(ports.size(), size_t(FW_WAYS + 1)) << "no five port pairs share a bucket";
    auto pkt = [&](size_t i) {
        return PacketBuilder().eth().ipv4("198.18.0.7", "198.18.1.1", 6).tcp(ports[i].first, ports[i].second, 0x10)
            .pad_to(64).build();
    };
    auto key = [&](size_t i) { return key4("198.18.0.7", ports[i].first, 6, ports[i].second); };
    auto table = FlowTable::of(*fp_);
    for (size_t i = 0; i < FW_WAYS; ++i) {
        run_verdict(*fp_, pkt(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // >> the 1 ms clock period
    }
    // Touch the first flow again: now the second is the least recently seen.
    run_verdict(*fp_, pkt(0));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    run_verdict(*fp_, pkt(FW_WAYS));
    auto st = stats_of(*fp_);
    EXPECT_EQ(st.flows_new, uint64_t(FW_WAYS + 1));
    EXPECT_EQ(st.flows_evicted, 1u);
    auto evicted = table.lookup(key(1));
    ASSERT_TRUE(evicted.ok());
    EXPECT_FALSE(evicted->has_value()) << "the least recently seen flow is the victim";
    for (size_t i : {size_t(0), size_t(2), size_t(3), size_t(FW_WAYS)}) {
        auto v = table.lookup(key(i));
        ASSERT_TRUE(v.ok() && v->has_value()) << "flow " << i;
    }
    auto first = table.lookup(key(0));
    EXPECT_EQ((*first)->packets, 2u);
    auto occ = table.occupancy();
    ASSERT_TRUE(occ.ok());
    EXPECT_EQ(*occ, size_t(FW_WAYS));
}

// Flow timestamps come from the millisecond clock the program's BPF timer keeps: they follow
// CLOCK_MONOTONIC closely and move between packets a few milliseconds apart.
TEST_F(XdpFlow, TimestampsFollowTheMonotonicClock) {
    auto pkt = tcp4("198.18.0.8", 4242, 0x10);
    EXPECT_EQ(fp_->fast_clock_ns(), 0u) << "the timer starts with the first packet";
    run_verdict(*fp_, pkt);  // starts the clock
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t c1 = fp_->fast_clock_ns();
    EXPECT_GT(c1, 0u) << "the BPF timer ran";
    EXPECT_LE(c1, monotonic_ns());
    EXPECT_GE(c1 + 50000000ull, monotonic_ns()) << "and keeps running (1 ms period)";
    uint64_t before = monotonic_ns();
    run_verdict(*fp_, pkt);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    run_verdict(*fp_, pkt);
    uint64_t after = monotonic_ns();
    auto v = FlowTable::of(*fp_).lookup(key4("198.18.0.8", 4242));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_GE((*v)->last_seen_ns + 50000000ull, after) << "lags the clock by milliseconds, not more";
    EXPECT_LE((*v)->last_seen_ns, after);
    EXPECT_GT((*v)->last_seen_ns, before) << "the clock moved while the test slept";
    EXPECT_LT((*v)->first_seen_ns, before);

    // Under continuous traffic (packets far less than 1 ms apart) the clock keeps moving: the
    // timer is armed once, not pushed back by every packet.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
    while (std::chrono::steady_clock::now() < until) ASSERT_TRUE(run_prog(fp_->prog_fd(), pkt, 1000).ok());
    uint64_t now = monotonic_ns();
    EXPECT_LE(fp_->fast_clock_ns(), now);
    EXPECT_GE(fp_->fast_clock_ns() + 50000000ull, now) << "the timer fired during the traffic";
    EXPECT_FALSE(fp_->watch_fast_clock(monotonic_ns())) << "a running clock is left alone";
}

// The watchdog: a clock word that lags by more than the limit (a stopped timer) is zeroed, and
// the next packet stores the time again and re-arms the timer.
TEST_F(XdpFlow, WatchdogRestartsAStaleClock) {
    EXPECT_FALSE(fp_->watch_fast_clock(monotonic_ns())) << "not started: nothing to do";
    auto pkt = tcp4("198.18.0.9", 4343, 0x10);
    run_verdict(*fp_, pkt);
    ASSERT_GT(fp_->fast_clock_ns(), 0u);
    // Pretend the clock stopped 10 s ago (as seen from 10 s in the future).
    uint64_t future = monotonic_ns() + 10'000'000'000ull;
    EXPECT_TRUE(fp_->watch_fast_clock(future, 50'000'000));
    // (the running timer may store the time again at once; a stopped one would not)
    run_verdict(*fp_, pkt);
    uint64_t now = monotonic_ns();
    EXPECT_GT(fp_->fast_clock_ns(), now - 50'000'000ull);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_GE(fp_->fast_clock_ns() + 50'000'000ull, monotonic_ns()) << "the timer runs again";
}

// IPv4 keys hash and compare four of the six key words; IPv6 keys all six. Flows that differ
// only in the last 8 bytes of an IPv6 address (words 1 and 3) are distinct flows.
TEST_F(XdpFlow, Ipv6FlowsDifferingInTheLowAddressHalfAreDistinct) {
    auto v6 = [](const char* src, const char* dst) {
        return PacketBuilder().eth().ipv6(src, dst, 17).udp(5353, 5353).pad_to(90).build();
    };
    for (int i = 0; i < 3; ++i) run_verdict(*fp_, v6("2001:db8::1", "2001:db8:ff::1"));
    run_verdict(*fp_, v6("2001:db8::2", "2001:db8:ff::1"));
    run_verdict(*fp_, v6("2001:db8::1", "2001:db8:ff::2"));
    EXPECT_EQ(stats_of(*fp_).flows_new, 3u);
    auto table = FlowTable::of(*fp_);
    auto k = [](const char* src, const char* dst) {
        auto r = make_flow_key(src, dst, 5353, 5353, 17, kTestIfindex);
        EXPECT_TRUE(r.ok());
        return *r;
    };
    auto a = table.lookup(k("2001:db8::1", "2001:db8:ff::1"));
    auto b = table.lookup(k("2001:db8::2", "2001:db8:ff::1"));
    auto c = table.lookup(k("2001:db8::1", "2001:db8:ff::2"));
    ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value() && c.ok() && c->has_value());
    EXPECT_EQ((*a)->packets, 3u);
    EXPECT_EQ((*b)->packets, 1u);
    EXPECT_EQ((*c)->packets, 1u);
}

TEST_F(XdpFlow, DisabledTrackingCreatesNothing) {
    fp_->config().features &= ~static_cast<__u32>(FW_F_FLOW_TRACKING | FW_F_TRUSTED_OFFLOAD);
    run_verdict(*fp_, tcp4("198.18.0.6", 1, 0x02));
    auto occ = FlowTable::of(*fp_).occupancy();
    ASSERT_TRUE(occ.ok());
    EXPECT_EQ(*occ, 0u);
    EXPECT_EQ(stats_of(*fp_).flows_new, 0u);
}

}  // namespace

namespace {

// Carry-over (runtime/carry_over.hpp): a second fast path loaded with the first one's seeds takes
// its flow and limiter slots from the first one's pins, and refuses them when the slot layout or
// the seeds differ.
TEST_F(XdpFlow, FlowsCarryOverToTheNextInstanceOnlyWithTheSameLayout) {
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run_verdict(*fp_, tcp4("198.18.0.7", 7777, 0x10)), XDP_PASS);
    const std::string dir = "/sys/fs/bpf/fw-carry-test-" + std::to_string(getpid());
    std::filesystem::remove_all(dir);
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    bpf_map* m;
    bpf_object__for_each_map(m, fp_->object()) {
        std::string n = bpf_map__name(m);
        if (n != "fw_flows" && n != "fw_rl_map" && n.find(".bss") == std::string::npos) continue;
        for (auto& ch : n)
            if (ch == '.') ch = '_';
        ASSERT_EQ(bpf_map__pin(m, (dir + "/" + n).c_str()), 0) << n;
    }
    std::string why;
    auto prev = read_previous_tables(dir, &why);
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(prev) << why;
    ASSERT_TRUE(prev->flows && prev->rl);
    EXPECT_NE(prev->flows->layout.find("trust_gen"), std::string::npos) << prev->flows->layout;

    XdpLoadOptions o;
    o.tbl_seed = prev->seeds;
    auto next = XdpFastPath::load(o);
    ASSERT_TRUE(next.ok()) << next.error().message();
    auto a = next->adopt(*prev);
    EXPECT_TRUE(a.flows && a.rl) << a.why_not;
    auto v = FlowTable::of(*next).lookup(key4("198.18.0.7", 7777));
    ASSERT_TRUE(v.ok() && v->has_value()) << "the flow is found in the new table (same seeds, same places)";
    EXPECT_EQ((*v)->packets, 3u);
    EXPECT_GT(next->config().policy_gen, (*v)->trust_gen) << "carried stamps are all older than this instance's policy";

    auto changed = *prev;
    changed.flows->layout += "x";  // as if a member had moved in the new build
    auto other = XdpFastPath::load(o);
    ASSERT_TRUE(other.ok());
    a = other->adopt(changed);
    EXPECT_FALSE(a.flows);
    EXPECT_TRUE(a.rl);
    EXPECT_NE(a.why_not.find("fw_flows: slot layout changed"), std::string::npos) << a.why_not;
    auto fresh = XdpFastPath::load();  // other seeds: nothing fits where it was
    ASSERT_TRUE(fresh.ok());
    a = fresh->adopt(*prev);
    EXPECT_FALSE(a.flows || a.rl);
    EXPECT_NE(a.why_not.find("seeds differ"), std::string::npos) << a.why_not;
}

}  // namespace
