// The `flywall` client commands (status, stats, features, maps, hooks, block, domain, flows,
// events): CLI11 subcommands that talk to a running daemon's HTTP API.
//
// Exit codes: 0 ok; 1 the API answered with an error (its JSON error text is printed) or the
// daemon reports itself unhealthy (status); 2 usage error; 3 the daemon is unreachable.
// A command stores its code in the `exit_code` it was given (the binary passes
// Context::exit_code of commands.hpp; see client_register.cpp).
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>

namespace flywall::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitApiError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Where the commands write: std::cout / std::cerr in the binary, string streams in tests.
struct ClientIo {
    std::ostream& out;
    std::ostream& err;
};

// Adds the client subcommands to `app`; the one that runs sets `exit_code`. `io` and
// `exit_code` must outlive the parse.
void add_client_commands(CLI::App& app, ClientIo io, int& exit_code);

// The process exit code for a CLI11 exception from app.parse(): 0 for --help, 2 (CLI11's
// message printed to `err`) for any usage error.
[[nodiscard]] int exit_code_for(const CLI::App& app, const CLI::ParseError& error, std::ostream& out,
                                std::ostream& err);

}  // namespace flywall::cli
