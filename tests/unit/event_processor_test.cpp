#include "core/event_processor.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <mutex>
#include <queue>

#include "flywall/abi.h"
#include "flywall/abi_tc.h"

namespace flywall {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint8_t> make_record(std::uint32_t type, const char* src, const char* dst, std::uint16_t sport,
                                      std::uint16_t dport, const char* name = nullptr) {
    fw_event ev{};
    ev.ts_ns = 123456789;
    ev.type = type;
    ev.ifindex = 7;
    ev.proto = 17;
    bool v6 = std::strchr(src, ':') != nullptr;
    ev.family = v6 ? 6 : 4;
    inet_pton(v6 ? AF_INET6 : AF_INET, src, ev.saddr);
    inet_pton(v6 ? AF_INET6 : AF_INET, dst, ev.daddr);
    ev.sport = htons(sport);
    ev.dport = htons(dport);
    ev.reason = type == FW_EV_DOMAIN_BLOCKED ? static_cast<__u32>(FW_DNS_ACTION_NXDOMAIN)
                                            : static_cast<__u32>(FW_DROP_IP_BLOCKLIST);
    if (name) {
        ev.name_len = static_cast<__u16>(std::strlen(name));
        std::memcpy(ev.name, name, ev.name_len + 1);
    }
    std::vector<std::uint8_t> out(sizeof ev);
    std::memcpy(out.data(), &ev, sizeof ev);
    return out;
}

// Hands out queued records; thread-safe so the test can feed it while the processor runs.
class FakeSource final : public EventSource {
public:
    void feed(std::vector<std::uint8_t> rec, RecordKind kind = RecordKind::Xdp) {
        std::lock_guard lk(mu_);
        q_.push({kind, std::move(rec)});
    }
    void fail_next(Error e) {
        std::lock_guard lk(mu_);
        fail_ = std::move(e);
    }
    Result<std::size_t> poll(std::chrono::milliseconds timeout, const Sink& sink) override {
        std::queue<std::pair<RecordKind, std::vector<std::uint8_t>>> batch;
        {
            std::lock_guard lk(mu_);
            if (fail_) {
                Error e = std::move(*fail_);
                fail_.reset();
                return e;
            }
            std::swap(batch, q_);
        }
        if (batch.empty()) {
            std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(5)));
            return std::size_t{0};
        }
        std::size_t n = 0;
        while (!batch.empty()) {
            sink(batch.front().first, batch.front().second);
            batch.pop();
            ++n;
        }
        return n;
    }

private:
    std::mutex mu_;
    std::queue<std::pair<RecordKind, std::vector<std::uint8_t>>> q_;
    std::optional<Error> fail_;
};

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds limit = 3000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (p()) return true;
        std::this_thread::sleep_for(2ms);
    }
    return p();
}

TEST(EventDecode, DecodesIpv4BlockedEvent) {
    auto rec = make_record(FW_EV_IP_BLOCKED, "198.18.0.5", "198.18.0.1", 40000, 53);
    auto ev = decode_event(rec);
    ASSERT_TRUE(ev.ok()) << ev.error().message();
    EXPECT_EQ(ev->type_name, "ip_blocked");
    EXPECT_EQ(ev->src, "198.18.0.5");
    EXPECT_EQ(ev->dst, "198.18.0.1");
    EXPECT_EQ(ev->sport, 40000);
    EXPECT_EQ(ev->dport, 53);
    EXPECT_EQ(ev->family, 4);
    EXPECT_EQ(ev->ifindex, 7u);
    EXPECT_EQ(ev->reason_name, "ip_blocklist");
    auto j = to_json(*ev);
    EXPECT_EQ(j["src"], "198.18.0.5");
    EXPECT_EQ(j["type"], "ip_blocked");
    EXPECT_EQ(j["ts_ns"], 123456789u);
}

TEST(EventDecode, DecodesIpv6DomainEvent) {
    auto rec = make_record(FW_EV_DOMAIN_BLOCKED, "2001:db8:f0::2", "2001:db8:f0::1", 5353, 53, "ads.example.com");
    auto ev = decode_event(rec);
    ASSERT_TRUE(ev.ok());
    EXPECT_EQ(ev->src, "2001:db8:f0::2");
    EXPECT_EQ(ev->name, "ads.example.com");
    EXPECT_EQ(ev->type_name, "domain_blocked");
    EXPECT_EQ(ev->reason_name, "nxdomain");
}

