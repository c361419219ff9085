// Routing, authentication and validation of the HTTP API, over real HTTP on 127.0.0.1 with an
// ephemeral port, against a fake backend (no kernel).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "api/metrics.hpp"
#include "api/server.hpp"
#include "api/token.hpp"
#include "unit/api_fake_backend.hpp"

namespace flywall::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

class ApiServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        ServerOptions o;
        o.listen = {"127.0.0.1", 0};
        o.token = kToken;
        auto s = ApiServer::start(backend, o);
        ASSERT_TRUE(s.ok()) << s.error().message();
        server = std::move(*s);
        ASSERT_GT(server->port(), 0);
        client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
        client->set_read_timeout(5, 0);
    }
    void TearDown() override {
        if (server) server->stop();
    }
    httplib::Headers auth() const { return {{"Authorization", std::string("Bearer ") + kToken}}; }

    FakeBackend backend;
    std::unique_ptr<ApiServer> server;
    std::unique_ptr<httplib::Client> client;
};

json body_of(const httplib::Result& r) { return json::parse(r->body); }

TEST_F(ApiServerTest, ReadRoutesAnswerJson) {
    auto r = client->Get("/api/stats/ebpf");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(body_of(r)["dropped"], 3);
    EXPECT_EQ(body_of(client->Get("/api/ebpf/hooks"))["hooks"][0]["mode"], "generic");
    EXPECT_EQ(client->Get("/api/ebpf/features")->status, 200);
    EXPECT_EQ(client->Get("/api/ebpf/maps")->status, 200);
    EXPECT_EQ(client->Get("/api/ebpf/blocklist/ips")->status, 200);
    EXPECT_EQ(client->Get("/api/ebpf/blocklist/domains")->status, 200);
}

TEST_F(ApiServerTest, UnknownRouteIsJson404) {
    auto r = client->Get("/api/nope");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_TRUE(body_of(r)["error"].is_string());
    EXPECT_TRUE(body_of(r).contains("field"));
}

TEST_F(ApiServerTest, MutationsNeedTheBearerToken) {
    const std::string body = R"({"entries":[{"value":"198.18.0.5"}]})";
    auto none = client->Post("/api/ebpf/blocklist/ips", body, "application/json");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(body_of(none)["field"], "Authorization");
    httplib::Headers wrong{{"Authorization", "Bearer 0123456789abcdef0123456789abcdeX"}};
    EXPECT_EQ(client->Post("/api/ebpf/blocklist/ips", wrong, body, "application/json")->status, 401);
    EXPECT_EQ(client->Post("/api/ebpf/features/qos/disable")->status, 401);
    EXPECT_TRUE(backend.ip_adds.empty());
    EXPECT_TRUE(backend.feature_calls.empty());
    auto ok = client->Post("/api/ebpf/blocklist/ips", auth(), body, "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(body_of(ok)["added"], 1);
    EXPECT_EQ(body_of(ok)["requested"], 1);
    ASSERT_EQ(backend.ip_adds.size(), 1u);
    EXPECT_EQ(backend.ip_adds[0][0].prefix.to_string(), "198.18.0.5");
}

TEST_F(ApiServerTest, ProfileNeedsTokenAndSecondsInRange) {
    EXPECT_EQ(client->Post("/api/ebpf/profile?seconds=5")->status, 401);
    for (const char* bad : {"", "?seconds=0", "?seconds=301", "?seconds=-1", "?seconds=abc", "?seconds=5s",
                            "?seconds=18446744073709551617"}) {
        auto r = client->Post(std::string("/api/ebpf/profile") + bad, auth(), "", "text/plain");
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400) << bad;
        EXPECT_EQ(body_of(r)["field"], "seconds") << bad;
    }
    EXPECT_TRUE(backend.profiles.empty()) << "an invalid request never reaches the backend";
    for (const char* ok : {"?seconds=1", "?seconds=300"}) {
        auto r = client->Post(std::string("/api/ebpf/profile") + ok, auth(), "", "text/plain");
        ASSERT_TRUE(r) << ok;
        EXPECT_EQ(r->status, 200) << ok;
        EXPECT_EQ(body_of(r)["kernel_bpf_stats"]["on"], true);
    }
    ASSERT_EQ(backend.profiles.size(), 2u);
    EXPECT_EQ(backend.profiles[0], 1s);
    EXPECT_EQ(backend.profiles[1], 300s);
}

