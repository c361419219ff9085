// The `flywall` client commands: formatting and argument -> request mapping as pure functions,
// then whole commands against a tiny httplib server with canned answers on an ephemeral
// 127.0.0.1 port, checking exit codes and what is printed.
#include "cli/client_commands.hpp"
#include "cli/client_format.hpp"
#include "cli/client_http.hpp"
#include "cli/client_requests.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace flywall::cli {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------- formatting

TEST(CliFormat, BytesUseBinaryUnits) {
    EXPECT_EQ(format_bytes(0), "0 B");
    EXPECT_EQ(format_bytes(512), "512 B");
    EXPECT_EQ(format_bytes(1536), "1.5 KiB");
    EXPECT_EQ(format_bytes(12.3 * 1024 * 1024), "12.3 MiB");
    EXPECT_EQ(format_bytes(3.0 * 1024 * 1024 * 1024), "3.0 GiB");
}

TEST(CliFormat, RatesUseSiPrefixes) {
    EXPECT_EQ(format_rate(0, "pps"), "0 pps");
    EXPECT_EQ(format_rate(950, "pps"), "950 pps");
    EXPECT_EQ(format_rate(1234567, "pps"), "1.2 Mpps");
    EXPECT_EQ(format_rate(2.5e9, "bit/s"), "2.5 Gbit/s");
}

TEST(CliFormat, DurationsAndSeconds) {
    EXPECT_EQ(format_duration_ns(85), "85 ns");
    EXPECT_EQ(format_duration_ns(1500), "1.5 us");
    EXPECT_EQ(format_duration_ns(2.5e6), "2.5 ms");
    EXPECT_EQ(format_duration_ns(3e9), "3.0 s");
    EXPECT_EQ(format_seconds(59), "59s");
    EXPECT_EQ(format_seconds(600), "10m");
    EXPECT_EQ(format_seconds(3720), "1h2m");
    EXPECT_EQ(format_seconds(90000), "1d1h");
}

TEST(CliFormat, ValueUnitFollowsTheKey) {
    EXPECT_EQ(format_value("rx_bytes", json(12.3 * 1024 * 1024)), "12.3 MiB");
    EXPECT_EQ(format_value("memory", json(2048)), "2.0 KiB");
    EXPECT_EQ(format_value("key_size", json(16)), "16");  // exact small sizes
    EXPECT_EQ(format_value("max_memory_mb", json(500)), "500");
    EXPECT_EQ(format_value("rate_pps", json(1200000)), "1.2 Mpps");
    EXPECT_EQ(format_value("run_time_ns", json(1500)), "1.5 us");
    EXPECT_EQ(format_value("ttl", json(3720)), "1h2m");
    EXPECT_EQ(format_value("ttl_remaining", json(59)), "59s");
    EXPECT_EQ(format_value("uptime_sec", json(600)), "10m");
    EXPECT_EQ(format_value("enabled", json(true)), "yes");
    EXPECT_EQ(format_value("field", json(nullptr)), "-");
    EXPECT_EQ(format_value("depends_on", json::array({"flow_monitoring", "statistics"})), "flow_monitoring,statistics");
    EXPECT_EQ(format_value("depends_on", json::array()), "-");
    EXPECT_EQ(format_value("packets", json(1234567)), "1234567");  // counters stay exact
}

TEST(CliFormat, TableAlignsColumnsAndRightAlignsNumbers) {
    Table t{{"name", "entries", "memory"},
            {{"fw_block4", "3", "1.5 KiB"}, {"fw_flows", "12045", "12.3 MiB"}, {"fw_cfg", "-", "-"}}};
    EXPECT_EQ(render_table(t),
              "NAME       ENTRIES    MEMORY\n"
              "fw_block4        3   1.5 KiB\n"
              "fw_flows     12045  12.3 MiB\n"
              "fw_cfg           -         -\n");
    // Addresses are not numbers: left-aligned.
    Table a{{"address", "hits"}, {{"198.18.10.2", "7"}, {"2001:db8::5", "12"}}};
    EXPECT_EQ(render_table(a),
              "ADDRESS      HITS\n"
              "198.18.10.2     7\n"
              "2001:db8::5    12\n");
    EXPECT_EQ(render_table(Table{{"name"}, {}}), "NAME\n");
    EXPECT_EQ(render_table(Table{}), "");
    EXPECT_EQ(render_flows(json{{"flows", json::array()}}), "0 flows\n");
}

