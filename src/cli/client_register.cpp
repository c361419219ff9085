// Registers the client commands (client_commands.hpp) with the `flywall` binary. Kept apart
// from client_commands.cpp so the unit tests can link the commands without main.cpp.
#include "cli/client_commands.hpp"
#include "cli/commands.hpp"

#include <iostream>

namespace flywall::cli {
namespace {

void register_client_commands(CLI::App& app, Context& ctx) { add_client_commands(app, ClientIo{std::cout, std::cerr}, ctx.exit_code); }

}  // namespace
}  // namespace flywall::cli

FLYWALL_CLI_COMMANDS(30, flywall::cli::register_client_commands);