TEST_F(ApiServerTest, BadBulkIsRejectedWholeWithField) {
    auto r = client->Post("/api/ebpf/blocklist/ips", auth(),
                          R"({"entries":[{"value":"198.18.0.5"},{"value":"198.18.0.999"}]})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(body_of(r)["field"], "entries[1].value");
    EXPECT_TRUE(backend.ip_adds.empty());  // nothing partial
    auto notjson = client->Post("/api/ebpf/blocklist/ips", auth(), "{", "application/json");
    EXPECT_EQ(notjson->status, 400);
    EXPECT_EQ(body_of(notjson)["field"], "body");
}

TEST_F(ApiServerTest, BackendErrorsMapToStatusCodes) {
    backend.fail_next_add = Error::from_errno(ENOSPC, "add to block list: map full");
    auto r = client->Post("/api/ebpf/blocklist/ips", auth(), R"({"entries":[{"value":"198.18.0.5"}]})", "application/json");
    EXPECT_EQ(r->status, 507);
    EXPECT_NE(body_of(r)["error"].get<std::string>().find("map full"), std::string::npos);
}

TEST_F(ApiServerTest, DeleteByBodyAndByQuery) {
    auto r = client->Delete("/api/ebpf/blocklist/ips", auth(), R"({"entries":[{"value":"198.18.0.5"},{"value":"2001:db8::1","list":"allow"}]})",
                            "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r)["removed"], 1);
    EXPECT_EQ(body_of(r)["requested"], 2);
    auto q = client->Delete("/api/ebpf/blocklist/ips?value=198.18.0.0/24&list=block", auth());
    EXPECT_EQ(q->status, 200) << q->body;
    ASSERT_EQ(backend.ip_removes.size(), 2u);
    EXPECT_EQ(backend.ip_removes[1][0].prefix.to_string(), "198.18.0.0/24");
    auto dq = client->Delete("/api/ebpf/blocklist/domains?value=Ads.Example.com", auth());
    EXPECT_EQ(dq->status, 200) << dq->body;
    ASSERT_EQ(backend.domain_removes.size(), 1u);
    EXPECT_EQ(backend.domain_removes[0][0].name, "ads.example.com");
}

TEST_F(ApiServerTest, PlainTextImports) {
    auto r = client->Post("/api/ebpf/blocklist/ips/import?list=block&direction=both&ttl=120", auth(),
                          "198.18.0.5\n198.18.3.0/24\n# comment\n", "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r)["added"], 2);
    ASSERT_EQ(backend.ip_adds.size(), 1u);
    EXPECT_EQ(backend.ip_adds[0][1].dir, MatchDir::Both);
    EXPECT_EQ(backend.ip_adds[0][1].ttl, std::chrono::nanoseconds(120s));
    auto json_ct = client->Post("/api/ebpf/blocklist/ips/import", auth(), "198.18.0.5\n", "application/json");
    EXPECT_EQ(json_ct->status, 415);
    auto bad_opt = client->Post("/api/ebpf/blocklist/ips/import?ttl=abc", auth(), "198.18.0.5\n", "text/plain");
    EXPECT_EQ(bad_opt->status, 400);
    EXPECT_EQ(body_of(bad_opt)["field"], "ttl");
    auto bad_line = client->Post("/api/ebpf/blocklist/ips/import", auth(), "198.18.0.5\nx\n", "text/plain");
    EXPECT_EQ(bad_line->status, 400);
    EXPECT_EQ(body_of(bad_line)["field"], "line 2");
    EXPECT_EQ(backend.ip_adds.size(), 1u);

    auto hosts = client->Post("/api/ebpf/blocklist/domains/import?action=drop", auth(),
                              "127.0.0.1 localhost\n0.0.0.0 ads.example.com\n0.0.0.0 t.example\n", "text/plain");
    EXPECT_EQ(hosts->status, 200) << hosts->body;
    ASSERT_EQ(backend.domain_adds.size(), 1u);
    ASSERT_EQ(backend.domain_adds[0].size(), 2u);
    EXPECT_EQ(backend.domain_adds[0][0].action, DomainAction::Drop);
}

TEST_F(ApiServerTest, FeatureToggleStatusCodes) {
    auto ok = client->Post("/api/ebpf/features/events/disable", auth());
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(body_of(ok)["enabled"], false);
    EXPECT_EQ(client->Post("/api/ebpf/features/nope/enable", auth())->status, 404);
    auto busy = client->Post("/api/ebpf/features/flow_monitoring/disable", auth());
    EXPECT_EQ(busy->status, 409);
    EXPECT_EQ(body_of(busy)["field"], "force");
    EXPECT_EQ(client->Post("/api/ebpf/features/flow_monitoring/disable?force=true", auth())->status, 200);
    EXPECT_EQ(client->Post("/api/ebpf/features/qos/enable", auth())->status, 409);
    EXPECT_EQ(client->Post("/api/ebpf/features/qos/enable?force=maybe", auth())->status, 400);
    ASSERT_EQ(backend.feature_calls.size(), 5u);
    EXPECT_EQ(backend.feature_calls[3], std::make_tuple(std::string("flow_monitoring"), false, true));
}

TEST_F(ApiServerTest, FlowsLimitValidated) {
    EXPECT_EQ(client->Get("/api/ebpf/flows?limit=5")->status, 200);
    EXPECT_EQ(backend.last_flow_limit, 5u);
    EXPECT_EQ(client->Get("/api/ebpf/flows")->status, 200);
    EXPECT_EQ(backend.last_flow_limit, 100u);
    auto bad = client->Get("/api/ebpf/flows?limit=-1");
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(body_of(bad)["field"], "limit");
}

TEST_F(ApiServerTest, HealthStatusFollowsState) {
    EXPECT_EQ(client->Get("/api/ebpf/health")->status, 200);
    backend.healthy = false;
    auto r = client->Get("/api/ebpf/health");
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(body_of(r)["healthy"], false);
}

TEST_F(ApiServerTest, MetricsArePrometheusText) {
    auto r = client->Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("# TYPE flywall_packets_dropped_total counter"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("flywall_packets_dropped_total 3"), std::string::npos);
    EXPECT_NE(r->body.find("flywall_drops_total{reason=\"ip_blocklist\"} 3"), std::string::npos);
    EXPECT_NE(r->body.find("flywall_program_run_count_total{program=\"xdp_blocklist\"} 10"), std::string::npos);
    EXPECT_NE(r->body.find("flywall_feature_enabled{feature=\"qos\"} 0"), std::string::npos);
    EXPECT_NE(r->body.find("flywall_healthy 1"), std::string::npos);
}

TEST_F(ApiServerTest, EventsStreamAsServerSentEvents) {
    EXPECT_EQ(client->Get("/api/ebpf/events")->status, 503);  // no event processor
    auto src = std::make_unique<QueueSource>();
    QueueSource* feed = src.get();
    backend.events = std::make_unique<EventProcessor>(std::move(src), 10ms);
    ASSERT_TRUE(backend.events->start().ok());

    std::string received;
    std::thread reader([&] {
        httplib::Client c("127.0.0.1", server->port());
        c.set_read_timeout(5, 0);
        auto r = c.Get("/api/ebpf/events?limit=2", [&](const char* d, size_t n) {
            received.append(d, n);
            return true;
        });
        EXPECT_TRUE(r);
        if (r) {
            EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
        }
    });
    // Wait for the subscription before feeding.
    for (int i = 0; i < 200 && backend.events->stats().subscribers.empty(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(backend.events->stats().subscribers.size(), 1u);
    for (int i = 0; i < 2; ++i) {
        fw_event ev{};
        ev.type = FW_EV_IP_BLOCKED;
        ev.family = 4;
        ev.saddr[0] = 198, ev.saddr[1] = 18, ev.saddr[3] = static_cast<__u8>(5 + i);
        std::vector<std::uint8_t> rec(sizeof ev);
        std::memcpy(rec.data(), &ev, sizeof ev);
        feed->feed(rec);
    }
    reader.join();
    EXPECT_NE(received.find("event: ip_blocked\ndata: {"), std::string::npos) << received;
    EXPECT_NE(received.find("\"src\":\"198.18.0.5\""), std::string::npos) << received;
    EXPECT_NE(received.find("\"src\":\"198.18.0.6\""), std::string::npos) << received;
    // The stream's subscription is released when the client is done.
    for (int i = 0; i < 200 && !backend.events->stats().subscribers.empty(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(backend.events->stats().subscribers.empty());
    backend.events->stop();
}

TEST(ApiListen, ParsesAddresses) {
    auto a = parse_listen("127.0.0.1:8080");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 8080);
    auto b = parse_listen("[::1]:0");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 0);
    EXPECT_FALSE(parse_listen("127.0.0.1").ok());
    EXPECT_FALSE(parse_listen("127.0.0.1:99999").ok());
    EXPECT_FALSE(parse_listen("[::1]8080").ok());
}

TEST(ApiToken, CreatesOnceWithMode0600ThenReads) {
    char dir[] = "/tmp/flywall-token-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/sub/api.token";
    auto t1 = load_or_create_token(path);
    ASSERT_TRUE(t1.ok()) << t1.error().message();
    EXPECT_TRUE(t1->created);
    EXPECT_EQ(t1->value.size(), 64u);
    struct stat st{};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto t2 = load_or_create_token(path);
    ASSERT_TRUE(t2.ok());
    EXPECT_FALSE(t2->created);
    EXPECT_EQ(t2->value, t1->value);
    EXPECT_TRUE(token_equals(t1->value, t2->value));
    EXPECT_FALSE(token_equals(t1->value, t1->value + "x"));
    unlink(path.c_str());
    rmdir((std::string(dir) + "/sub").c_str());
    rmdir(dir);
}

TEST(ApiServer, SecondServerOnSamePortFails) {
    FakeBackend be;
    ServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.token = kToken;
    auto a = ApiServer::start(be, o);
    ASSERT_TRUE(a.ok());
    o.listen.port = (*a)->port();
    auto b = ApiServer::start(be, o);
    EXPECT_FALSE(b.ok());
}

}  // namespace
}  // namespace flywall::api
