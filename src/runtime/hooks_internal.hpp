// Internals shared by the HookManager's files (hooks.cpp, hooks_status.cpp): entering a hook's
// network namespace, and the small libbpf helpers for XDP modes and tc hooks. Not an API.
#pragma once

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "common/result.hpp"
#include "runtime/fd.hpp"
#include "runtime/hooks.hpp"

namespace flywall::hooks_detail {

inline constexpr const char* kThreadNetns = "/proc/thread-self/ns/net";

struct NetnsId {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    bool operator==(const NetnsId&) const = default;
};

inline Result<NetnsId> current_netns_id() {
    struct stat st {};
    if (::stat(kThreadNetns, &st) < 0) return Error::from_errno(errno, "stat current network namespace");
    return NetnsId{st.st_dev, st.st_ino};
}

struct NetnsHandle {
    UniqueFd fd;
    NetnsId id;
};

// Taken before attaching, so a hook can always be detached in the namespace it lives in.
inline Result<NetnsHandle> open_current_netns() {
    UniqueFd fd(::open(kThreadNetns, O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno(errno, "open current network namespace");
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat current network namespace");
    return NetnsHandle{std::move(fd), NetnsId{st.st_dev, st.st_ino}};
}

// Enters a network namespace for the current thread and returns to the original one on
// destruction. A no-op when the thread is already there (the common case).
class ScopedNetns {
public:
    static Result<ScopedNetns> enter(int target_fd, NetnsId target) {
        FW_TRY_ASSIGN(const NetnsId here, current_netns_id());
        ScopedNetns guard;
        if (here == target) return guard;
        guard.original_.reset(::open(kThreadNetns, O_RDONLY | O_CLOEXEC));
        if (!guard.original_) return Error::from_errno(errno, "open current network namespace");
        if (::setns(target_fd, CLONE_NEWNET) < 0)
            return Error::from_errno(errno, "enter the hook's network namespace");
        return guard;
    }
    ScopedNetns(ScopedNetns&&) noexcept = default;
    ScopedNetns& operator=(ScopedNetns&&) = delete;
    ~ScopedNetns() {
        if (original_ && ::setns(original_.get(), CLONE_NEWNET) < 0)
            spdlog::error("hooks: cannot return to the original network namespace: {}",
                          std::strerror(errno));
    }

private:
    ScopedNetns() = default;
    UniqueFd original_;
};

inline __u32 xdp_mode_flag(XdpMode mode) {
    switch (mode) {
        case XdpMode::Native: return XDP_FLAGS_DRV_MODE;
        case XdpMode::Generic: return XDP_FLAGS_SKB_MODE;
        case XdpMode::Offload: return XDP_FLAGS_HW_MODE;
        case XdpMode::Auto: break;
    }
    return 0;
}

inline __u32 xdp_slot_prog_id(const bpf_xdp_query_opts& q, XdpMode mode) {
    switch (mode) {
        case XdpMode::Native: return q.drv_prog_id;
        case XdpMode::Generic: return q.skb_prog_id;
        case XdpMode::Offload: return q.hw_prog_id;
        case XdpMode::Auto: break;
    }
    return 0;
}

inline Result<bpf_xdp_query_opts> xdp_query(int ifindex, const std::string& context) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (const int rc = bpf_xdp_query(ifindex, 0, &q); rc < 0) return Error::from_neg(rc, context);
    return q;
}

inline bpf_tc_hook make_tc_hook(int ifindex, bpf_tc_attach_point point) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
    return hook;
}

inline bpf_tc_attach_point tc_point(AttachPoint p) {
    return p == AttachPoint::TcIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

}  // namespace flywall::hooks_detail
