#include "api/server.hpp"

#include <httplib.h>

#include <charconv>

#include "api/entries.hpp"
#include "api/http_reply.hpp"
#include "api/learning_routes.hpp"
#include "api/metrics.hpp"
#include "api/tc_entries.hpp"
#include "api/token.hpp"
#include "common/ip_prefix.hpp"
#include "common/text.hpp"

namespace flywall::api {

namespace {

using nlohmann::json;

void send_backend_error(httplib::Response& res, const Error& e, const std::string& field = {}) {
    send_error(res, status_for(e), e.message(), field);
}

void reply(httplib::Response& res, Result<json> r) {
    if (r.ok()) send_json(res, 200, *r);
    else send_backend_error(res, r.error());
}

bool parse_u64(const std::string& s, std::uint64_t& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

bool is_content_type(const httplib::Request& req, std::string_view want) {
    std::string ct = req.get_header_value("Content-Type");
    auto semi = ct.find(';');
    if (semi != std::string::npos) ct.resize(semi);
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    for (auto& c : ct) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ct == want;
}

std::optional<json> parse_body(const httplib::Request& req, httplib::Response& res, std::size_t max_depth) {
    if (req.body.empty()) {
        send_error(res, 400, "request body is empty; expected JSON {\"entries\": [...]}", "entries");
        return std::nullopt;
    }
    auto body = parse_json_bounded(req.body, max_depth);
    if (!body.ok()) {
        send_error(res, 400, "request body: " + body.error().message(), "body");
        return std::nullopt;
    }
    return std::move(*body);
}

// Query options of a plain-text import; false (and a 400 sent) when one is invalid.
bool import_options(const httplib::Request& req, httplib::Response& res, std::optional<std::chrono::seconds> def_ttl,
                    ImportOptions& opts) {
    opts.ttl = def_ttl;
    if (req.has_param("list")) {
        auto l = parse_list_kind(req.get_param_value("list"));
        if (!l.ok()) {
            send_error(res, 400, "list must be \"block\" or \"allow\"", "list");
            return false;
        }
        opts.list = *l;
    }
    if (req.has_param("direction")) {
        auto d = parse_match_dir(req.get_param_value("direction"));
        if (!d.ok()) {
            send_error(res, 400, "direction must be \"src\", \"dst\" or \"both\"", "direction");
            return false;
        }
        opts.dir = *d;
    }
    if (req.has_param("ttl")) {
        std::uint64_t v = 0;
        if (!parse_u64(req.get_param_value("ttl"), v) || v == 0) {
            send_error(res, 400, "ttl must be a positive whole number of seconds", "ttl");
            return false;
        }
        opts.ttl = std::chrono::seconds(v);
    }
    if (req.has_param("action")) {
        auto a = parse_domain_action(req.get_param_value("action"));
        if (!a.ok()) {
            send_error(res, 400, "action must be \"drop\", \"nxdomain\" or \"default\"", "action");
            return false;
        }
        opts.action = *a;
    }
    return true;
}

// ?limit= (1..ListPage::kMaxLimit) and ?after= (a cursor: printable text of at most 300 bytes).
bool list_page(const httplib::Request& req, httplib::Response& res, ListPage& page) {
    if (req.has_param("limit")) {
        std::uint64_t v = 0;
        if (!parse_u64(req.get_param_value("limit"), v) || v == 0 || v > ListPage::kMaxLimit) {
            send_error(res, 400, "limit must be a whole number from 1 to " + std::to_string(ListPage::kMaxLimit), "limit");
            return false;
        }
        page.limit = v;
    }
    if (req.has_param("after")) {
        page.after = req.get_param_value("after");
        if (page.after.empty() || page.after.size() > 300 || !text::is_clean(page.after)) {
            send_error(res, 400, "after must be the \"next\" value of the previous page", "after");
            return false;
        }
    }
    return true;
}

void send_bulk(httplib::Response& res, const Result<BulkResult>& r, const char* verb) {
    if (!r.ok()) {
        send_backend_error(res, r.error(), "entries");
        return;
    }
    send_json(res, 200, json{{"requested", r->requested}, {verb, r->applied}});
}

}  // namespace

Result<ListenAddress> parse_listen(const std::string& text) {
    ListenAddress a;
    std::string port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return Error::invalid("listen address \"" + text + "\": expected [IPv6]:PORT");
        a.host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0) return Error::invalid("listen address \"" + text + "\": expected HOST:PORT");
        a.host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    std::uint64_t p = 0;
    if (!parse_u64(port, p) || p > 65535) return Error::invalid("listen address \"" + text + "\": bad port");
    a.port = static_cast<int>(p);
    return a;
}


ApiServer::ApiServer(Backend& backend, ServerOptions options)
    : backend_(backend), options_(std::move(options)), server_(std::make_unique<HardenedHttpServer>()) {}

ApiServer::~ApiServer() { stop(); }

Result<std::unique_ptr<ApiServer>> ApiServer::start(Backend& backend, ServerOptions options) {
    if (options.token.empty()) return Error::invalid("start API server: no token configured");
    if (!is_loopback_host(options.listen.host)) {
        // Off loopback, the token would cross the network in clear and anyone who can reach
        // the port could read the firewall's state: TLS and a token for every request.
        if (!options.tls)
            return Error::invalid("API listen address " + options.listen.host + " is not on loopback: set api.tls_cert and "
                                  "api.tls_key (the token and all state would otherwise travel in clear)");
        options.reads_need_token = true;
    }
    std::unique_ptr<ApiServer> s(new ApiServer(backend, std::move(options)));
    s->server_->set_payload_max_length(s->options_.max_body_bytes);
    if (s->options_.tls) FW_TRY(s->server_->enable_tls(*s->options_.tls));
    s->routes();
    const auto& l = s->options_.listen;
    FW_TRY(s->server_->start(l.host, l.port, s->options_.limits));
    s->port_ = s->server_->bound_port();
    s->running_ = true;
    return s;
}

void ApiServer::stop() {
    if (server_) server_->stop();
    running_ = false;
}

void ApiServer::routes() {
    auto& srv = *server_;
    Backend& be = backend_;
    const std::size_t max_depth = options_.max_json_depth;

    // Mutations need the bearer token; reads are open on loopback and need it everywhere else.
    srv.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!options_.reads_need_token && req.method != "POST" && req.method != "DELETE" && req.method != "PUT" &&
            req.method != "PATCH")
            return httplib::Server::HandlerResponse::Unhandled;
        const std::string h = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        if (h.size() <= prefix.size() || h.compare(0, prefix.size(), prefix) != 0 ||
            !token_equals(h.substr(prefix.size()), options_.token)) {
            res.set_header("WWW-Authenticate", "Bearer");
            send_error(res, 401, "missing or invalid bearer token", "Authorization");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 404) send_error(res, 404, "no route " + text::safe(req.method) + " " + text::safe(req.path));
        else send_error(res, res.status, "HTTP " + std::to_string(res.status));
    });
    srv.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = "internal error: " + text::safe(e.what());
        } catch (...) {
        }
        send_error(res, 500, what);
    });

    srv.Get("/api/stats/ebpf", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.stats()); });
    srv.Get("/api/ebpf/features", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.features()); });
    srv.Post(R"(/api/ebpf/features/([^/]+)/(enable|disable))", [&be](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        const bool enable = req.matches[2] == "enable";
        bool force = false;
        if (req.has_param("force")) {
            const std::string f = req.get_param_value("force");
            if (f != "true" && f != "false" && f != "1" && f != "0") {
                send_error(res, 400, "force must be true or false", "force");
                return;
            }
            force = f == "true" || f == "1";
        }
        auto r = be.set_feature(name, enable, force);
        if (r.ok()) {
            send_json(res, 200, *r);
            return;
        }
        const Error& e = r.error();
        // A dependency rule (EINVAL from the coordinator) is a conflict with current state.
        int status = e.errnum() == EINVAL ? 409 : status_for(e);
        send_error(res, status, e.message(), e.errnum() == EBUSY ? "force" : "name");
    });
    // Kernel BPF statistics for a bounded window: every BPF program on the host pays two clock
    // reads per run while they are on, so the length is bounded and required.
    srv.Post("/api/ebpf/profile", [&be](const httplib::Request& req, httplib::Response& res) {
        std::uint64_t secs = 0;
        if (!req.has_param("seconds") || !parse_u64(req.get_param_value("seconds"), secs) || secs < 1 ||
            secs > static_cast<std::uint64_t>(kMaxProfileSeconds)) {
            send_error(res, 400, "seconds must be an integer in 1.." + std::to_string(kMaxProfileSeconds), "seconds");
            return;
        }
        reply(res, be.profile(std::chrono::seconds(secs)));
    });
    srv.Get("/api/ebpf/maps", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.maps()); });
    srv.Get("/api/ebpf/hooks", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.hooks()); });

    // ---- IP lists ----
    srv.Get("/api/ebpf/blocklist/ips", [&be](const httplib::Request& req, httplib::Response& res) {
        ListPage page;
        if (!list_page(req, res, page)) return;
        reply(res, be.list_ips(page));
    });
    srv.Post("/api/ebpf/blocklist/ips", [&be, max_depth](const httplib::Request& req, httplib::Response& res) {
        auto body = parse_body(req, res, max_depth);
        if (!body) return;
        auto parsed = parse_ip_entries(*body, be.default_ttl());
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        send_bulk(res, be.add_ips(parsed.entries), "added");
    });
    srv.Delete("/api/ebpf/blocklist/ips", [&be, max_depth](const httplib::Request& req, httplib::Response& res) {
        json body;
        if (req.has_param("value")) {  // single entry by query: ?value=X&list=block
            json e{{"value", req.get_param_value("value")}};
            if (req.has_param("list")) e["list"] = req.get_param_value("list");
            body = json{{"entries", json::array({e})}};
        } else {
            auto b = parse_body(req, res, max_depth);
            if (!b) return;
            body = std::move(*b);
        }
        auto parsed = parse_ip_entries(body, std::nullopt, true);
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        send_bulk(res, be.remove_ips(parsed.entries), "removed");
    });
    srv.Post("/api/ebpf/blocklist/ips/import", [&be](const httplib::Request& req, httplib::Response& res) {
        if (!is_content_type(req, "text/plain"))
            return send_error(res, 415, "import needs Content-Type: text/plain", "Content-Type");
        ImportOptions opts;
        if (!import_options(req, res, be.default_ttl(), opts)) return;
        auto parsed = parse_ip_import(req.body, opts);
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        send_bulk(res, be.add_ips(parsed.entries), "added");
    });

    // ---- domains ----
    srv.Get("/api/ebpf/blocklist/domains",
            [&be](const httplib::Request& req, httplib::Response& res) {
                ListPage page;
                if (!list_page(req, res, page)) return;
                reply(res, be.list_domains(page));
            });
    srv.Post("/api/ebpf/blocklist/domains", [&be, max_depth](const httplib::Request& req, httplib::Response& res) {
        auto body = parse_body(req, res, max_depth);
        if (!body) return;
        auto parsed = parse_domain_entries(*body, be.default_ttl());
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        send_bulk(res, be.add_domains(parsed.entries), "added");
    });
    srv.Delete("/api/ebpf/blocklist/domains", [&be, max_depth](const httplib::Request& req, httplib::Response& res) {
        json body;
        if (req.has_param("value")) {
            body = json{{"entries", json::array({json{{"value", req.get_param_value("value")}}})}};
        } else {
            auto b = parse_body(req, res, max_depth);
            if (!b) return;
            body = std::move(*b);
        }
        auto parsed = parse_domain_entries(body, std::nullopt, true);
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        send_bulk(res, be.remove_domains(parsed.entries), "removed");
    });
    srv.Post("/api/ebpf/blocklist/domains/import", [&be](const httplib::Request& req, httplib::Response& res) {
        if (!is_content_type(req, "text/plain"))
            return send_error(res, 415, "import needs Content-Type: text/plain", "Content-Type");
        ImportOptions opts;
        if (!import_options(req, res, be.default_ttl(), opts)) return;
        auto parsed = parse_domain_import(req.body, opts);
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        send_bulk(res, be.add_domains(parsed.entries), "added");
    });

    // ---- socket monitors: devices, TLS ClientHellos, DNS ----
    srv.Get("/api/ebpf/devices", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.devices()); });
    srv.Get("/api/ebpf/tls", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.tls_hellos()); });
    srv.Get("/api/ebpf/dns", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.dns()); });

    // ---- QoS rules and IPS patterns (one JSON object per POST; DELETE by ?name=) ----
    srv.Get("/api/ebpf/qos/rules", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.qos_rules()); });
    srv.Post("/api/ebpf/qos/rules", [&be, max_depth](const httplib::Request& req, httplib::Response& res) {
        auto body = parse_body(req, res, max_depth);
        if (!body) return;
        auto parsed = parse_qos_rule(*body);
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        auto r = be.add_qos_rule(*parsed.value);
        if (!r.ok()) return send_backend_error(res, r.error(), "name");
        send_json(res, 200, *r);
    });
    srv.Delete("/api/ebpf/qos/rules", [&be](const httplib::Request& req, httplib::Response& res) {
        if (!req.has_param("name")) return send_error(res, 400, "name is required (?name=RULE)", "name");
        const std::string name = req.get_param_value("name");
        auto st = be.remove_qos_rule(name);
        if (!st.ok()) return send_backend_error(res, st.error(), "name");
        send_json(res, 200, json{{"removed", name}});
    });
    srv.Get("/api/ebpf/ips/patterns",
            [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.ips_patterns()); });
    srv.Post("/api/ebpf/ips/patterns", [&be, max_depth](const httplib::Request& req, httplib::Response& res) {
        auto body = parse_body(req, res, max_depth);
        if (!body) return;
        auto parsed = parse_ips_pattern(*body);
        if (!parsed.ok()) return send_error(res, 400, parsed.error->message, parsed.error->field);
        auto r = be.add_ips_pattern(*parsed.value);
        if (!r.ok()) return send_backend_error(res, r.error(), "name");
        send_json(res, 200, *r);
    });
    srv.Delete("/api/ebpf/ips/patterns", [&be](const httplib::Request& req, httplib::Response& res) {
        if (!req.has_param("name")) return send_error(res, 400, "name is required (?name=PATTERN)", "name");
        const std::string name = req.get_param_value("name");
        auto st = be.remove_ips_pattern(name);
        if (!st.ok()) return send_backend_error(res, st.error(), "name");
        send_json(res, 200, json{{"removed", name}});
    });

    register_learning_routes(srv, be);

    // ---- flows, health, metrics ----
    srv.Get("/api/ebpf/flows", [&be](const httplib::Request& req, httplib::Response& res) {
        std::uint64_t limit = 100;
        if (req.has_param("limit")) {
            if (!parse_u64(req.get_param_value("limit"), limit) || limit == 0 || limit > 1000000)
                return send_error(res, 400, "limit must be a whole number from 1 to 1000000", "limit");
        }
        reply(res, be.flows(limit));
    });
    srv.Get("/api/ebpf/health", [&be](const httplib::Request&, httplib::Response& res) {
        json h = be.health();
        bool healthy = h.value("healthy", false);
        send_json(res, healthy ? 200 : 503, h);
    });
    srv.Get("/metrics", [&be](const httplib::Request&, httplib::Response& res) {
        auto st = be.stats();
        auto feats = be.features();
        std::string text = render_metrics(st.ok() ? *st : json(), feats.ok() ? *feats : json(), be.health());
        res.status = 200;
        res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });

    // ---- server-sent events ----
    srv.Get("/api/ebpf/events", [this, &be](const httplib::Request& req, httplib::Response& res) {
        std::uint64_t limit = 0;  // 0 = until the client goes away
        if (req.has_param("limit") && !parse_u64(req.get_param_value("limit"), limit))
            return send_error(res, 400, "limit must be a whole number", "limit");
        if (event_streams_.fetch_add(1) >= options_.max_event_streams) {
            --event_streams_;
            return send_error(res, 503,
                              "too many open event streams (at most " + std::to_string(options_.max_event_streams) + ")");
        }
        auto sub = be.subscribe_events("sse:" + req.remote_addr + ":" + std::to_string(req.remote_port));
        if (!sub) {
            --event_streams_;
            return send_error(res, 503, "the event processor is not running");
        }
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        auto sent = std::make_shared<std::uint64_t>(0);
        auto started = std::make_shared<bool>(false);
        auto idle_ms = std::make_shared<int>(0);
        res.set_chunked_content_provider(
            "text/event-stream",
            [this, sub, limit, sent, started, idle_ms](size_t, httplib::DataSink& sink) {
                if (!*started) {
                    *started = true;
                    static const std::string hello = ": flywall event stream\n\n";
                    return sink.write(hello.data(), hello.size());
                }
                if (server_->stopping() || sub->closed() || !sink.is_writable()) {
                    sink.done();
                    return true;
                }
                auto ev = sub->pop(std::chrono::milliseconds(250));
                if (!ev) {
                    *idle_ms += 250;
                    if (*idle_ms >= 10000) {  // keep-alive comment so proxies and clients see life
                        *idle_ms = 0;
                        static const std::string ka = ": keep-alive\n\n";
                        return sink.write(ka.data(), ka.size());
                    }
                    return true;
                }
                *idle_ms = 0;
                std::string msg = "event: " + ev->type_name + "\ndata: " + text::json_text(to_json(*ev)) + "\n\n";
                if (!sink.write(msg.data(), msg.size())) return false;
                if (limit > 0 && ++*sent >= limit) sink.done();
                return true;
            },
            [this, &be, sub](bool) {
                be.unsubscribe_events(sub);
                --event_streams_;
            });
    });
}

}  // namespace flywall::api