TEST(CliFormat, TableColumnsPreferredFirstThenFirstSeen) {
    json rows = json::array({json{{"extra", 1}, {"name", "qos"}, {"enabled", false}},
                             json{{"name", "flow_monitoring"}, {"enabled", true}, {"more", "x"}}});
    Table t = table_from_objects(rows, {"name", "enabled", "missing"});
    EXPECT_EQ(t.headers, (std::vector<std::string>{"name", "enabled", "extra", "more"}));
    ASSERT_EQ(t.rows.size(), 2u);
    EXPECT_EQ(t.rows[0], (std::vector<std::string>{"qos", "no", "1", "-"}));
    EXPECT_EQ(t.rows[1], (std::vector<std::string>{"flow_monitoring", "yes", "-", "x"}));
    // One level of nesting becomes dotted columns with units.
    Table n = table_from_objects(json::array({json{{"name", "qos"}, {"cost", {{"memory_bytes", 2048}}}}}), {"name"});
    EXPECT_EQ(n.headers, (std::vector<std::string>{"name", "cost.memory_bytes"}));
    EXPECT_EQ(n.rows[0], (std::vector<std::string>{"qos", "2.0 KiB"}));
}

TEST(CliFormat, ExtractRowsAcceptsTheCommonShapes) {
    const json arr = json::array({json{{"name", "a"}}});
    EXPECT_EQ(extract_rows(arr, {"maps"}), arr);
    EXPECT_EQ(extract_rows(json{{"maps", arr}, {"total", 1}}, {"maps"}), arr);
    json by_name = json{{"qos", json{{"enabled", true}}}};
    EXPECT_EQ(extract_rows(by_name, {"features"}), json::array({json{{"name", "qos"}, {"enabled", true}}}));
    EXPECT_EQ(extract_rows(json{{"features", by_name}}, {"features"}),
              json::array({json{{"name", "qos"}, {"enabled", true}}}));
    EXPECT_TRUE(extract_rows(json(3), {"x"}).empty());
}

TEST(CliFormat, FeaturesTable) {
    json body{{"features", json::array({json{{"name", "inline_ips"}, {"enabled", true}, {"depends_on", {"flow_monitoring"}}},
                                        json{{"name", "flow_monitoring"}, {"enabled", true}, {"depends_on", json::array()}}})}};
    EXPECT_EQ(render_features(body),
              "NAME             ENABLED  DEPENDS_ON\n"
              "inline_ips       yes      flow_monitoring\n"
              "flow_monitoring  yes      -\n");
    // A plain name -> bool map works too.
    EXPECT_EQ(render_features(json{{"qos", false}}), "NAME  ENABLED\nqos   no\n");
}

TEST(CliFormat, KeyValuesNestAndTabulate) {
    json stats{{"packets", 10},
               {"bytes", 2048},
               {"drops", json{{"blocklist", 3}}},
               {"programs", json::array({json{{"name", "xdp_blocklist"}, {"run_cnt", 10}, {"run_time_ns", 850}}})}};
    EXPECT_EQ(render_stats(stats),
              "bytes    2.0 KiB\n"
              "packets  10\n"
              "drops:\n"
              "  blocklist  3\n"
              "programs:\n"
              "  NAME           RUN_CNT  RUN_TIME_NS\n"
              "  xdp_blocklist       10       850 ns\n");
}

TEST(CliFormat, ListsCountTheirEntries) {
    json ips{{"entries", json::array({json{{"value", "198.18.5.5"}, {"list", "block"}, {"hits", 4}}})}};
    EXPECT_EQ(render_ip_list(ips), "VALUE       LIST   HITS\n198.18.5.5  block     4\n1 entry\n");
    EXPECT_EQ(render_domain_list(json::array({"ads.example.com", "b.example"})),
              "DOMAIN\nads.example.com\nb.example\n2 domains\n");
}

