// xdp_lab: a small driver for integration tests until the daemon covers every knob. Loads the
// XDP fast path, fills blocked domains and rate limits from the command line, attaches it to an
// interface inside a network namespace, then waits: SIGUSR1 writes the statistics (JSON) to
// --stats-file, SIGTERM/SIGINT writes them, detaches and exits.
//
//   xdp_lab --netns NAME --iface IF [--mode generic] [--block-domain D]... [--dns-action nxdomain]
//           [--rl-pps N --rl-burst N] [--rl-udp-pps N --rl-udp-burst N] [--stats-file PATH]
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/domains.hpp"
#include "runtime/hooks.hpp"
#include "runtime/ratelimit.hpp"
#include "runtime/xdp_fastpath.hpp"

using namespace flywall;

namespace {

int fail(const std::string& what) {
    std::fprintf(stderr, "xdp_lab: %s\n", what.c_str());
    return 1;
}

void write_stats(const XdpFastPath& fp, const std::string& path) {
    if (path.empty()) return;
    auto st = fp.stats_total();
    if (!st) {
        std::fprintf(stderr, "xdp_lab: %s\n", st.error().message().c_str());
        return;
    }
    const fw_stats& s = *st;
    std::string tmp = path + ".tmp";
    {
        std::ofstream o(tmp);
        o << "{\"processed\":" << s.processed << ",\"passed\":" << s.passed << ",\"dropped\":" << s.dropped
          << ",\"tx\":" << s.tx << ",\"dns_queries\":" << s.dns_queries
          << ",\"dns_blocked_drop\":" << s.dns_blocked_drop << ",\"dns_blocked_nxdomain\":" << s.dns_blocked_nxdomain
          << ",\"rl_limited\":" << s.rl_limited << ",\"rl_limited_udp\":" << s.rl_limited_udp
          << ",\"rl_sources_new\":" << s.rl_sources_new << "}\n";
    }
    std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Attach the Flywall XDP fast path to an interface for integration tests"};
    std::string netns, iface, mode_text = "generic", dns_action = "nxdomain", stats_file;
    std::vector<std::string> domains;
    RateLimitSettings rl;
    app.add_option("--netns", netns, "network namespace name (/run/netns/NAME); empty = current");
    app.add_option("--iface", iface, "interface to attach to")->required();
    app.add_option("--mode", mode_text, "XDP mode: auto, native, generic");
    app.add_option("--block-domain", domains, "blocked domain (and its subdomains)");
    app.add_option("--dns-action", dns_action, "drop or nxdomain");
    app.add_option("--rl-pps", rl.pps, "packets/s per source");
    app.add_option("--rl-burst", rl.burst_packets, "packet burst per source");
    app.add_option("--rl-udp-pps", rl.udp_pps, "UDP packets/s per source");
    app.add_option("--rl-udp-burst", rl.udp_burst, "UDP packet burst per source");
    app.add_option("--stats-file", stats_file, "where SIGUSR1/SIGTERM write statistics (JSON)");
    CLI11_PARSE(app, argc, argv);

    // Block the signals before anything can start a thread, then wait for them synchronously.
    sigset_t sigs;
    sigemptyset(&sigs);
    for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&sigs, s);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    auto mode = parse_xdp_mode(mode_text);
    if (!mode) return fail(mode.error().message());
    auto action = parse_domain_action(dns_action);
    if (!action || *action == DomainAction::Global) return fail("--dns-action: drop or nxdomain");

    auto fp = XdpFastPath::load();
    if (!fp) return fail(fp.error().message());
    fw_xdp_config& cfg = fp->config();
    cfg.features |= FW_F_STATS | FW_F_EVENTS;
    cfg.dns_action = static_cast<__u32>(*action);
    if (!domains.empty()) {
        auto dl = DomainBlocklist::of(*fp);
        for (const auto& d : domains) {
            auto st = dl.add({d});
            if (!st) return fail(st.error().message());
        }
        cfg.features |= FW_F_DNS_BLOCKLIST;
    }
    if (auto st = apply_rate_limits(cfg, rl); !st) return fail(st.error().message());

    if (!netns.empty()) {
        std::string path = "/run/netns/" + netns;
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail("open " + path + ": " + strerror(errno));
        if (setns(fd, CLONE_NEWNET) != 0) return fail("setns " + path + ": " + strerror(errno));
        close(fd);
    }
    HookManager hooks;
    auto att = hooks.attach_xdp(fp->prog_fd(), iface, *mode);
    if (!att) return fail(att.error().message());
    std::printf("READY iface=%s mode=%s domains=%zu\n", iface.c_str(), std::string(to_string(att->obtained)).c_str(),
                domains.size());
    std::fflush(stdout);

    while (true) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0) continue;
        write_stats(*fp, stats_file);
        if (sig != SIGUSR1) break;
    }
    if (auto st = hooks.detach_all(); !st) return fail(st.error().message());
    return 0;
}
