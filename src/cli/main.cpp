// The flywall binary: subcommands come from the registrars of every src/cli/*.cpp file
// (commands.hpp); main() only parses and returns the exit status a command set.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <utility>
#include <vector>

#include "cli/commands.hpp"

namespace flywall::cli {

namespace {
std::vector<std::pair<int, Registrar>>& registrars() {
    static std::vector<std::pair<int, Registrar>> r;
    return r;
}
}  // namespace

bool add_registrar(int order, Registrar fn) {
    registrars().emplace_back(order, fn);
    return true;
}

void register_all_commands(CLI::App& app, Context& ctx) {
    auto r = registrars();
    std::stable_sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [order, fn] : r) fn(app, ctx);
}

}  // namespace flywall::cli

int main(int argc, char** argv) {
    CLI::App app{"flywall - eBPF firewall datapath"};
    app.require_subcommand(1);
    flywall::cli::Context ctx;
    flywall::cli::register_all_commands(app, ctx);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;  // --help: 0; any usage error: 2 (documented CLI contract)
    }
    return ctx.exit_code;
}