TEST(CliFormat, MutationsEventsAndErrors) {
    EXPECT_EQ(render_mutation(json{{"requested", 3}, {"added", 3}}), "added 3 of 3 requested\n");
    EXPECT_EQ(render_mutation(json{{"feature", "flow_monitoring"}, {"enabled", false}, {"changed", {"flow_monitoring", "qos"}}}),
              "flow_monitoring disabled (changed: flow_monitoring,qos)\n");
    EXPECT_EQ(render_mutation(json{{"b", 1}, {"a", "x"}}), "a=x b=1\n");
    EXPECT_EQ(render_mutation(json::object()), "ok\n");
    EXPECT_EQ(render_mutation(json{{"message", "done"}}), "done\n");
    EXPECT_EQ(render_event_line(json{{"type", "ip_blocked"}, {"type_id", 1}, {"ts_ns", 123456789}, {"src", "198.18.10.2"},
                                     {"dport", 80}, {"name", ""}, {"reason_name", "ip_blocklist"}},
                                "12:00:00.000"),
              "12:00:00.000 ip_blocked dport=80 reason_name=ip_blocklist src=198.18.10.2");
    EXPECT_EQ(render_event_line(json{{"src", "x"}}, ""), "event src=x");
    EXPECT_EQ(local_time_of_day().size(), 12u);
    EXPECT_EQ(error_text(409, R"({"error":"flow_monitoring is needed by inline_ips","field":"force"})"),
              "HTTP 409: flow_monitoring is needed by inline_ips (field: force)");
    EXPECT_EQ(error_text(500, "boom\n"), "HTTP 500: boom");
    EXPECT_EQ(error_text(502, ""), "HTTP 502: (empty answer)");
}

// ---------------------------------------------------------------- argument -> request

TEST(CliRequests, Ttl) {
    EXPECT_EQ(*parse_ttl("90"), 90u);
    EXPECT_EQ(*parse_ttl("30s"), 30u);
    EXPECT_EQ(*parse_ttl("15m"), 900u);
    EXPECT_EQ(*parse_ttl("2h"), 7200u);
    EXPECT_EQ(*parse_ttl("1d"), 86400u);
    EXPECT_FALSE(parse_ttl("0").ok());
    EXPECT_FALSE(parse_ttl("").ok());
    EXPECT_FALSE(parse_ttl("5w").ok());
    EXPECT_FALSE(parse_ttl("m5").ok());
}

TEST(CliRequests, IpEntriesAreCheckedAndNormalised) {
    EXPECT_EQ(*normalize_ip_entry("198.18.5.5"), "198.18.5.5");
    EXPECT_EQ(*normalize_ip_entry("2001:DB8:0::5"), "2001:db8::5");
    EXPECT_EQ(*normalize_ip_entry("198.18.7.9/24"), "198.18.7.0/24");
    EXPECT_EQ(*normalize_ip_entry("2001:db8:1::1/48"), "2001:db8:1::/48");
    EXPECT_EQ(*normalize_ip_entry("0.0.0.0/0"), "0.0.0.0/0");
    EXPECT_FALSE(normalize_ip_entry("198.18.5").ok());
    EXPECT_FALSE(normalize_ip_entry("198.18.5.5/33").ok());
    EXPECT_FALSE(normalize_ip_entry("2001:db8::/129").ok());
    EXPECT_FALSE(normalize_ip_entry("198.18.5.5/").ok());
    EXPECT_FALSE(normalize_ip_entry("example.com").ok());
}

TEST(CliRequests, DomainsAreCheckedAndNormalised) {
    EXPECT_EQ(*normalize_domain("Ads.Example.COM."), "ads.example.com");
    EXPECT_EQ(*normalize_domain("*.tracker.example"), "tracker.example");  // a name covers its subdomains
    EXPECT_EQ(*normalize_domain(" zip "), "zip");                            // one label: a whole TLD
    EXPECT_FALSE(normalize_domain("a..b").ok());
    EXPECT_FALSE(normalize_domain("-a.example").ok());
    EXPECT_FALSE(normalize_domain("a b.example").ok());
    EXPECT_FALSE(normalize_domain("198.18.0.1").ok());
}

