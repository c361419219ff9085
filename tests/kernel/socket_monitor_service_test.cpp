// SocketMonitorService with the kernel: the hooks follow the wanted features and interfaces,
// and a real DNS query on loopback comes out of the poll thread as a dns_query Event and in the
// recent-messages ring.
#include "core/socket_monitor_service.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bpf_test_run.hpp"

using namespace flywall;

namespace {

std::vector<std::uint8_t> dns_query(std::uint16_t id, const std::vector<std::string>& labels) {
    std::vector<std::uint8_t> m = {std::uint8_t(id >> 8), std::uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    for (const auto& l : labels) {
        m.push_back(static_cast<std::uint8_t>(l.size()));
        m.insert(m.end(), l.begin(), l.end());
    }
    m.insert(m.end(), {0, 0, 1, 0, 1});  // root, qtype A, class IN
    return m;
}

class SocketMonitorServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        FW_REQUIRE_BPF();
        auto st = svc_.load();
        ASSERT_TRUE(st.ok()) << st.error().message();
        svc_.set_interfaces({"lo"});
    }
    std::size_t hooks_on_lo() {
        std::size_t n = 0;
        for (const auto& h : svc_.hooks()) n += h.ifname == "lo" ? 1 : 0;
        return n;
    }
    std::vector<std::string> errors_;
    SocketMonitorService svc_{[this](const Error& e) { errors_.push_back(e.message()); }};
};

}  // namespace

TEST_F(SocketMonitorServiceTest, HooksFollowTheFeaturesAndTheInterfaces) {
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::Dns, true).ok());
    EXPECT_EQ(svc_.hooks().size(), 0u) << "nothing without the socket_filters master switch";
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::SocketFilters, true).ok());
    EXPECT_EQ(hooks_on_lo(), 1u);
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::Tls, true).ok());
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::Dhcp, true).ok());
    EXPECT_EQ(hooks_on_lo(), 3u);
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::Tls, false).ok());
    EXPECT_EQ(hooks_on_lo(), 2u);
    // New interfaces take effect at the next reconcile, not before.
    svc_.set_interfaces({});
    EXPECT_EQ(hooks_on_lo(), 2u);
    ASSERT_TRUE(svc_.reconcile().ok());
    EXPECT_EQ(svc_.hooks().size(), 0u);
    svc_.set_interfaces({"lo"});
    ASSERT_TRUE(svc_.reconcile().ok());
    EXPECT_EQ(hooks_on_lo(), 2u);
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::SocketFilters, false).ok());
    EXPECT_EQ(svc_.hooks().size(), 0u);
    EXPECT_TRUE(errors_.empty());
}

TEST_F(SocketMonitorServiceTest, AnInterfaceThatDoesNotExistRollsTheFeatureBack) {
    svc_.set_interfaces({"lo", "fwnoexist0"});
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::SocketFilters, true).ok());  // no monitor yet
    auto st = svc_.set_wanted(SocketMonitorFeature::Dns, true);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("fwnoexist0"), std::string::npos) << st.error().message();
    EXPECT_EQ(svc_.hooks().size(), 0u) << "rolled back, lo included";
}

TEST_F(SocketMonitorServiceTest, ALiveDnsQueryBecomesAnEventAndARecentMessage) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Event> events;
    svc_.start([&](const Event& e) {
        std::lock_guard lk(mu);
        events.push_back(e);
        cv.notify_all();
    });
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::SocketFilters, true).ok());
    ASSERT_TRUE(svc_.set_wanted(SocketMonitorFeature::Dns, true).ok());

    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(u, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(53);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto q = dns_query(0x5151, {"svc", "flywall", "test"});
    ASSERT_EQ(::sendto(u, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)),
              static_cast<ssize_t>(q.size()));
    ::close(u);

    std::optional<Event> got;
    {
        std::unique_lock lk(mu);
        cv.wait_for(lk, std::chrono::seconds(5), [&] {
            for (const auto& e : events)
                if (e.name == "svc.flywall.test") {
                    got = e;
                    return true;
                }
            return false;
        });
    }
    ASSERT_TRUE(got.has_value()) << "no dns_query event from the poll thread";
    EXPECT_EQ(got->type, static_cast<std::uint32_t>(SocketEventType::DnsQuery));
    EXPECT_EQ(got->type_name, "dns_query");
    EXPECT_EQ(got->src, "127.0.0.1");
    EXPECT_EQ(got->dst, "127.0.0.1");
    EXPECT_EQ(got->dport, 53);
    EXPECT_EQ(got->extra.at("qtype"), 1);

    auto report = svc_.dns();
    ASSERT_TRUE(report.ok()) << report.error().message();
    bool in_ring = false;
    for (const auto& m : report->recent) in_ring |= m.name == "svc.flywall.test" && !m.response;
    EXPECT_TRUE(in_ring);
    EXPECT_GE(report->stats.queries, 1u);
    EXPECT_GE(report->qtypes[1], 1u);

    svc_.stop();
    EXPECT_EQ(svc_.hooks().size(), 0u);
    EXPECT_EQ(svc_.dns().error().errnum(), ENODEV);
    EXPECT_TRUE(errors_.empty()) << errors_.front();
}