TEST(EventDecode, RejectsShortAndCorruptRecords) {
    std::vector<std::uint8_t> shortrec(sizeof(fw_event) - 1);
    EXPECT_FALSE(decode_event(shortrec).ok());
    auto rec = make_record(FW_EV_DOMAIN_BLOCKED, "198.18.0.5", "198.18.0.1", 1, 53, "x.example");
    fw_event* raw = reinterpret_cast<fw_event*>(rec.data());
    raw->name_len = FW_DNS_NAME_MAX;
    EXPECT_FALSE(decode_event(rec).ok());
}

std::vector<std::uint8_t> make_tc_record(std::uint32_t type, std::uint32_t pattern) {
    fw_tc_event ev{};
    ev.ts_ns = 42;
    ev.type = type;
    ev.pattern_id = pattern;
    ev.ifindex = 3;
    ev.family = 4;
    ev.proto = 6;
    inet_pton(AF_INET, "198.18.0.9", ev.saddr);
    inet_pton(AF_INET, "198.18.0.1", ev.daddr);
    ev.sport = htons(5555);
    ev.dport = htons(80);
    std::vector<std::uint8_t> out(sizeof ev);
    std::memcpy(out.data(), &ev, sizeof ev);
    return out;
}

TEST(EventDecode, DecodesTcIpsEvents) {
    auto ev = decode_record(RecordKind::Tc, make_tc_record(FW_TC_EV_IPS_DROP, 17));
    ASSERT_TRUE(ev.ok()) << ev.error().message();
    EXPECT_EQ(ev->type_name, "ips_drop");
    EXPECT_EQ(ev->pattern_id, 17u);
    EXPECT_EQ(ev->src, "198.18.0.9");
    EXPECT_EQ(ev->dport, 80);
    EXPECT_EQ(to_json(*ev)["pattern_id"], 17);
    EXPECT_FALSE(to_json(*decode_event(make_record(FW_EV_IP_BLOCKED, "198.18.0.5", "198.18.0.1", 1, 2))).contains("pattern_id"));
    EXPECT_FALSE(decode_record(RecordKind::Tc, make_tc_record(99, 1)).ok());
    // The same bytes read as the other ABI are rejected or differ: the kind decides the decoder.
    EXPECT_FALSE(decode_record(RecordKind::Xdp, make_tc_record(FW_TC_EV_IPS_ALERT, 1)).ok());
}

TEST(EventProcessor, FansOutToEverySubscriber) {
    auto src = std::make_unique<FakeSource>();
    FakeSource* feed = src.get();
    EventProcessor ep(std::move(src), 10ms);
    auto a = ep.subscribe("a", 16);
    auto b = ep.subscribe("b", 16);
    ASSERT_TRUE(ep.start().ok());
    EXPECT_TRUE(ep.running());
    for (int i = 0; i < 5; ++i) feed->feed(make_record(FW_EV_IP_BLOCKED, "198.18.0.5", "198.18.0.1", 1000 + i, 80));
    feed->feed(make_tc_record(FW_TC_EV_IPS_ALERT, 7), RecordKind::Tc);
    for (auto& sub : {a, b}) {
        for (int i = 0; i < 5; ++i) {
            auto ev = sub->pop(2000ms);
            ASSERT_TRUE(ev.has_value()) << sub->name() << " event " << i;
            EXPECT_EQ(ev->sport, 1000 + i);  // order preserved
        }
        auto ips = sub->pop(2000ms);
        ASSERT_TRUE(ips.has_value());
        EXPECT_EQ(ips->type_name, "ips_alert");
    }
    auto st = ep.stats();
    EXPECT_EQ(st.received, 6u);
    EXPECT_EQ(st.decoded, 6u);
    ASSERT_EQ(st.subscribers.size(), 2u);
    EXPECT_EQ(st.subscribers[0].delivered, 6u);
    EXPECT_EQ(st.subscribers[0].dropped, 0u);
    ep.stop();
    EXPECT_FALSE(ep.running());
    EXPECT_TRUE(a->closed());
}

