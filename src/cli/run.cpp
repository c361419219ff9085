// `flywall run [--config FILE] [--lab]`: the daemon. Signals are handled synchronously on the
// main thread (sigtimedwait), which also paces the governor: SIGHUP reloads, SIGTERM/SIGINT
// stop cleanly (exit 0).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <optional>

#include "api/manager_backend.hpp"
#include "api/server.hpp"
#include "api/token.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "core/feature_check.hpp"
#include "core/lab.hpp"
#include "core/manager.hpp"
#include "runtime/privileges.hpp"

namespace flywall::cli {

namespace {

struct RunOptions {
    std::string config_file;
    bool lab = false;
};

spdlog::level::level_enum spd_level(config::LogLevel l) {
    switch (l) {
        case config::LogLevel::Trace: return spdlog::level::trace;
        case config::LogLevel::Debug: return spdlog::level::debug;
        case config::LogLevel::Info: return spdlog::level::info;
        case config::LogLevel::Warn: return spdlog::level::warn;
        case config::LogLevel::Error: return spdlog::level::err;
        case config::LogLevel::Critical: return spdlog::level::critical;
        case config::LogLevel::Off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

Result<std::unique_ptr<api::ApiServer>> start_api(api::Backend& backend, const config::ApiConfig& cfg) {
    FW_TRY_ASSIGN(auto listen, api::parse_listen(cfg.listen));
    auto token = api::load_or_create_token(cfg.token_file);
    if (!token.ok()) return std::move(token).error().wrap("API token");
    if (token->created) spdlog::info("flywall: generated an API token in {} (mode 0600)", cfg.token_file);
    api::ServerOptions o;
    o.listen = listen;
    o.token = token->value;
    if (!cfg.tls_cert.empty()) o.tls = api::TlsFiles{cfg.tls_cert, cfg.tls_key};
    auto server = api::ApiServer::start(backend, o);
    if (!server.ok()) return std::move(server).error();
    spdlog::info("flywall: API listening on {}://{}:{} (token file {}{})", o.tls ? "https" : "http", (*server)->host(),
                 (*server)->port(), cfg.token_file, o.tls ? "; every request needs the token" : "");
    return server;
}

int run_daemon(const RunOptions& opts) {
    config::LoadResult lr = opts.config_file.empty() ? config::load_default() : config::load_file(opts.config_file);
    if (!lr.ok()) {
        std::cerr << lr.error_text() << "\nflywall: not starting: invalid configuration\n";
        return 1;
    }
    if (auto problem = feature_graph_problem(lr)) {
        std::cerr << problem->to_string() << "\nflywall: not starting: invalid configuration\n";
        return 1;
    }
    config::Config cfg = lr.config();
    spdlog::set_level(spd_level(cfg.log_level));

    // Before any thread exists: every thread inherits the mask, so these signals are only
    // ever received here, by sigtimedwait.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::optional<Lab> lab;
    if (opts.lab) {
        auto l = Lab::create();
        if (!l.ok()) {
            std::cerr << "flywall: " << l.error().message() << "\n";
            return 1;
        }
        lab.emplace(std::move(*l));
    }

    // Capabilities are dropped inside start, after load, pin and attach and before the daemon's
    // first thread: capset() acts on the calling thread only, so a thread started earlier would
    // keep everything. Every thread (events, learning, monitors, API and its connections) starts
    // after it with the reduced set.
    std::function<Status()> drop;
    if (cfg.drop_capabilities)
        drop = []() -> Status {
            auto dropped = drop_to_runtime_capabilities();
            if (!dropped.ok())
                return std::move(dropped).error().wrap(
                    "not running with more privilege than needed (drop_capabilities = false allows it)");
            std::string kept;
            for (const auto& k : dropped->kept) kept += (kept.empty() ? "" : ",") + k;
            spdlog::info("flywall: capabilities dropped to {} ({} others given up), no_new_privs set",
                         kept.empty() ? "none" : kept, dropped->dropped.size());
            return {};
        };
    auto manager = Manager::start(cfg, opts.config_file, drop);
    if (!manager.ok()) {
        std::cerr << "flywall: " << manager.error().message() << "\n";
        return 1;
    }
    api::ManagerBackend backend(**manager);
    auto server = start_api(backend, cfg.api);
    if (!server.ok()) {
        std::cerr << "flywall: " << server.error().message() << "\n";
        (*manager)->stop();
        return 1;
    }
    std::unique_ptr<api::ApiServer> api = std::move(*server);
    spdlog::info("flywall: running (pid {}); SIGHUP reloads {}, SIGTERM stops", getpid(),
                 opts.config_file.empty() ? "(built-in config)" : opts.config_file);

    int exit_code = 0;
    while (true) {
        timespec ts{1, 0};
        int sig = sigtimedwait(&sigs, nullptr, &ts);
        if (sig < 0) {
            if (errno == EAGAIN) {
                (void)(*manager)->tick();  // errors are recorded for /api/ebpf/health
                continue;
            }
            if (errno == EINTR) continue;
            spdlog::error("flywall: sigtimedwait: {}", std::strerror(errno));
            exit_code = 1;
            break;
        }
        if (sig == SIGHUP) {
            const config::ApiConfig old_api = (*manager)->config().api;
            auto st = (*manager)->reload();
            if (!st.ok()) {
                spdlog::error("flywall: reload rejected, the running configuration stays: {}", st.error().message());
                continue;
            }
            const config::ApiConfig new_api = (*manager)->config().api;
            if (!(old_api == new_api)) {
                api->stop();
                auto s = start_api(backend, new_api);
                if (!s.ok()) {
                    spdlog::error("flywall: API restart failed, back to {}: {}", old_api.listen, s.error().message());
                    auto back = start_api(backend, old_api);
                    if (!back.ok()) {
                        spdlog::critical("flywall: API cannot be restarted: {}", back.error().message());
                        exit_code = 1;
                        break;
                    }
                    api = std::move(*back);
                } else {
                    api = std::move(*s);
                }
            }
            continue;
        }
        spdlog::info("flywall: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    api->stop();
    (*manager)->stop();
    if (lab) lab->destroy();
    spdlog::info("flywall: stopped");
    return exit_code;
}

void register_run(CLI::App& app, Context& ctx) {
    auto opts = std::make_shared<RunOptions>();
    auto* run = app.add_subcommand("run", "Run the daemon: load, attach, serve the API; SIGHUP reloads");
    run->add_option("--config,-c", opts->config_file, "Configuration file (HCL); omitted = the built-in default");
    run->add_flag("--lab", opts->lab,
                  "First create the lab: veth fw-lab0 (198.18.0.1/24, 2001:db8:f0::1/64) with its peer in netns "
                  "fw-lab; removed on exit");
    run->callback([opts, &ctx] { ctx.exit_code = run_daemon(*opts); });
}

}  // namespace
}  // namespace flywall::cli

FLYWALL_CLI_COMMANDS(10, flywall::cli::register_run);
