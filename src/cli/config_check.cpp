// `flywall config check --config FILE [--json]`: validate without starting; print the
// effective configuration (defaults filled in) or every located error (exit 1).
#include <iostream>

#include "common/text.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "core/feature_check.hpp"
#include "core/coordinator.hpp"

namespace flywall::cli {

namespace {

struct ConfigCheckOptions {
    std::string file;
    bool json = false;
};

void register_config(CLI::App& app, Context& ctx) {
    auto* config = app.add_subcommand("config", "Configuration tools");
    config->require_subcommand(1);
    auto opts = std::make_shared<ConfigCheckOptions>();
    auto* check = config->add_subcommand("check", "Validate a configuration file and print the effective configuration");
    check->add_option("--config,-c", opts->file, "Configuration file (HCL); omitted = the built-in default");
    check->add_flag("--json", opts->json, "Print the effective configuration as JSON instead of HCL");
    check->callback([opts, &ctx] {
        config::LoadResult lr = opts->file.empty() ? config::load_default() : config::load_file(opts->file);
        if (!lr.ok()) {
            std::cerr << lr.error_text() << "\n";
            std::cerr << "flywall: configuration " << (opts->file.empty() ? "(built-in)" : opts->file) << " is invalid ("
                      << lr.diagnostics().size() << " error" << (lr.diagnostics().size() == 1 ? "" : "s") << ")\n";
            ctx.exit_code = 1;
            return;
        }
        // The feature graph (dependencies, cycles) is the coordinator's: run it dry, with no
        // kernel hooks, so a file that `flywall run` would refuse is refused here too.
        if (auto problem = feature_graph_problem(lr)) {
            std::cerr << problem->to_string() << "\n";
            std::cerr << "flywall: configuration " << (opts->file.empty() ? "(built-in)" : opts->file)
                      << " is invalid (1 error)\n";
            ctx.exit_code = 1;
            return;
        }
        if (opts->json) std::cout << text::json_text(config::to_json(lr.config()), 2) << "\n";
        else std::cout << config::to_hcl(lr.config());
        ctx.exit_code = 0;
    });
}

}  // namespace
}  // namespace flywall::cli

FLYWALL_CLI_COMMANDS(11, flywall::cli::register_config);
