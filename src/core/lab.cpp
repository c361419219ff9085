#include "core/lab.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

extern char** environ;

namespace flywall {

Result<int> run_command(const std::vector<std::string>& argv, std::string* err_out) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return Error::from_errno(errno, "pipe for " + argv.at(0));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return Error::from_errno(rc, "run " + argv[0]);
    }
    std::string err;
    char buf[512];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return Error::from_errno(errno, "wait for " + argv[0]);
    }
    while (!err.empty() && err.back() == '\n') err.pop_back();
    if (err_out) *err_out = err;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

Status must(const std::vector<std::string>& argv) {
    std::string err;
    FW_TRY_ASSIGN(int rc, run_command(argv, &err));
    if (rc != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        return Error::from_errno(EIO, "lab: `" + cmd + "` failed (exit " + std::to_string(rc) + ")").with_detail(err);
    }
    return {};
}

bool netns_exists(const std::string& name) {
    struct stat st{};
    return stat(("/run/netns/" + name).c_str(), &st) == 0;
}

}  // namespace

Result<Lab> Lab::create(LabSpec spec) {
    if (if_nametoindex(spec.iface.c_str()) != 0)
        return Error::from_errno(EEXIST, "lab: interface " + spec.iface + " already exists (another flywall --lab?)");
    if (netns_exists(spec.netns))
        return Error::from_errno(EEXIST, "lab: network namespace " + spec.netns + " already exists");
    Lab lab(spec);
    FW_TRY(must({"ip", "netns", "add", spec.netns}));
    lab.created_netns_ = true;
    FW_TRY(must({"ip", "link", "add", spec.iface, "type", "veth", "peer", "name", spec.peer}));
    lab.created_link_ = true;
    FW_TRY(must({"ip", "link", "set", spec.peer, "netns", spec.netns}));
    // No DAD delay: the addresses are usable as soon as the daemon starts.
    (void)run_command({"sysctl", "-qw", "net.ipv6.conf." + spec.iface + ".accept_dad=0"});
    (void)run_command({"ip", "netns", "exec", spec.netns, "sysctl", "-qw", "net.ipv6.conf." + spec.peer + ".accept_dad=0"});
    FW_TRY(must({"ip", "addr", "add", spec.addr4, "dev", spec.iface}));
    FW_TRY(must({"ip", "-6", "addr", "add", spec.addr6, "dev", spec.iface, "nodad"}));
    FW_TRY(must({"ip", "link", "set", spec.iface, "up"}));
    FW_TRY(must({"ip", "-n", spec.netns, "addr", "add", spec.peer_addr4, "dev", spec.peer}));
    FW_TRY(must({"ip", "-n", spec.netns, "-6", "addr", "add", spec.peer_addr6, "dev", spec.peer, "nodad"}));
    FW_TRY(must({"ip", "-n", spec.netns, "link", "set", spec.peer, "up"}));
    FW_TRY(must({"ip", "-n", spec.netns, "link", "set", "lo", "up"}));
    spdlog::info("lab: {} ({}, {}) <-> {} in netns {} ({}, {})", spec.iface, spec.addr4, spec.addr6, spec.peer,
                 spec.netns, spec.peer_addr4, spec.peer_addr6);
    return lab;
}

Lab::Lab(Lab&& o) noexcept
    : spec_(std::move(o.spec_)), created_netns_(std::exchange(o.created_netns_, false)),
      created_link_(std::exchange(o.created_link_, false)) {}

Lab::~Lab() { destroy(); }

void Lab::destroy() {
    if (created_link_) {
        // Deleting one end removes both; the peer may already be in the namespace.
        (void)run_command({"ip", "link", "del", spec_.iface});
        created_link_ = false;
    }
    if (created_netns_) {
        (void)run_command({"ip", "netns", "del", spec_.netns});
        created_netns_ = false;
        spdlog::info("lab: removed {} and netns {}", spec_.iface, spec_.netns);
    }
}

}  // namespace flywall