TEST(EventProcessor, SlowSubscriberDropsOnlyItsOwnEvents) {
    auto src = std::make_unique<FakeSource>();
    FakeSource* feed = src.get();
    EventProcessor ep(std::move(src), 10ms);
    auto slow = ep.subscribe("slow", 3);
    auto fast = ep.subscribe("fast", 100);
    ASSERT_TRUE(ep.start().ok());
    for (int i = 0; i < 10; ++i) feed->feed(make_record(FW_EV_IP_BLOCKED, "198.18.0.5", "198.18.0.1", i, 80));
    ASSERT_TRUE(wait_until([&] { return ep.stats().decoded == 10; }));
    EXPECT_EQ(slow->queued(), 3u);
    EXPECT_EQ(slow->dropped(), 7u);
    EXPECT_EQ(slow->delivered(), 3u);
    EXPECT_EQ(fast->dropped(), 0u);
    EXPECT_EQ(fast->queued(), 10u);
    // The slow one received the oldest three.
    EXPECT_EQ(slow->pop(100ms)->sport, 0);
    ep.stop();
}

TEST(EventProcessor, CountsDecodeAndPollErrorsAndKeepsRunning) {
    auto src = std::make_unique<FakeSource>();
    FakeSource* feed = src.get();
    EventProcessor ep(std::move(src), 10ms);
    auto sub = ep.subscribe("s", 8);
    ASSERT_TRUE(ep.start().ok());
    feed->feed(std::vector<std::uint8_t>(10, 0));
    feed->fail_next(Error::from_errno(EIO, "poll ring buffers"));
    ASSERT_TRUE(wait_until([&] { return ep.stats().poll_errors == 1 && ep.stats().decode_errors == 1; }));
    feed->feed(make_record(FW_EV_RATE_LIMITED, "198.18.0.9", "198.18.0.1", 1, 2));
    auto ev = sub->pop(2000ms);
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->type_name, "rate_limited");
    auto st = ep.stats();
    EXPECT_TRUE(st.running);
    EXPECT_FALSE(st.last_error.empty());
    ep.stop();
}

TEST(EventProcessor, UnsubscribedReceivesNothing) {
    auto src = std::make_unique<FakeSource>();
    FakeSource* feed = src.get();
    EventProcessor ep(std::move(src), 10ms);
    auto sub = ep.subscribe("s", 8);
    ep.unsubscribe(sub);
    ASSERT_TRUE(ep.start().ok());
    feed->feed(make_record(FW_EV_IP_BLOCKED, "198.18.0.5", "198.18.0.1", 1, 2));
    ASSERT_TRUE(wait_until([&] { return ep.stats().decoded == 1; }));
    EXPECT_EQ(sub->queued(), 0u);
    EXPECT_TRUE(ep.stats().subscribers.empty());
    ep.stop();
}

TEST(JsonLinesLog, WritesOneJsonObjectPerEvent) {
    char tmpl[] = "/tmp/flywall-evlog-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    auto src = std::make_unique<FakeSource>();
    FakeSource* feed = src.get();
    EventProcessor ep(std::move(src), 10ms);
    auto log = JsonLinesLog::open(ep, tmpl);
    ASSERT_TRUE(log.ok()) << log.error().message();
    ASSERT_TRUE(ep.start().ok());
    feed->feed(make_record(FW_EV_IP_BLOCKED, "198.18.0.5", "198.18.0.1", 1, 2));
    feed->feed(make_record(FW_EV_DOMAIN_BLOCKED, "198.18.0.5", "198.18.0.1", 3, 53, "bad.example"));
    ASSERT_TRUE(wait_until([&] { return (*log)->written() == 2; }));
    ep.stop();
    (*log)->stop();
    std::ifstream in(tmpl);
    std::string line;
    std::vector<nlohmann::json> lines;
    while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["type"], "ip_blocked");
    EXPECT_EQ(lines[1]["name"], "bad.example");
    ::unlink(tmpl);
}

}  // namespace
}  // namespace flywall