TEST(CliRequests, BlockAddMapsFlagsToEntries) {
    IpListArgs a;
    a.entries = {"198.18.5.5", "2001:db8::5", "198.18.64.0/18"};
    a.ttl_sec = 600;
    a.direction = Direction::Both;
    auto r = block_add_request(a);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->method, Method::Post);
    EXPECT_EQ(r->path, "/api/ebpf/blocklist/ips");
    EXPECT_FALSE(r->text);
    const json e0{{"value", "198.18.5.5"}, {"direction", "both"}, {"list", "block"}, {"ttl", 600}};
    ASSERT_TRUE(r->body);
    EXPECT_EQ(r->body->at("entries").size(), 3u);
    EXPECT_EQ(r->body->at("entries")[0], e0);
    EXPECT_EQ(r->body->at("entries")[1].at("value"), "2001:db8::5");
    EXPECT_EQ(r->body->size(), 1u);  // only "entries": the API rejects unknown fields

    a.allow = true;
    a.direction = Direction::Destination;
    a.ttl_sec.reset();
    a.entries = {"198.18.1.1"};
    r = block_add_request(a);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r->body, json({{"entries", json::array({json{{"value", "198.18.1.1"}, {"direction", "dst"}, {"list", "allow"}}})}}));
}

TEST(CliRequests, BlockDelDropsTheTtlAndRejectsBadInput) {
    IpListArgs a;
    a.entries = {"198.18.5.5"};
    a.ttl_sec = 5;
    auto r = block_del_request(a);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->method, Method::Delete);
    EXPECT_EQ(*r->body, json({{"entries", json::array({json{{"value", "198.18.5.5"}, {"direction", "src"}, {"list", "block"}}})}}));
    a.entries = {"198.18.5.5", "nope"};
    auto bad = block_del_request(a);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().context.find("\"nope\""), std::string::npos);
    EXPECT_FALSE(block_add_request(IpListArgs{}).ok());
}

TEST(CliRequests, ImportsSendTextWithQueryOptions) {
    IpListArgs a;
    a.ttl_sec = 86400;
    a.direction = Direction::Source;
    auto r = block_import_request("198.18.0.0/16\n", a);
    EXPECT_EQ(r.method, Method::Post);
    EXPECT_EQ(r.path, "/api/ebpf/blocklist/ips/import?list=block&direction=src&ttl=86400");
    EXPECT_EQ(r.text, std::optional<std::string>("198.18.0.0/16\n"));
    EXPECT_FALSE(r.body);
    DomainListArgs d;
    EXPECT_EQ(domain_import_request("x", d).path, "/api/ebpf/blocklist/domains/import");
    d.ttl_sec = 60;
    d.action = "drop";
    EXPECT_EQ(domain_import_request("x", d).path, "/api/ebpf/blocklist/domains/import?ttl=60&action=drop");
}

TEST(CliRequests, DomainAddAndDel) {
    DomainListArgs d;
    d.domains = {"Ads.Example.com."};
    d.ttl_sec = 3600;
    d.action = "nxdomain";
    auto r = domain_add_request(d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->path, "/api/ebpf/blocklist/domains");
    EXPECT_EQ(*r->body, json({{"entries", json::array({json{{"value", "ads.example.com"}, {"ttl", 3600}, {"action", "nxdomain"}}})}}));
    auto del = domain_del_request(d);
    ASSERT_TRUE(del.ok());
    EXPECT_EQ(del->method, Method::Delete);
    EXPECT_EQ(*del->body, json({{"entries", json::array({json{{"value", "ads.example.com"}}})}}));
}

