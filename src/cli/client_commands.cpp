#include "cli/client_commands.hpp"

#include "cli/client_format.hpp"
#include "cli/client_http.hpp"
#include "cli/client_requests.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>

namespace flywall::cli {
namespace {

using nlohmann::json;

struct CommonOptions {
    std::string api = "127.0.0.1:8080";
    std::string token_file = "/etc/flywall/api.token";
    bool json = false;
    double timeout_sec = 10;
};

void add_common_options(CLI::App* cmd, CommonOptions& o) {
    cmd->add_option("--api", o.api, "address of the daemon's API, HOST:PORT or [V6]:PORT")
        ->envname("FLYWALL_API")
        ->capture_default_str();
    cmd->add_option("--token-file", o.token_file, "file holding the API token (needed for changes)")
        ->envname("FLYWALL_TOKEN_FILE")
        ->capture_default_str();
    cmd->add_flag("--json", o.json, "print the API's JSON answer unchanged instead of a table");
    cmd->add_option("--timeout", o.timeout_sec, "seconds to wait for the API's answer")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
}

// Runs one command: sends a request, prints the answer, and returns the exit code.
class Runner {
public:
    Runner(ClientIo io, const CommonOptions& opts) : io_(io), opts_(opts) {}

    // Builds the client; on failure prints why and returns the exit code instead.
    std::optional<int> prepare(bool mutation) {
        auto ep = parse_endpoint(opts_.api);
        if (!ep.ok()) {
            io_.err << "flywall: " << ep.error().context << "\n";
            return kExitUsage;
        }
        std::optional<std::string> token;
        auto tok = read_token_file(opts_.token_file);
        if (tok.ok()) {
            token = *tok;
        } else if (mutation) {
            io_.err << "flywall: cannot read the API token: " << tok.error().message()
                    << " (changes need the token of the running daemon; see --token-file)\n";
            return kExitApiError;
        }
        const auto timeout = std::chrono::milliseconds(static_cast<long long>(opts_.timeout_sec * 1000));
        client_.emplace(std::move(*ep), std::move(token), timeout);
        return std::nullopt;
    }

    int unreachable(const Error& e) {
        io_.err << "flywall: " << e.context;
        if (e.code) io_.err << ": " << e.code.message();
        if (!e.detail.empty()) io_.err << ": " << e.detail;
        io_.err << " \u2014 is `flywall run` running?\n";
        return kExitUnreachable;
    }

    int api_error(const ApiResponse& r) {
        if (opts_.json && !r.body.empty()) print_raw(r.body);
        io_.err << "flywall: API error: " << error_text(r.status, r.body) << "\n";
        return kExitApiError;
    }

    void print_raw(const std::string& body) {
        io_.out << body;
        if (body.empty() || body.back() != '\n') io_.out << '\n';
    }

    // Sends `request` and prints the answer with `render` (or raw with --json).
    int run(const Result<ApiRequest>& request, bool mutation, const std::function<std::string(const json&)>& render) {
        if (!request.ok()) {
            io_.err << "flywall: " << request.error().context << "\n";
            return kExitUsage;
        }
        if (auto rc = prepare(mutation)) return *rc;
        auto res = client_->send(*request);
        if (!res.ok()) return unreachable(res.error());
        if (res->status < 200 || res->status >= 300) return api_error(*res);
        if (opts_.json) {
            print_raw(res->body);
            return kExitOk;
        }
        const json j = json::parse(res->body, nullptr, false);
        if (j.is_discarded()) print_raw(res->body);
        else io_.out << render(j);
        return kExitOk;
    }

    // `flywall status`: like run(), but an unhealthy daemon (healthy=false, any status) exits 1.
    int status() {
        if (auto rc = prepare(false)) return *rc;
        auto res = client_->send(status_request());
        if (!res.ok()) return unreachable(res.error());
        const json j = json::parse(res->body, nullptr, false);
        const bool has_health = j.is_object() && j.contains("healthy") && j.at("healthy").is_boolean();
        if (!has_health && (res->status < 200 || res->status >= 300)) return api_error(*res);
        if (opts_.json) print_raw(res->body);
        else if (j.is_discarded()) print_raw(res->body);
        else io_.out << render_status(j);
        if (has_health && !j.at("healthy").get<bool>()) {
            io_.err << "flywall: the daemon reports itself unhealthy\n";
            return kExitApiError;
        }
        return kExitOk;
    }

