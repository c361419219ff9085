// HookManager::status(): every hook checked against the kernel, TC and sockets included.
#include <net/if.h>

#include "runtime/hooks.hpp"
#include "runtime/hooks_internal.hpp"

namespace flywall {

using namespace hooks_detail;

std::vector<HookStatus> HookManager::status() const {
    std::vector<HookStatus> out;
    for (const auto& [id, hook] : hooks_) {
        HookStatus s{hook.info, false, 0, {}};
        const HookInfo& i = hook.info;
        const std::string what = std::string(to_string(i.attach_point)) + " hook on " + (i.ifname.empty() ? "all interfaces" : i.ifname);
        if (i.attach_point == AttachPoint::Socket) {
            s.attached = static_cast<bool>(hook.socket);
            if (!s.attached) s.problem = what + ": socket closed";
            out.push_back(std::move(s));
            continue;
        }
        auto ns = ScopedNetns::enter(hook.netns.get(), NetnsId{hook.netns_dev, hook.netns_ino});
        if (!ns) {
            s.problem = what + ": " + ns.error().message();
            out.push_back(std::move(s));
            continue;
        }
        if (static_cast<int>(::if_nametoindex(i.ifname.c_str())) != i.ifindex) {
            s.problem = what + " is gone (the interface was removed or renamed)";
            out.push_back(std::move(s));
            continue;
        }
        if (i.attach_point == AttachPoint::Xdp) {
            LIBBPF_OPTS(bpf_xdp_query_opts, q);
            if (bpf_xdp_query(i.ifindex, 0, &q) == 0)
                s.current_prog_id = i.mode_obtained ? xdp_slot_prog_id(q, *i.mode_obtained) : q.prog_id;
        } else {
            bpf_tc_hook tc = make_tc_hook(i.ifindex, tc_point(i.attach_point));
            LIBBPF_OPTS(bpf_tc_opts, q, .handle = i.tc_handle, .priority = i.tc_priority);
            if (bpf_tc_query(&tc, &q) == 0) s.current_prog_id = q.prog_id;
        }
        s.attached = s.current_prog_id == i.prog_id;
        if (!s.attached)
            s.problem = what + " is gone" +
                        (s.current_prog_id ? " (another program, id " + std::to_string(s.current_prog_id) + ", is attached)" : "");
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace flywall