TEST(CliRequests, ReadOnlyRoutesAndFeatureToggles) {
    EXPECT_EQ(status_request(), (ApiRequest{Method::Get, "/api/ebpf/health", {}, {}}));
    EXPECT_EQ(stats_request().path, "/api/stats/ebpf");
    EXPECT_EQ(features_request().path, "/api/ebpf/features");
    EXPECT_EQ(maps_request().path, "/api/ebpf/maps");
    EXPECT_EQ(hooks_request().path, "/api/ebpf/hooks");
    EXPECT_EQ(block_list_request().path, "/api/ebpf/blocklist/ips");
    EXPECT_EQ(domain_list_request().path, "/api/ebpf/blocklist/domains");
    EXPECT_EQ(block_list_request(500, "198.18.0.7,block,src").path,
              "/api/ebpf/blocklist/ips?limit=500&after=198.18.0.7%2Cblock%2Csrc");
    EXPECT_EQ(domain_list_request(0, "a.example").path, "/api/ebpf/blocklist/domains?after=a.example");
    EXPECT_NE(render_ip_list(json{{"entries", json::array({json{{"value", "198.18.0.1"}}})}, {"total", 3}, {"next", "198.18.0.1,block,src"}})
                  .find("1 entry of 3; next page: --after 198.18.0.1,block,src"),
              std::string::npos);
    EXPECT_EQ(flows_request(std::nullopt).path, "/api/ebpf/flows");
    EXPECT_EQ(flows_request(20).path, "/api/ebpf/flows?limit=20");
    EXPECT_EQ(events_request(std::nullopt).path, "/api/ebpf/events");
    EXPECT_EQ(events_request(5).path, "/api/ebpf/events?limit=5");
    auto en = feature_toggle_request("qos", true, false);
    ASSERT_TRUE(en.ok());
    EXPECT_EQ(*en, (ApiRequest{Method::Post, "/api/ebpf/features/qos/enable", {}, {}}));
    EXPECT_EQ(feature_toggle_request("flow_monitoring", false, true)->path,
              "/api/ebpf/features/flow_monitoring/disable?force=true");
    EXPECT_EQ(feature_toggle_request("a/b", true, false)->path, "/api/ebpf/features/a%2Fb/enable");
    EXPECT_FALSE(feature_toggle_request("", true, false).ok());
    auto prof = profile_request(30);
    ASSERT_TRUE(prof.ok());
    EXPECT_EQ(*prof, (ApiRequest{Method::Post, "/api/ebpf/profile?seconds=30", {}, {}}));
    EXPECT_EQ(profile_request(300)->path, "/api/ebpf/profile?seconds=300");
    EXPECT_EQ(profile_request(1)->path, "/api/ebpf/profile?seconds=1");
    EXPECT_FALSE(profile_request(0).ok());
    EXPECT_FALSE(profile_request(301).ok());
    EXPECT_FALSE(profile_request(-5).ok());
}

TEST(CliRequests, Endpoints) {
    EXPECT_EQ(*parse_endpoint("127.0.0.1:8080"), (ApiEndpoint{"127.0.0.1", 8080}));
    EXPECT_EQ(*parse_endpoint("http://localhost:9000/"), (ApiEndpoint{"localhost", 9000}));
    EXPECT_EQ(*parse_endpoint("[::1]:8081"), (ApiEndpoint{"::1", 8081}));
    EXPECT_EQ(*parse_endpoint("localhost"), (ApiEndpoint{"localhost", 8080}));
    EXPECT_EQ(parse_endpoint("[::1]:8081")->display(), "[::1]:8081");
    EXPECT_FALSE(parse_endpoint("127.0.0.1:").ok());
    EXPECT_FALSE(parse_endpoint("127.0.0.1:70000").ok());
    EXPECT_FALSE(parse_endpoint("::1:80").ok());
    EXPECT_FALSE(parse_endpoint(":80").ok());
}

TEST(CliRequests, SseParserHandlesSplitChunksAndComments) {
    SseParser p;
    EXPECT_TRUE(p.feed(": flywall event stream\n\n").empty());
    EXPECT_TRUE(p.feed("event: block\nda").empty());
    auto evs = p.feed("ta: {\"a\":1}\r\n\r\nevent: flow\ndata: x\ndata: y\n\n: keep-alive\n\n");
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0].event, "block");
    EXPECT_EQ(evs[0].data, "{\"a\":1}");
    EXPECT_EQ(evs[1].event, "flow");
    EXPECT_EQ(evs[1].data, "x\ny");
}

// ---------------------------------------------------------------- whole commands

struct Outcome {
    int code = -1;
    std::string out;
    std::string err;
};

Outcome run_cli(std::vector<std::string> args) {
    args.insert(args.begin(), "flywall");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    CLI::App app{"flywall test"};
    app.require_subcommand(0, 1);
    int exit_code = -1;
    add_client_commands(app, ClientIo{out, err}, exit_code);
    Outcome o;
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
        o.code = exit_code;
    } catch (const CLI::ParseError& e) {
        o.code = exit_code_for(app, e, out, err);
    }
    o.out = out.str();
    o.err = err.str();
    return o;
}

