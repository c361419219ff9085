// The API against hostile clients (issue 8): bytes that are not UTF-8, bodies nested millions
// deep, slow clients, many open event streams, connection floods, exposure off loopback, and a
// token file others can read. Real HTTP on 127.0.0.1, a fake backend (no kernel).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "api/server.hpp"
#include "api/token.hpp"
#include "common/ip_prefix.hpp"
#include "unit/api_fake_backend.hpp"

namespace flywall::api {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

// A raw TCP connection to the server (what a hostile client controls byte by byte).
class RawConn {
public:
    explicit RawConn(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~RawConn() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConn(const RawConn&) = delete;
    RawConn& operator=(const RawConn&) = delete;
    [[nodiscard]] bool connected() const { return connected_; }
    bool send(std::string_view s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
    // Everything until the server closes or timeout passes.
    std::string read_all(std::chrono::milliseconds timeout) {
        std::string out;
        const auto deadline = Clock::now() + timeout;
        char buf[4096];
        while (Clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
            if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            out.append(buf, static_cast<size_t>(n));
        }
        return out;
    }
    [[nodiscard]] bool closed() const { return closed_; }

private:
    int fd_ = -1;
    bool connected_ = false;
    bool closed_ = false;
};

std::string body_part(const std::string& response) {
    auto p = response.find("\r\n\r\n");
    return p == std::string::npos ? std::string() : response.substr(p + 4);
}

class ApiHardening : public ::testing::Test {
protected:
    void start(ServerOptions o = {}) {
        o.listen = {"127.0.0.1", 0};
        o.token = kToken;
        auto s = ApiServer::start(backend, o);
        ASSERT_TRUE(s.ok()) << s.error().message();
        server = std::move(*s);
        client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
        client->set_read_timeout(5, 0);
        client->set_connection_timeout(2, 0);
    }
    void TearDown() override {
        if (server) server->stop();
        if (backend.events) backend.events->stop();
    }
    httplib::Headers auth() const { return {{"Authorization", std::string("Bearer ") + kToken}}; }
    void start_events() {
        backend.events = std::make_unique<EventProcessor>(std::make_unique<QueueSource>(), 10ms);
        ASSERT_TRUE(backend.events->start().ok());
    }

    FakeBackend backend;
    std::unique_ptr<ApiServer> server;
    std::unique_ptr<httplib::Client> client;
};

// Defect 1: GET /%ff made the 404 handler serialise the raw byte and abort the daemon.
TEST_F(ApiHardening, InvalidUtf8PathIsAJson404AndTheServerLives) {
    start();
    RawConn c(server->port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send("GET /%ff%fe/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    std::string resp = c.read_all(3s);
    ASSERT_EQ(resp.rfind("HTTP/1.1 404", 0), 0u) << resp;
    json body = json::parse(body_part(resp), nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << resp;
    EXPECT_EQ(body.at("error"), "no route GET /\\xff\\xfe/x");
    auto h = client->Get("/api/ebpf/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
}

// Defect 2 (API side): invalid UTF-8 in a query value or an import is a 400, not a 500.
TEST_F(ApiHardening, InvalidUtf8InValuesIsA400) {
    start();
    auto r = client->Delete("/api/ebpf/blocklist/ips?value=%ff198.18.0.1", auth());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_FALSE(json::parse(r->body, nullptr, false).is_discarded());
    r = client->Post("/api/ebpf/blocklist/domains/import", auth(), "ok.example.com\nbad\xff.example.com\n", "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_TRUE(backend.domain_adds.empty());
    r = client->Post("/api/ebpf/blocklist/ips", auth(), "{\"entries\":[{\"value\":\"198.18.0.1\xff\"}]}", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_TRUE(backend.ip_adds.empty());
}

// Defect 6: a JSON body nested 10M deep grew the daemon to 1.5 GB.
TEST_F(ApiHardening, DeeplyNestedJsonIsRefusedBeforeParsing) {
    start();
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    std::string body(10'000'000, '[');
    auto r = client->Post("/api/ebpf/blocklist/ips", auth(), body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    json j = json::parse(r->body);
    EXPECT_EQ(j.at("field"), "body");
    EXPECT_NE(j.at("error").get<std::string>().find("nested deeper than 64 levels at byte 64"), std::string::npos) << r->body;
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    // The body itself is held a few times (client, server); a parse would have taken ~1.5 GB.
    EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 300 * 1024) << "max RSS grew by " << (after.ru_maxrss - before.ru_maxrss) << " KiB";
    // 64 levels are fine.
    std::string ok = "{\"entries\":[{\"value\":\"198.18.0.1\",\"x\":" + std::string(61, '[') + std::string(61, ']') + "}]}";
    r = client->Post("/api/ebpf/blocklist/ips", auth(), ok, "application/json");
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 500);
    EXPECT_EQ(json::parse(r->body).at("error").get<std::string>().find("nested"), std::string::npos) << r->body;
}

// Defect 4: eight slow clients or event streams took the API down and SIGTERM hung.
TEST_F(ApiHardening, HundredSlowClientsAndHundredStreamsDoNotStarveHealthOrMutations) {
    start_events();
    start();
    std::vector<std::unique_ptr<RawConn>> slow;
    for (int i = 0; i < 100; ++i) {
        slow.push_back(std::make_unique<RawConn>(server->port()));
        ASSERT_TRUE(slow.back()->connected());
        ASSERT_TRUE(slow.back()->send("GET /api/ebpf/hea"));  // and then nothing
    }
    std::vector<std::unique_ptr<RawConn>> streams;
    for (int i = 0; i < 100; ++i) {
        streams.push_back(std::make_unique<RawConn>(server->port()));
        ASSERT_TRUE(streams.back()->send("GET /api/ebpf/events HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    for (int i = 0; i < 300 && server->event_streams() < 100; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(server->event_streams(), 100u);

    auto t0 = Clock::now();
    auto h = client->Get("/api/ebpf/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    auto m = client->Post("/api/ebpf/blocklist/ips", auth(), R"({"entries":[{"value":"198.18.0.9"}]})", "application/json");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200) << m->body;
    auto took = Clock::now() - t0;
    EXPECT_LT(took, 1s) << "health + mutation took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    EXPECT_GE(server->connections().open, 200u);

    // Stop with every client still connected: all threads end at once.
    t0 = Clock::now();
    server->stop();
    took = Clock::now() - t0;
    EXPECT_LT(took, 2s) << "stop took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    EXPECT_EQ(server->connections().open, 0u);
    EXPECT_EQ(server->event_streams(), 0u);
}

TEST_F(ApiHardening, EventStreamsAreLimited) {
    start_events();
    ServerOptions o;
    o.max_event_streams = 2;
    start(o);
    RawConn a(server->port()), b(server->port());
    ASSERT_TRUE(a.send("GET /api/ebpf/events HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(b.send("GET /api/ebpf/events HTTP/1.1\r\nHost: t\r\n\r\n"));
    for (int i = 0; i < 300 && server->event_streams() < 2; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(server->event_streams(), 2u);
    auto r = client->Get("/api/ebpf/events");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(json::parse(r->body).at("error").get<std::string>().find("too many open event streams"), std::string::npos);
}

// A client that sends a byte now and then never completes its request: it is cut off when the
// request deadline passes, whatever it does in between.
TEST_F(ApiHardening, SlowRequestIsCutOffAtTheDeadline) {
    ServerOptions o;
    o.limits.request_timeout = 400ms;
    start(o);
    RawConn c(server->port());
    const auto t0 = Clock::now();
    const std::string req = "GET /api/ebpf/health HTTP/1.1\r\nHost: t\r\n\r\n";
    bool closed = false;
    for (std::size_t i = 0; i < req.size() - 1 && !closed; ++i) {
        if (!c.send(req.substr(i, 1))) break;
        c.read_all(50ms);
        closed = c.closed();
    }
    if (!closed) {
        c.read_all(1s);
        closed = c.closed();
    }
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_EQ(server->connections().timed_out, 1u);
}

TEST_F(ApiHardening, OversizedHeadersCloseTheConnection) {
    start();
    RawConn c(server->port());
    std::string req = "GET /api/ebpf/health HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 2000; ++i) req += "X-Fill-" + std::to_string(i) + ": " + std::string(40, 'a') + "\r\n";
    req += "\r\n";
    c.send(req);
    std::string resp = c.read_all(3s);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(resp.find("HTTP/1.1 200"), std::string::npos) << resp.substr(0, 200);
}

TEST_F(ApiHardening, ConnectionLimitAnswers503AndRecovers) {
    ServerOptions o;
    o.limits.max_connections = 3;
    start(o);
    std::vector<std::unique_ptr<RawConn>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<RawConn>(server->port()));
        held.back()->send("GET /");
    }
    for (int i = 0; i < 200 && server->connections().open < 3; ++i) std::this_thread::sleep_for(5ms);
    RawConn extra(server->port());
    std::string resp = extra.read_all(2s);
    EXPECT_EQ(resp.rfind("HTTP/1.1 503", 0), 0u) << resp;
    EXPECT_NE(body_part(resp).find("too many open API connections"), std::string::npos);
    EXPECT_EQ(server->connections().rejected_total_limit, 1u);
    held.clear();
    for (int i = 0; i < 200 && server->connections().open > 0; ++i) std::this_thread::sleep_for(5ms);
    auto h = client->Get("/api/ebpf/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
}

// Defect 6: GET /api/ebpf/blocklist/ips with 1M entries answered 120 MB in one piece.
TEST_F(ApiHardening, ListsArePagedAndPageArgumentsValidated) {
    start();
    auto r = client->Get("/api/ebpf/blocklist/ips");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(backend.last_page);
    EXPECT_EQ(backend.last_page->limit, ListPage::kDefaultLimit);
    EXPECT_TRUE(backend.last_page->after.empty());
    r = client->Get("/api/ebpf/blocklist/domains?limit=5&after=ads.example.com");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(backend.last_page->limit, 5u);
    EXPECT_EQ(backend.last_page->after, "ads.example.com");
    for (const char* bad : {"limit=0", "limit=100001", "limit=-1", "limit=1x", "after=", "after=%ff", "after=a%00b"}) {
        r = client->Get(std::string("/api/ebpf/blocklist/ips?") + bad);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
        EXPECT_FALSE(json::parse(r->body, nullptr, false).is_discarded());
    }
}

TEST(ApiExposure, NonLoopbackListenNeedsTls) {
    FakeBackend be;
    ServerOptions o;
    o.listen = {"198.18.0.1", 0};
    o.token = kToken;
    auto s = ApiServer::start(be, o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("tls_cert"), std::string::npos) << s.error().message();
    EXPECT_TRUE(is_loopback_host("127.0.0.1"));
    EXPECT_TRUE(is_loopback_host("127.9.9.9"));
    EXPECT_TRUE(is_loopback_host("::1"));
    EXPECT_TRUE(is_loopback_host("localhost"));
    EXPECT_FALSE(is_loopback_host("0.0.0.0"));
    EXPECT_FALSE(is_loopback_host("::"));
    EXPECT_FALSE(is_loopback_host("198.18.0.1"));
}

class TempDir {
public:
    TempDir() {
        char t[] = "/tmp/flywall-api-XXXXXX";
        path_ = ::mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

TEST(ApiExposure, TlsListenerServesHttpsAndReadsNeedTheToken) {
    TempDir dir;
    const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + key +
                            " -out " + cert + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "SKIP: the openssl command is not installed";
    FakeBackend be;
    ServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.token = kToken;
    o.tls = TlsFiles{cert, key};
    o.reads_need_token = true;
    auto s = ApiServer::start(be, o);
    ASSERT_TRUE(s.ok()) << s.error().message();
    httplib::SSLClient c("127.0.0.1", (*s)->port());
    c.enable_server_certificate_verification(false);
    c.set_read_timeout(5, 0);
    auto r = c.Get("/api/ebpf/health");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 401);
    r = c.Get("/api/ebpf/health", {{"Authorization", std::string("Bearer ") + kToken}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    // Plain HTTP to the TLS port gets nothing useful.
    httplib::Client plain("127.0.0.1", (*s)->port());
    plain.set_read_timeout(2, 0);
    auto p = plain.Get("/api/ebpf/health");
    EXPECT_TRUE(!p || p->status != 200);
    (*s)->stop();

    // A key that does not match or a missing file fails the start with the file named.
    o.tls = TlsFiles{cert, dir.path() + "/missing.pem"};
    auto bad = ApiServer::start(be, o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("missing.pem"), std::string::npos) << bad.error().message();
}

TEST(ApiToken, FileReadableByOthersIsRefused) {
    TempDir dir;
    const std::string path = dir.path() + "/api.token";
    std::ofstream(path) << "0123456789abcdef0123456789abcdef\n";
    ::chmod(path.c_str(), 0644);
    auto t = load_or_create_token(path);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().errnum(), EACCES);
    EXPECT_NE(t.error().message().find("mode 0644"), std::string::npos) << t.error().message();
    EXPECT_NE(t.error().message().find("chmod 600"), std::string::npos);
    ::chmod(path.c_str(), 0600);
    t = load_or_create_token(path);
    ASSERT_TRUE(t.ok()) << t.error().message();
    EXPECT_EQ(t->value, "0123456789abcdef0123456789abcdef");
}

}  // namespace
}  // namespace flywall::api
