// `flywall stop --detach [--config FILE]`: removes the datapath a daemon left running.
// A daemon stopped with SIGTERM and detach_on_exit = false (or killed) leaves its programs
// attached on their pinned maps, so a restart or upgrade has no gap; this command is for the
// operator who wants them gone: the XDP program and tc filters it finds on the configured
// interfaces (only flywall's, only when no process holds them) and every pin under pin_path.
#include <iostream>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "runtime/loader.hpp"
#include "runtime/orphans.hpp"
#include "runtime/tc_classifier.hpp"

namespace flywall::cli {

namespace {

struct StopOptions {
    std::string config_file;
    bool detach = false;
};

int stop_detach(const StopOptions& opts) {
    config::LoadResult lr = opts.config_file.empty() ? config::load_default() : config::load_file(opts.config_file);
    if (!lr.ok()) {
        std::cerr << lr.error_text() << "\nflywall stop: invalid configuration\n";
        return 1;
    }
    const config::Config& cfg = lr.config();
    // The pin directory's lock tells whether a daemon runs on this configuration.
    auto pins = PinDir::acquire(cfg.pin_path);
    if (!pins.ok()) {
        std::cerr << "flywall stop: " << pins.error().message()
                  << "\nflywall stop: stop the running daemon first (SIGTERM; with detach_on_exit = true it detaches "
                     "itself), then run this again\n";
        return 1;
    }
    int rc = 0;
    size_t removed = 0;
    for (const auto& iface : cfg.interfaces) {
        auto r = remove_orphaned_attachments(iface.name, "xdp_blocklist", "tc_classifier",
                                             TcOptions{kTcClassifierPriority, kTcClassifierHandle});
        if (!r.ok()) {
            if (r.error().code == std::errc::no_such_device) {
                std::cout << "interface " << iface.name << " does not exist: nothing attached there\n";
                continue;
            }
            std::cerr << "flywall stop: " << r.error().message() << "\n";
            rc = 1;
            continue;
        }
        for (const auto& line : *r) std::cout << line << "\n";
        removed += r->size();
    }
    if (const size_t n = pins->remove_every_pin().size(); n > 0) {
        std::cout << "unpinned " << n << " program and map pin" << (n == 1 ? "" : "s") << " under " << cfg.pin_path << "\n";
        removed += n;
    }
    if (removed == 0 && rc == 0) std::cout << "nothing to remove: no flywall program attached, no pin under " << cfg.pin_path << "\n";
    return rc;
}

void register_stop(CLI::App& app, Context& ctx) {
    auto opts = std::make_shared<StopOptions>();
    auto* stop = app.add_subcommand(
        "stop", "Remove the datapath a stopped daemon left attached (programs on the configured interfaces, pins)");
    stop->add_option("--config,-c", opts->config_file, "The daemon's configuration file; omitted = the built-in default");
    stop->add_flag("--detach", opts->detach,
                   "Required: detach flywall's XDP program and tc filters from the configured interfaces and remove "
                   "every pin under pin_path (refused while a daemon holds pin_path)")
        ->required();
    stop->footer(
        "A daemon stops with SIGTERM. With detach_on_exit = false (the default for a configuration file) it leaves\n"
        "its programs attached on their last state, so a restart or an upgrade takes them over without a gap;\n"
        "`flywall stop --detach` is how an operator removes them. Exit 0 when everything found was removed.");
    stop->callback([opts, &ctx] { ctx.exit_code = stop_detach(*opts); });
}

}  // namespace
}  // namespace flywall::cli

FLYWALL_CLI_COMMANDS(12, flywall::cli::register_stop);
