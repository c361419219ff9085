#include "api/learning_routes.hpp"

#include <httplib.h>

#include <charconv>

#include "api/backend.hpp"
#include "api/http_reply.hpp"
#include "api/manager_backend.hpp"

namespace flywall::api {

namespace {

using nlohmann::json;

void reply(httplib::Response& res, const Result<json>& r, const std::string& field = {}) {
    if (r.ok()) send_json(res, 200, *r);
    else send_error(res, status_for(r.error()), r.error().message(), field);
}

}  // namespace

void register_learning_routes(httplib::Server& srv, Backend& be) {
    srv.Get("/api/ebpf/learning", [&be](const httplib::Request&, httplib::Response& res) { reply(res, be.learning()); });
    srv.Post(R"(/api/ebpf/learning/proposals/([^/]+)/(apply|reject))",
             [&be](const httplib::Request& req, httplib::Response& res) {
                 const std::string text = req.matches[1];
                 std::uint64_t id = 0;
                 auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
                 if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
                     send_error(res, 400, "proposal id must be a number, got \"" + text + "\"", "id");
                     return;
                 }
                 reply(res, be.learning_decide(id, req.matches[2] == "apply"), "id");
             });
    srv.Post("/api/ebpf/learning/auto_apply", [&be](const httplib::Request& req, httplib::Response& res) {
        const std::string v = req.get_param_value("enabled");
        if (v != "true" && v != "false") {
            send_error(res, 400, "enabled must be true or false", "enabled");
            return;
        }
        reply(res, be.learning_auto_apply(v == "true"));
    });
}

// ---- ManagerBackend's part ----

Result<json> ManagerBackend::learning() { return m_.learning_view(); }

Result<json> ManagerBackend::learning_decide(std::uint64_t id, bool apply) { return m_.learning_decide(id, apply); }

Result<json> ManagerBackend::learning_auto_apply(bool on) { return m_.learning_set_auto_apply(on); }

}  // namespace flywall::api