    int events(std::optional<std::uint64_t> count, std::optional<double> timeout_sec) {
        if (auto rc = prepare(false)) return *rc;
        std::optional<std::chrono::steady_clock::time_point> deadline;
        if (timeout_sec)
            deadline = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<long long>(*timeout_sec * 1000));
        std::uint64_t seen = 0;
        auto res = client_->stream(
            events_request(count).path,
            [&](const SseEvent& ev) {
                if (ev.data.empty()) return true;
                if (opts_.json) {
                    io_.out << ev.data << '\n';
                } else {
                    const json j = json::parse(ev.data, nullptr, false);
                    json shown = j;
                    if (!j.is_discarded() && j.is_object() && !ev.event.empty() && !j.contains("type"))
                        shown["type"] = ev.event;
                    io_.out << (j.is_discarded() ? ev.data : render_event_line(shown, local_time_of_day())) << '\n';
                }
                io_.out.flush();
                ++seen;
                return !(count && seen >= *count);
            },
            deadline);
        if (!res.ok()) return unreachable(res.error());
        if (res->status < 200 || res->status >= 300) return api_error(*res);
        if (count && seen < *count) {
            if (deadline && std::chrono::steady_clock::now() >= *deadline)
                io_.err << "flywall: " << seen << " of " << *count << " events within " << *timeout_sec << " s\n";
            else
                io_.err << "flywall: the stream ended after " << seen << " of " << *count << " events\n";
            return kExitApiError;
        }
        return kExitOk;
    }

private:
    ClientIo io_;
    const CommonOptions& opts_;
    std::optional<ApiClient> client_;
};

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::from_errno(errno ? errno : ENOENT, "read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct IpCommandOptions {
    std::vector<std::string> entries;
    std::string ttl;
    bool dst = false;
    bool both = false;
    bool allow = false;
    std::string file;
    std::string list_filter;  // "", "allow", "block"
    std::uint64_t limit = 0;  // list paging
    std::string after;
};

Result<IpListArgs> ip_args(const IpCommandOptions& o) {
    IpListArgs a;
    a.entries = o.entries;
    a.allow = o.allow;
    a.direction = o.both ? Direction::Both : o.dst ? Direction::Destination : Direction::Source;
    if (!o.ttl.empty()) {
        FW_TRY_ASSIGN(a.ttl_sec, parse_ttl(o.ttl));
    }
    return a;
}

struct DomainCommandOptions {
    std::vector<std::string> domains;
    std::string ttl;
    std::string action;
    std::string file;
    std::uint64_t limit = 0;  // list paging
    std::string after;
};

Result<DomainListArgs> domain_args(const DomainCommandOptions& o) {
    DomainListArgs a;
    a.domains = o.domains;
    if (!o.ttl.empty()) {
        FW_TRY_ASSIGN(a.ttl_sec, parse_ttl(o.ttl));
    }
    if (!o.action.empty()) a.action = o.action;
    return a;
}

void add_direction_flags(CLI::App* cmd, IpCommandOptions& o) {
    auto* dst = cmd->add_flag("--dst", o.dst, "match the packet's destination address instead of its source");
    auto* both = cmd->add_flag("--both", o.both, "match the source or the destination address");
    dst->excludes(both);
    cmd->add_flag("--allow", o.allow, "the allowlist (never blocked) instead of the blocklist");
}

json filter_list(const json& body, const std::string& list) {
    if (list.empty()) return body;
    json rows = extract_rows(body, {"entries", "ips", "blocklist", "items"});
    json kept = json::array();
    for (const auto& r : rows)
        if (!r.is_object() || !r.contains("list") || r.at("list") == list) kept.push_back(r);
    json out{{"entries", kept}};
    if (body.is_object() && body.contains("next")) out["next"] = body.at("next");  // paging continues
    return out;
}

}  // namespace

