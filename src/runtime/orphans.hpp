// Attachments a previous daemon instance left behind (SIGKILL, OOM, or SIGTERM with
// detach_on_exit = false): how they are recognised and how `flywall stop --detach` removes them.
// A program is an orphan of ours when it has our program's name and no process holds it open
// (a live instance keeps its programs' fds; attachments and pins hold them without one).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "runtime/fd.hpp"
#include "runtime/hooks.hpp"

namespace flywall {

// The pid of a process other than this one holding program `id` open, or 0 (reads /proc). A
// process whose fds cannot be read counts as holding it (it cannot be ruled out).
pid_t program_holder(std::uint32_t id);

// Program `id`, opened, when it is an orphan named `name`; otherwise EBUSY saying why (another
// tool's program, or a live process holds it). `where` prefixes the error.
Result<UniqueFd> orphan_of(std::uint32_t id, std::string_view name, const std::string& where);

// True when any filter (anyone's) sits on the clsact ingress or egress hook of `ifindex`.
Result<bool> clsact_has_filters(int ifindex);

}  // namespace flywall