// A canned API: records what it was sent and answers like the daemon would.
class FakeApi : public ::testing::Test {
protected:
    void SetUp() override {
        srv_.Get("/api/stats/ebpf", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"packets":1200,"bytes":12897485,"dropped":3})", "application/json");
        });
        srv_.Get("/api/ebpf/health", [this](const httplib::Request&, httplib::Response& res) {
            res.status = healthy_ ? 200 : 503;
            res.set_content(json{{"healthy", healthy_}, {"problems", healthy_ ? json::array() : json::array({"xdp detached"})}}.dump(),
                            "application/json");
        });
        srv_.Post(R"(/api/ebpf/features/([^/]+)/(enable|disable))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            if (req.matches[1] == "flow_monitoring" && req.matches[2] == "disable" && !req.has_param("force")) {
                res.status = 409;
                res.set_content(R"({"error":"flow_monitoring is needed by inline_ips, qos","field":"force"})",
                                "application/json");
                return;
            }
            res.set_content(json{{"feature", req.matches[1]}, {"enabled", req.matches[2] == "enable"}}.dump(),
                            "application/json");
        });
        auto bulk = [this](const char* verb) {
            return [this, verb](const httplib::Request& req, httplib::Response& res) {
                record(req);
                if (req.get_header_value("Authorization") != "Bearer s3cret") {
                    res.status = 401;
                    res.set_content(R"({"error":"missing or wrong API token","field":null})", "application/json");
                    return;
                }
                std::size_t n = 0;
                auto body = json::parse(req.body, nullptr, false);
                if (body.is_object() && body.contains("entries")) n = body["entries"].size();
                else n = static_cast<std::size_t>(std::count(req.body.begin(), req.body.end(), '\n'));
                res.set_content(json{{"requested", n}, {verb, n}}.dump(), "application/json");
            };
        };
        srv_.Post("/api/ebpf/blocklist/ips", bulk("added"));
        srv_.Delete("/api/ebpf/blocklist/ips", bulk("removed"));
        srv_.Post("/api/ebpf/blocklist/ips/import", bulk("added"));
        srv_.Post("/api/ebpf/blocklist/domains/import", bulk("added"));
        srv_.Get("/api/ebpf/blocklist/ips", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"entries":[{"value":"198.18.5.5","list":"block","direction":"src","hits":7},)"
                            R"({"value":"198.18.1.1","list":"allow","direction":"src","hits":0}]})",
                            "application/json");
        });
        srv_.Get("/api/ebpf/maps", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"maps":[{"name":"fw_block4","type":"hash","entries":2,"memory_bytes":4096}]})",
                            "application/json");
        });
        srv_.Get("/api/ebpf/flows", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.set_content(R"({"flows":[],"total":0})", "application/json");
        });
        srv_.Get("/api/ebpf/events", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
                const std::string msg =
                    ": hello\n\nevent: block\ndata: {\"src\":\"198.18.10.2\",\"ts_ns\":0}\n\n"
                    "event: flow\ndata: {\"type\":\"flow_new\",\"ts_ns\":1}\n\n"
                    "event: flow\ndata: {\"type\":\"flow_end\",\"ts_ns\":2}\n\n";
                sink.write(msg.data(), msg.size());
                sink.done();
                return true;
            });
        });
        port_ = srv_.bind_to_any_port("127.0.0.1");
        ASSERT_GT(port_, 0);
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
        while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        api_ = "127.0.0.1:" + std::to_string(port_);

        dir_ = std::filesystem::temp_directory_path() / ("flywall-cli-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        token_file_ = (dir_ / "token").string();
        std::ofstream(token_file_) << "s3cret\n";
    }
    void TearDown() override {
        srv_.stop();
        if (thread_.joinable()) thread_.join();
        std::filesystem::remove_all(dir_);
    }

    void record(const httplib::Request& req) {
        std::lock_guard lock(mu_);
        last_method_ = req.method;
        last_path_ = req.path;
        last_query_.clear();
        for (const auto& [k, v] : req.params) last_query_ += k + "=" + v + ";";
        last_body_ = req.body;
        last_content_type_ = req.get_header_value("Content-Type");
    }

    std::vector<std::string> common(std::vector<std::string> args) {
        args.push_back("--api");
        args.push_back(api_);
        args.push_back("--token-file");
        args.push_back(token_file_);
        return args;
    }

    httplib::Server srv_;
    std::thread thread_;
    int port_ = 0;
    std::string api_;
    std::filesystem::path dir_;
    std::string token_file_;
    bool healthy_ = true;
    std::mutex mu_;
    std::string last_method_, last_path_, last_query_, last_body_, last_content_type_;
};