void add_client_commands(CLI::App& app, ClientIo io, int& exit_code) {
    int* const rc = &exit_code;
    auto finish = [rc](int code) { *rc = code; };
    auto opts = std::make_shared<CommonOptions>();
    auto runner = [io, opts]() { return Runner(io, *opts); };
    const std::string api_note =
        "\nCommon options: --api HOST:PORT (default 127.0.0.1:8080, env FLYWALL_API), --token-file "
        "(default /etc/flywall/api.token), --json.\nExit status: 0 ok, 1 API error, 2 usage error, 3 daemon "
        "unreachable.\n";

    // status
    auto* status = app.add_subcommand("status", "Is the daemon healthy? (GET /api/ebpf/health)");
    add_common_options(status, *opts);
    status->footer("Example:\n  flywall status --api 127.0.0.1:8080\nExits 1 when the daemon reports itself unhealthy." +
                   api_note);
    status->callback([finish, runner] { finish(runner().status()); });

    // stats
    auto* stats = app.add_subcommand("stats", "Packet, drop, flow and program counters (GET /api/stats/ebpf)");
    add_common_options(stats, *opts);
    stats->footer("Example:\n  flywall stats\n  flywall stats --json | jq .packets" + api_note);
    stats->callback([finish, runner] { finish(runner().run(stats_request(), false, render_stats)); });

    // profile --seconds S
    auto* profile = app.add_subcommand(
        "profile", "Kernel BPF statistics on for S seconds, then off (POST /api/ebpf/profile)");
    add_common_options(profile, *opts);
    auto profile_seconds = std::make_shared<std::int64_t>(0);
    profile->add_option("--seconds", *profile_seconds, "length of the window, 1..300")->required();
    profile->footer(
        "Example:\n  flywall profile --seconds 10 && sleep 10 && flywall stats\nWhile the window lasts every BPF "
        "program on the host pays two clock reads per run; `programs` in `flywall stats` then shows kernel "
        "run_time_ns." +
        api_note);
    profile->callback([finish, runner, profile_seconds] {
        finish(runner().run(profile_request(*profile_seconds), true, render_mutation));
    });

    // features [enable|disable NAME [--force]]
    auto* features = app.add_subcommand("features", "List features, or enable/disable one at run time");
    add_common_options(features, *opts);
    features->require_subcommand(0, 1);
    features->footer(
        "Examples:\n  flywall features\n  flywall features enable qos\n  flywall features disable flow_monitoring "
        "--force   # also disables the features that need it" +
        api_note);
    auto feature_name = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    for (const bool enable : {true, false}) {
        auto* sub = features->add_subcommand(enable ? "enable" : "disable",
                                             enable ? "Enable a feature (its dependencies must be enabled)"
                                                    : "Disable a feature (refused while others need it, unless --force)");
        add_common_options(sub, *opts);
        sub->add_option("NAME", *feature_name, "feature name, e.g. ip_blocklist, flow_monitoring, qos")->required();
        if (!enable) sub->add_flag("--force", *force, "also disable the features that depend on it");
        sub->footer(enable ? "Example:\n  flywall features enable inline_ips" + api_note
                           : "Example:\n  flywall features disable flow_monitoring --force" + api_note);
        sub->callback([finish, runner, feature_name, force, enable] {
            finish(runner().run(feature_toggle_request(*feature_name, enable, *force), true, render_mutation));
        });
    }
    features->callback([finish, runner, features] {
        if (features->get_subcommands().empty()) finish(runner().run(features_request(), false, render_features));
    });

    // maps, hooks
    auto* maps = app.add_subcommand("maps", "BPF maps: type, sizes, entries, memory (GET /api/ebpf/maps)");
    add_common_options(maps, *opts);
    maps->footer("Example:\n  flywall maps" + api_note);
    maps->callback([finish, runner] { finish(runner().run(maps_request(), false, render_maps)); });
    auto* hooks = app.add_subcommand("hooks", "Attached programs: interface, hook, XDP mode obtained (GET /api/ebpf/hooks)");
    add_common_options(hooks, *opts);
    hooks->footer("Example:\n  flywall hooks" + api_note);
    hooks->callback([finish, runner] { finish(runner().run(hooks_request(), false, render_hooks)); });

    // block add|del|list|import
    auto ipo = std::make_shared<IpCommandOptions>();
    auto* block = app.add_subcommand("block", "IP blocklist and allowlist (addresses and CIDRs, IPv4 and IPv6)");
    block->require_subcommand(1);
    block->footer(
        "Examples:\n  flywall block add 198.18.5.5 2001:db8::5 198.18.64.0/18 --ttl 10m\n  flywall block add "
        "198.18.9.9 --dst\n  flywall block add 198.18.1.1 --allow\n  flywall block del 198.18.5.5\n  flywall block "
        "list\n  flywall block import firehol_level1.netset --ttl 1d" +
        api_note);
    auto* badd = block->add_subcommand("add", "Block addresses/CIDRs (or allow them with --allow)");
    auto* bdel = block->add_subcommand("del", "Remove addresses/CIDRs from the blocklist (or the allowlist with --allow)");
    for (auto* sub : {badd, bdel}) {
        add_common_options(sub, *opts);
        sub->add_option("ADDRESS", ipo->entries, "IPv4/IPv6 address or CIDR, e.g. 198.18.5.5, 2001:db8::/48")
            ->required();
        add_direction_flags(sub, *ipo);
    }
    badd->add_option("--ttl", ipo->ttl, "remove the entries after this long: 90 (s), 30s, 15m, 2h, 1d");
    badd->footer("Examples:\n  flywall block add 198.18.5.5 --ttl 10m\n  flywall block add 2001:db8:bad::/48 --both" +
                 api_note);
    bdel->footer("Example:\n  flywall block del 198.18.5.5 2001:db8:bad::/48\nAn entry added with --dst/--both/--allow "
                 "is removed with the same flags." +
                 api_note);
    badd->callback([finish, runner, ipo] {
        auto args = ip_args(*ipo);
        finish(runner().run(args.ok() ? block_add_request(*args) : Result<ApiRequest>(args.error()), true,
                            render_mutation));
    });
    bdel->callback([finish, runner, ipo] {
        auto args = ip_args(*ipo);
        finish(runner().run(args.ok() ? block_del_request(*args) : Result<ApiRequest>(args.error()), true,
                            render_mutation));
    });
    auto* blist = block->add_subcommand("list", "Show blocklist and allowlist entries with hits and time left");
    add_common_options(blist, *opts);
    blist->add_option("--list", ipo->list_filter, "show only one list")->check(CLI::IsMember({"block", "allow"}));
    blist->add_option("--limit", ipo->limit, "entries per page (default 1000, at most 100000)")
        ->check(CLI::Range(1, 100000));
    blist->add_option("--after", ipo->after, "start after this entry: the 'next page' value printed under the previous page");
    blist->footer("Examples:\n  flywall block list\n  flywall block list --list allow\n  flywall block list --limit 50000 "
                  "--after 198.18.3.7,block,src" + api_note);
    blist->callback([finish, runner, ipo] {
        const std::string filter = ipo->list_filter;
        finish(runner().run(block_list_request(ipo->limit, ipo->after), false,
                            [filter](const json& j) { return render_ip_list(filter_list(j, filter)); }));
    });
    auto* bimport = block->add_subcommand("import", "Add every address/CIDR of a file (plain, netset or CIDR lines)");
    add_common_options(bimport, *opts);
    bimport->add_option("FILE", ipo->file, "list file; '#' and ';' start comments")->required()->check(CLI::ExistingFile);
    bimport->add_option("--ttl", ipo->ttl, "remove the entries after this long: 90 (s), 30s, 15m, 2h, 1d");
    add_direction_flags(bimport, *ipo);
    bimport->footer("Example:\n  flywall block import /var/lib/lists/firehol_level1.netset --ttl 1d\nThe whole file is "
                    "applied or, on any bad line, nothing." +
                    api_note);
    bimport->callback([finish, runner, ipo, io] {
        auto args = ip_args(*ipo);
        if (!args.ok()) return finish(runner().run(args.error(), true, render_mutation));
        auto text = read_file(ipo->file);
        if (!text.ok()) {
            io.err << "flywall: " << text.error().message() << "\n";
            return finish(kExitUsage);
        }
        finish(runner().run(block_import_request(std::move(*text), *args), true, render_mutation));
    });

    // domain add|del|list|import
    auto dno = std::make_shared<DomainCommandOptions>();
    auto* domain = app.add_subcommand("domain", "DNS domain blocklist (exact names and *.suffix wildcards)");
    domain->require_subcommand(1);
    domain->footer(
        "Examples:\n  flywall domain add ads.example.com '*.tracker.example' --ttl 1h\n  flywall domain del "
        "ads.example.com\n  flywall domain list\n  flywall domain import /etc/hosts.blocked" +
        api_note);
    auto* dadd = domain->add_subcommand("add", "Block domains");
    auto* ddel = domain->add_subcommand("del", "Unblock domains");
    for (auto* sub : {dadd, ddel}) {
        add_common_options(sub, *opts);
        sub->add_option("DOMAIN", dno->domains, "domain name, or *.example.com for every subdomain")->required();
    }
    dadd->add_option("--ttl", dno->ttl, "remove the entries after this long: 90 (s), 30s, 15m, 2h, 1d");
    dadd->add_option("--action", dno->action, "answer blocked queries with nxdomain, or drop them")
        ->check(CLI::IsMember({"drop", "nxdomain"}));
    dadd->footer("Example:\n  flywall domain add ads.example.com --ttl 1h --action nxdomain" + api_note);
    ddel->footer("Example:\n  flywall domain del ads.example.com" + api_note);
    dadd->callback([finish, runner, dno] {
        auto args = domain_args(*dno);
        finish(runner().run(args.ok() ? domain_add_request(*args) : Result<ApiRequest>(args.error()), true,
                            render_mutation));
    });
    ddel->callback([finish, runner, dno] {
        auto args = domain_args(*dno);
        finish(runner().run(args.ok() ? domain_del_request(*args) : Result<ApiRequest>(args.error()), true,
                            render_mutation));
    });
    auto* dlist = domain->add_subcommand("list", "Show blocked domains");
    add_common_options(dlist, *opts);
    dlist->add_option("--limit", dno->limit, "entries per page (default 1000, at most 100000)")
        ->check(CLI::Range(1, 100000));
    dlist->add_option("--after", dno->after, "start after this name: the 'next page' value printed under the previous page");
    dlist->footer("Examples:\n  flywall domain list\n  flywall domain list --limit 50000 --after ads.example.com" + api_note);
    dlist->callback([finish, runner, dno] {
        finish(runner().run(domain_list_request(dno->limit, dno->after), false, render_domain_list));
    });
    auto* dimport = domain->add_subcommand("import", "Block every domain of a file (one per line, or a hosts file)");
    add_common_options(dimport, *opts);
    dimport->add_option("FILE", dno->file, "domain list or hosts file ('0.0.0.0 ads.example.com')")
        ->required()
        ->check(CLI::ExistingFile);
    dimport->add_option("--ttl", dno->ttl, "remove the entries after this long: 90 (s), 30s, 15m, 2h, 1d");
    dimport->add_option("--action", dno->action, "answer blocked queries with nxdomain, or drop them")
        ->check(CLI::IsMember({"drop", "nxdomain"}));
    dimport->footer("Example:\n  flywall domain import StevenBlack-hosts.txt\nlocalhost-style names of hosts files are "
                    "skipped; the whole file is applied or, on any bad line, nothing." +
                    api_note);
    dimport->callback([finish, runner, dno, io] {
        auto args = domain_args(*dno);
        if (!args.ok()) return finish(runner().run(args.error(), true, render_mutation));
        auto text = read_file(dno->file);
        if (!text.ok()) {
            io.err << "flywall: " << text.error().message() << "\n";
            return finish(kExitUsage);
        }
        finish(runner().run(domain_import_request(std::move(*text), *args), true, render_mutation));
    });

    // flows
    auto limit = std::make_shared<std::uint32_t>(0);
    auto* flows = app.add_subcommand("flows", "Tracked flows with packet and byte counts (GET /api/ebpf/flows)");
    add_common_options(flows, *opts);
    flows->add_option("--limit,-n", *limit, "show at most N flows")->check(CLI::PositiveNumber);
    flows->footer("Example:\n  flywall flows --limit 20" + api_note);
    flows->callback([finish, runner, limit] {
        finish(runner().run(flows_request(*limit ? std::optional<std::uint32_t>(*limit) : std::nullopt), false,
                            render_flows));
    });

    // events
    auto count = std::make_shared<std::uint64_t>(0);
    auto events_timeout = std::make_shared<double>(0);
    auto* events = app.add_subcommand("events", "Follow the daemon's event stream, one line per event");
    add_common_options(events, *opts);
    events->add_option("--count,-c", *count, "stop after N events (exit 1 if the stream ends sooner)")
        ->check(CLI::PositiveNumber);
    events->add_option("--for", *events_timeout, "stop after this many seconds")->check(CLI::PositiveNumber);
    events->footer("Examples:\n  flywall events\n  flywall events --count 10 --json" + api_note);
    events->callback([finish, runner, count, events_timeout] {
        finish(runner().events(*count ? std::optional<std::uint64_t>(*count) : std::nullopt,
                               *events_timeout > 0 ? std::optional<double>(*events_timeout) : std::nullopt));
    });
}

int exit_code_for(const CLI::App& app, const CLI::ParseError& error, std::ostream& out, std::ostream& err) {
    return app.exit(error, out, err) == 0 ? kExitOk : kExitUsage;
}

}  // namespace flywall::cli
