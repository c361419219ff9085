#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"flywall - eBPF firewall datapath"};
    app.require_subcommand(0, 1);
    CLI11_PARSE(app, argc, argv);
    std::cout << app.help();
    return 0;
}