TEST_F(FakeApi, StatsPrintsUnitsAndJsonPrintsTheBody) {
    auto o = run_cli(common({"stats"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out, "bytes    12.3 MiB\ndropped  3\npackets  1200\n");
    o = run_cli(common({"stats", "--json"}));
    EXPECT_EQ(o.code, 0);
    EXPECT_EQ(o.out, "{\"packets\":1200,\"bytes\":12897485,\"dropped\":3}\n");
}

TEST_F(FakeApi, BlockAddSendsEntriesWithTheToken) {
    auto o = run_cli(common({"block", "add", "198.18.5.5", "2001:db8::5", "--ttl", "10m", "--dst"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out, "added 2 of 2 requested\n");
    EXPECT_EQ(last_method_, "POST");
    EXPECT_EQ(last_path_, "/api/ebpf/blocklist/ips");
    EXPECT_EQ(json::parse(last_body_)["entries"][1],
              json({{"value", "2001:db8::5"}, {"direction", "dst"}, {"list", "block"}, {"ttl", 600}}));

    o = run_cli(common({"block", "del", "198.18.5.5", "--allow"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(last_method_, "DELETE");
    EXPECT_EQ(json::parse(last_body_)["entries"][0]["list"], "allow");
}

TEST_F(FakeApi, WrongTokenIsAnApiError) {
    std::ofstream(token_file_) << "wrong\n";
    auto o = run_cli(common({"block", "add", "198.18.5.5"}));
    EXPECT_EQ(o.code, 1);
    EXPECT_NE(o.err.find("HTTP 401: missing or wrong API token"), std::string::npos) << o.err;
}

TEST_F(FakeApi, MissingTokenFileStopsAMutationBeforeSending) {
    auto o = run_cli({"block", "add", "198.18.5.5", "--api", api_, "--token-file", (dir_ / "nope").string()});
    EXPECT_EQ(o.code, 1);
    EXPECT_NE(o.err.find("cannot read the API token"), std::string::npos) << o.err;
    EXPECT_TRUE(last_path_.empty());
    // Reading needs no token.
    EXPECT_EQ(run_cli({"maps", "--api", api_, "--token-file", (dir_ / "nope").string()}).code, 0);
}

TEST_F(FakeApi, ListsAndMaps) {
    auto o = run_cli(common({"block", "list"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out,
              "VALUE       LIST   DIRECTION  HITS\n"
              "198.18.5.5  block  src           7\n"
              "198.18.1.1  allow  src           0\n"
              "2 entries\n");
    o = run_cli(common({"block", "list", "--list", "allow"}));
    EXPECT_NE(o.out.find("1 entry"), std::string::npos) << o.out;
    EXPECT_EQ(o.out.find("198.18.5.5"), std::string::npos);
    o = run_cli(common({"maps"}));
    EXPECT_EQ(o.out, "NAME       TYPE  ENTRIES  MEMORY_BYTES\nfw_block4  hash        2       4.0 KiB\n");
}

TEST_F(FakeApi, ImportsSendTheFileAsText) {
    const std::string list = (dir_ / "level1.netset").string();
    std::ofstream(list) << "# firehol\n198.18.0.0/16\n2001:db8:bad::/48\n";
    auto o = run_cli(common({"block", "import", list, "--ttl", "1d", "--both"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(last_path_, "/api/ebpf/blocklist/ips/import");
    EXPECT_EQ(last_query_, "direction=both;list=block;ttl=86400;");
    EXPECT_EQ(last_content_type_, "text/plain");
    EXPECT_EQ(last_body_, "# firehol\n198.18.0.0/16\n2001:db8:bad::/48\n");
    const std::string hosts = (dir_ / "hosts").string();
    std::ofstream(hosts) << "0.0.0.0 ads.example.com\n";
    o = run_cli(common({"domain", "import", hosts}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(last_path_, "/api/ebpf/blocklist/domains/import");
    // A file that does not exist is a usage error.
    EXPECT_EQ(run_cli(common({"block", "import", (dir_ / "missing").string()})).code, 2);
}

TEST_F(FakeApi, FeatureDependencyErrorExitsOneWithTheApiText) {
    auto o = run_cli(common({"features", "disable", "flow_monitoring"}));
    EXPECT_EQ(o.code, 1);
    EXPECT_EQ(o.err, "flywall: API error: HTTP 409: flow_monitoring is needed by inline_ips, qos (field: force)\n");
    o = run_cli(common({"features", "disable", "flow_monitoring", "--force"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(last_query_, "force=true;");
    EXPECT_EQ(o.out, "flow_monitoring disabled\n");
}

TEST_F(FakeApi, StatusFollowsHealth) {
    auto o = run_cli(common({"status"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out, "healthy   yes\nproblems  -\n");
    healthy_ = false;
    o = run_cli(common({"status"}));
    EXPECT_EQ(o.code, 1);
    EXPECT_EQ(o.out, "healthy   no\nproblems  xdp detached\n");
    EXPECT_NE(o.err.find("unhealthy"), std::string::npos);
}

TEST_F(FakeApi, EventsStopAfterCount) {
    auto o = run_cli(common({"events", "--count", "2"}));
    EXPECT_EQ(o.code, 0) << o.err;
    std::istringstream lines(o.out);
    std::string l1, l2, l3;
    std::getline(lines, l1);
    std::getline(lines, l2);
    EXPECT_FALSE(std::getline(lines, l3));
    ASSERT_EQ(l1.size(), 13u + std::string("block src=198.18.10.2").size()) << o.out;
    EXPECT_EQ(l1.substr(13), "block src=198.18.10.2");  // the SSE event name stands in for a missing type
    EXPECT_EQ(l2.substr(13), "flow_new");
    EXPECT_EQ(last_query_, "limit=2;");
    o = run_cli(common({"events", "--json"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out,
              "{\"src\":\"198.18.10.2\",\"ts_ns\":0}\n{\"type\":\"flow_new\",\"ts_ns\":1}\n"
              "{\"type\":\"flow_end\",\"ts_ns\":2}\n");
    // The stream ended before the count was reached.
    o = run_cli(common({"events", "--count", "5"}));
    EXPECT_EQ(o.code, 1);
}

TEST_F(FakeApi, FlowsLimit) {
    auto o = run_cli(common({"flows", "--limit", "20"}));
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(last_query_, "limit=20;");
    EXPECT_NE(o.out.find("0 of 0 flows"), std::string::npos) << o.out;
}

TEST_F(FakeApi, UsageErrorsExitTwo) {
    EXPECT_EQ(run_cli(common({"block", "add", "not-an-address"})).code, 2);
    EXPECT_EQ(run_cli(common({"block", "add", "198.18.5.5", "--ttl", "5w"})).code, 2);
    EXPECT_EQ(run_cli(common({"block", "add"})).code, 2);
    EXPECT_EQ(run_cli(common({"block", "add", "198.18.5.5", "--dst", "--both"})).code, 2);
    EXPECT_EQ(run_cli(common({"block"})).code, 2);
    EXPECT_EQ(run_cli(common({"flows", "--limit", "x"})).code, 2);
    EXPECT_EQ(run_cli({"stats", "--api", "127.0.0.1:notaport"}).code, 2);
    EXPECT_TRUE(last_path_.empty());  // nothing was sent
    auto help = run_cli({"block", "add", "--help"});
    EXPECT_EQ(help.code, 0);
    EXPECT_NE(help.out.find("flywall block add 198.18.5.5 --ttl 10m"), std::string::npos) << help.out;
}

TEST(CliUnreachable, ClosedPortExitsThreeWithAHint) {
    // A port that was free a moment ago: bind, learn it, close.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    const int port = ntohs(sa.sin_port);
    ::close(fd);
    const std::string api = "127.0.0.1:" + std::to_string(port);
    auto o = run_cli({"stats", "--api", api});
    EXPECT_EQ(o.code, 3);
    EXPECT_EQ(o.err, "flywall: cannot reach flywall API at " + api +
                         ": Connection refused \u2014 is `flywall run` running?\n");
    EXPECT_EQ(run_cli({"events", "--api", api}).code, 3);
}

}  // namespace
}  // namespace flywall::cli
