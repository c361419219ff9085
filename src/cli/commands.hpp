// How the `flywall` binary is put together: every src/cli/*.cpp file registers its own
// subcommands with FLYWALL_CLI_COMMANDS, so adding a command never edits main.cpp.
//
//   // src/cli/client_block.cpp
//   namespace flywall::cli {
//   static void register_block(CLI::App& app, Context& ctx) {
//       auto* block = app.add_subcommand("block", "Manage the IP blocklist");
//       block->callback([&ctx] { ctx.exit_code = ...; });
//   }
//   }
//   FLYWALL_CLI_COMMANDS(50, flywall::cli::register_block);
//
// Commands report failure by setting ctx.exit_code (no exceptions leave a callback).
// Order: lower numbers are listed first in --help (daemon commands use 10..19).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace flywall::cli {

struct Context {
    int exit_code = 0;
};

using Registrar = void (*)(CLI::App& app, Context& ctx);

// Adds a registrar (called from a static initialiser; see FLYWALL_CLI_COMMANDS).
bool add_registrar(int order, Registrar fn);
// Calls every registrar in order.
void register_all_commands(CLI::App& app, Context& ctx);

}  // namespace flywall::cli

#define FLYWALL_CLI_CONCAT_INNER(a, b) a##b
#define FLYWALL_CLI_CONCAT(a, b) FLYWALL_CLI_CONCAT_INNER(a, b)
#define FLYWALL_CLI_COMMANDS(order, fn) \
    static const bool FLYWALL_CLI_CONCAT(fw_cli_registered_, __LINE__) = ::flywall::cli::add_registrar(order, fn)
