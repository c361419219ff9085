// Least privilege for the running daemon. Loading, pinning, mounting bpffs and taking over a
// previous instance's programs need more than running does; once those are done the daemon
// keeps only what its run-time work needs (runtime_capabilities()), sets no_new_privs, and
// drops everything else from its bounding set too, so no child or exec regains it.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace flywall {

struct CapabilityChange {
    std::vector<std::string> kept;     // names, e.g. "cap_bpf"
    std::vector<std::string> dropped;  // names of capabilities the process had and gave up
};

// What the running daemon keeps, and why:
//   cap_bpf, cap_perfmon       map operations on its own fds, program info
//   cap_net_admin              attaching XDP/tc on a reload that adds an interface, detaching
//   cap_net_raw                the socket monitors' AF_PACKET sockets (switched at run time)
//   cap_net_bind_service       an API listen port below 1024 after a reload
//   cap_sys_admin              BPF_ENABLE_STATS for `flywall profile` (the kernel asks for it)
std::vector<int> runtime_capabilities();

// Drops every capability not in runtime_capabilities() from the effective, permitted,
// inheritable, ambient and bounding sets, and sets PR_SET_NO_NEW_PRIVS. Must run while the
// process has one thread (all of these act on the calling thread only); fails with EBUSY
// otherwise. Threads started afterwards inherit the reduced sets.
Result<CapabilityChange> drop_to_runtime_capabilities();

}  // namespace flywall
