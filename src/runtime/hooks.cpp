#include "runtime/hooks.hpp"
#include "runtime/hooks_internal.hpp"
#include "runtime/orphans.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

namespace flywall {

using namespace hooks_detail;

std::string_view to_string(XdpMode mode) {
    switch (mode) {
        case XdpMode::Auto: return "auto";
        case XdpMode::Native: return "native";
        case XdpMode::Generic: return "generic";
        case XdpMode::Offload: return "offload";
    }
    return "unknown";
}

std::string_view to_string(AttachPoint point) {
    switch (point) {
        case AttachPoint::Xdp: return "xdp";
        case AttachPoint::TcIngress: return "tc-ingress";
        case AttachPoint::TcEgress: return "tc-egress";
        case AttachPoint::Socket: return "socket";
    }
    return "unknown";
}

std::string_view to_string(DetachOutcome outcome) {
    switch (outcome) {
        case DetachOutcome::Detached: return "detached";
        case DetachOutcome::ReplacedByOther: return "replaced-by-other";
        case DetachOutcome::AlreadyGone: return "already-gone";
    }
    return "unknown";
}

Result<XdpMode> parse_xdp_mode(std::string_view text) {
    if (text == "auto") return XdpMode::Auto;
    if (text == "native" || text == "drv" || text == "driver") return XdpMode::Native;
    if (text == "generic" || text == "skb") return XdpMode::Generic;
    if (text == "offload" || text == "hw") return XdpMode::Offload;
    return Error::invalid("unknown XDP mode '" + std::string(text) +
                          "' (expected auto, native, generic or offload)");
}

namespace {

struct Interface {
    int index = 0;
    std::string name;
};

Result<Interface> resolve(const InterfaceRef& ref) {
    if (const auto* name = std::get_if<std::string>(&ref.get())) {
        const unsigned idx = ::if_nametoindex(name->c_str());
        if (idx == 0) return Error::from_errno(errno, "look up interface " + *name);
        return Interface{static_cast<int>(idx), *name};
    }
    const int idx = std::get<int>(ref.get());
    std::array<char, IF_NAMESIZE> buf{};
    if (idx <= 0 || ::if_indextoname(static_cast<unsigned>(idx), buf.data()) == nullptr)
        return Error::from_errno(idx <= 0 ? ENODEV : errno,
                                 "look up interface index " + std::to_string(idx));
    return Interface{idx, buf.data()};
}

struct Program {
    UniqueFd fd;  // our own duplicate
    std::uint32_t id = 0;
    std::string name;
};

std::string prog_type_name(std::uint32_t type) {
    const char* s = libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(type));
    return s ? s : "type " + std::to_string(type);
}

// Duplicates the caller's fd (so the program outlives the caller's handle) and checks its
// type up front: the kernel's own answer for a wrong type is a bare EINVAL.
Result<Program> take_program(int prog_fd, bpf_prog_type expected) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (prog_fd < 0) return Error::from_errno(EBADF, "program fd " + std::to_string(prog_fd));
    if (const int rc = bpf_obj_get_info_by_fd(prog_fd, &info, &len); rc < 0)
        return Error::from_neg(rc, "query program fd " + std::to_string(prog_fd));
    if (info.type != static_cast<__u32>(expected))
        return Error::invalid("program '" + std::string(info.name) + "' is of type " +
                              prog_type_name(info.type) + ", expected " +
                              prog_type_name(expected));
    UniqueFd dup(::fcntl(prog_fd, F_DUPFD_CLOEXEC, 3));
    if (!dup) return Error::from_errno(errno, "duplicate program fd");
    return Program{std::move(dup), info.id, info.name};
}

std::string describe_if(const Interface& i) { return i.name; }

}  // namespace

HookManager::~HookManager() {
    if (auto st = detach_all(); !st.ok())
        spdlog::warn("hooks: cleanup incomplete: {}", st.error().message());
}

HookManager::HookManager(HookManager&& other) noexcept
    : hooks_(std::move(other.hooks_)), next_id_(other.next_id_) {
    other.hooks_.clear();
}

HookManager& HookManager::operator=(HookManager&& other) noexcept {
    if (this != &other) {
        if (auto st = detach_all(); !st.ok())
            spdlog::warn("hooks: cleanup incomplete: {}", st.error().message());
        hooks_ = std::move(other.hooks_);
        other.hooks_.clear();
        next_id_ = other.next_id_;
    }
    return *this;
}

Result<XdpAttachment> HookManager::attach_xdp(int prog_fd, const InterfaceRef& iface,
                                              XdpMode mode, Takeover takeover) {
    FW_TRY_ASSIGN(Interface dev, resolve(iface));
    const std::string where = "attach xdp to " + describe_if(dev);
    auto prog_r = take_program(prog_fd, BPF_PROG_TYPE_XDP);
    if (!prog_r) return std::move(prog_r).error().wrap(where);
    Program prog = std::move(prog_r).value();

    FW_TRY_ASSIGN(NetnsHandle ns, open_current_netns());
    std::vector<XdpMode> tries;
    if (mode == XdpMode::Auto)
        tries = {XdpMode::Native, XdpMode::Generic};
    else
        tries = {mode};

    std::string fallback_reason;
    std::optional<XdpMode> attached;
    std::uint32_t took_over = 0;
    for (const XdpMode m : tries) {
        const std::string ctx = where + " (" + std::string(to_string(m)) + ")";
        int rc = bpf_xdp_attach(dev.index, prog.fd.get(),
                                XDP_FLAGS_UPDATE_IF_NOEXIST | xdp_mode_flag(m), nullptr);
        if (rc == 0) {
            attached = m;
            break;
        }
        if ((rc == -EBUSY || rc == -EEXIST) && takeover == Takeover::Orphaned) {
            // Replace what a previous instance left, in the mode it runs in: one
            // XDP_FLAGS_REPLACE, so the device is never without a program.
            FW_TRY_ASSIGN(const bpf_xdp_query_opts q, xdp_query(dev.index, where + ": query the attached program"));
            std::optional<XdpMode> old_mode;
            for (const XdpMode om : {XdpMode::Native, XdpMode::Generic, XdpMode::Offload})
                if (xdp_slot_prog_id(q, om) != 0) old_mode = om;
            if (!old_mode) {  // detached meanwhile: the next try attaches normally
                if (m == tries.back())
                    return Error::from_errno(EAGAIN, where + ": the attached program went away during the takeover");
                continue;
            }
            const __u32 old_id = xdp_slot_prog_id(q, *old_mode);
            if (mode != XdpMode::Auto && mode != *old_mode)
                return Error::from_errno(EBUSY, where + ": the previous instance's program id " +
                                                    std::to_string(old_id) + " runs in " +
                                                    std::string(to_string(*old_mode)) + " mode, not " +
                                                    std::string(to_string(mode)) +
                                                    "; `flywall stop --detach` removes it");
            FW_TRY_ASSIGN(UniqueFd old, orphan_of(old_id, prog.name, where));
            LIBBPF_OPTS(bpf_xdp_attach_opts, ro, .old_prog_fd = old.get());
            rc = bpf_xdp_attach(dev.index, prog.fd.get(), XDP_FLAGS_REPLACE | xdp_mode_flag(*old_mode), &ro);
            if (rc == 0) {
                attached = *old_mode;
                took_over = old_id;
                spdlog::info("hooks: {}: replaced program id {} left by a previous instance ({} mode)", dev.name,
                             old_id, to_string(*old_mode));
                break;
            }
            return Error::from_neg(rc, where + ": replace the previous instance's program id " + std::to_string(old_id));
        }
        Error err = Error::from_neg(rc, ctx);
        const bool last = m == tries.back();
        // EBUSY/EEXIST: a foreign program holds the device; EPERM: privilege. Generic mode
        // would fail the same way, and falling back must not hide those.
        if (last || rc == -EBUSY || rc == -EEXIST || rc == -EPERM) {
            if (rc == -EBUSY || rc == -EEXIST)
                err.detail = "another XDP program is attached to " + dev.name +
                             "; not replacing it";
            else if (m == XdpMode::Offload)
                err.detail =
                    "offload needs a NIC whose driver offloads XDP and a program loaded for "
                    "that device";
            if (!fallback_reason.empty())
                err.detail += (err.detail.empty() ? "" : "; ") +
                              std::string("native failed first: ") + fallback_reason;
            return err;
        }
        fallback_reason = err.message();
    }

    // Report what the kernel says, not what we asked for.
    auto q = xdp_query(dev.index, where + ": query obtained mode");
    XdpMode obtained = *attached;
    if (q) {
        if (q->drv_prog_id == prog.id)
            obtained = XdpMode::Native;
        else if (q->skb_prog_id == prog.id)
            obtained = XdpMode::Generic;
        else if (q->hw_prog_id == prog.id)
            obtained = XdpMode::Offload;
        else
            return Error::from_errno(ESTALE, where + ": program vanished right after attach");
    } else {
        LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog.fd.get());
        bpf_xdp_detach(dev.index, xdp_mode_flag(*attached), &opts);
        return std::move(q).error();
    }

    Hook hook;
    hook.netns = std::move(ns.fd);
    hook.netns_dev = ns.id.dev;
    hook.netns_ino = ns.id.ino;
    hook.info.id = next_id_++;
    hook.info.program_name = prog.name;
    hook.info.prog_id = prog.id;
    hook.info.ifname = dev.name;
    hook.info.ifindex = dev.index;
    hook.info.attach_point = AttachPoint::Xdp;
    hook.info.mode_requested = mode;
    hook.info.mode_obtained = obtained;
    hook.info.fallback_reason = fallback_reason;
    hook.info.took_over_prog_id = took_over;
    hook.prog = std::move(prog.fd);
    const HookId id = hook.info.id;
    hooks_.emplace(id, std::move(hook));
    return XdpAttachment{id, obtained, fallback_reason, took_over};
}

Result<TcAttachment> HookManager::attach_tc(int prog_fd, const InterfaceRef& iface,
                                            TcDirection dir, TcOptions tc_opts) {
    FW_TRY_ASSIGN(Interface dev, resolve(iface));
    const AttachPoint point = dir == TcDirection::Ingress ? AttachPoint::TcIngress
                                                          : AttachPoint::TcEgress;
    const std::string where = "attach " + std::string(to_string(point)) + " to " + dev.name;
    auto prog_r = take_program(prog_fd, BPF_PROG_TYPE_SCHED_CLS);
    if (!prog_r) return std::move(prog_r).error().wrap(where);
    Program prog = std::move(prog_r).value();
    if (tc_opts.priority > 0xFFFF) return Error::invalid(where + ": priority above 65535");

    FW_TRY_ASSIGN(NetnsHandle ns, open_current_netns());
    bpf_tc_hook hook = make_tc_hook(dev.index, tc_point(point));
    bool created = false;
    if (const int rc = bpf_tc_hook_create(&hook); rc == 0)
        created = true;
    else if (rc != -EEXIST)
        return Error::from_neg(rc, where + ": create clsact qdisc");

    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog.fd.get(), .handle = tc_opts.handle,
                .priority = tc_opts.priority);
    std::uint32_t took_over = 0;
    int rc = bpf_tc_attach(&hook, &opts);
    if (rc == -EEXIST && tc_opts.takeover == Takeover::Orphaned && tc_opts.handle && tc_opts.priority) {
        // A filter of a previous instance at our slot: replace it in place (one netlink
        // change, atomic for packets).
        LIBBPF_OPTS(bpf_tc_opts, q, .handle = tc_opts.handle, .priority = tc_opts.priority);
        if (const int qrc = bpf_tc_query(&hook, &q); qrc < 0)
            return Error::from_neg(qrc, where + ": query the filter at our handle/priority");
        FW_TRY_ASSIGN(UniqueFd old, orphan_of(q.prog_id, prog.name, where));
        LIBBPF_OPTS(bpf_tc_opts, ro, .prog_fd = prog.fd.get(), .flags = BPF_TC_F_REPLACE,
                    .handle = tc_opts.handle, .priority = tc_opts.priority);
        rc = bpf_tc_attach(&hook, &ro);
        if (rc == 0) {
            took_over = q.prog_id;
            opts.handle = ro.handle;
            opts.priority = ro.priority;
            // The previous instance created the qdisc; it goes when the last filter does.
            created = true;
            spdlog::info("hooks: {}: replaced program id {} left by a previous instance", where, took_over);
        }
    }
    if (rc < 0) {
        Error err = Error::from_neg(rc, where);
        if (rc == -EEXIST)
            err.detail = "a filter already exists at handle " + std::to_string(tc_opts.handle) +
                         " priority " + std::to_string(tc_opts.priority);
        if (created) {
            bpf_tc_hook all = make_tc_hook(dev.index,
                                           static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS |
                                                                            BPF_TC_EGRESS));
            bpf_tc_hook_destroy(&all);
        }
        return err;
    }

    Hook h;
    h.netns = std::move(ns.fd);
    h.netns_dev = ns.id.dev;
    h.netns_ino = ns.id.ino;
    h.info.id = next_id_++;
    h.info.program_name = prog.name;
    h.info.prog_id = prog.id;
    h.info.ifname = dev.name;
    h.info.ifindex = dev.index;
    h.info.attach_point = point;
    h.info.tc_handle = opts.handle;
    h.info.tc_priority = opts.priority;
    h.info.created_clsact = created;
    h.info.took_over_prog_id = took_over;
    h.prog = std::move(prog.fd);
    const HookId id = h.info.id;
    hooks_.emplace(id, std::move(h));
    return TcAttachment{id, opts.handle, opts.priority, created, took_over};
}

Result<SocketAttachment> HookManager::attach_socket_filter(
    int prog_fd, const std::optional<InterfaceRef>& iface) {
    Interface dev;
    if (iface) {
        FW_TRY_ASSIGN(dev, resolve(*iface));
    }
    const std::string where =
        "attach socket filter" + (iface ? " to " + dev.name : std::string(" (all interfaces)"));
    auto prog_r = take_program(prog_fd, BPF_PROG_TYPE_SOCKET_FILTER);
    if (!prog_r) return std::move(prog_r).error().wrap(where);
    Program prog = std::move(prog_r).value();

    // Protocol 0 receives nothing until bind(), so the filter is in place before any frame.
    UniqueFd sock(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!sock) return Error::from_errno(errno, where + ": create AF_PACKET socket");
    const int pfd = prog.fd.get();
    if (::setsockopt(sock.get(), SOL_SOCKET, SO_ATTACH_BPF, &pfd, sizeof(pfd)) < 0)
        return Error::from_errno(errno, where + ": SO_ATTACH_BPF");
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = dev.index;
    if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&sll), sizeof(sll)) < 0)
        return Error::from_errno(errno, where + ": bind");

    Hook h;
    h.info.id = next_id_++;
    h.info.program_name = prog.name;
    h.info.prog_id = prog.id;
    h.info.ifname = dev.name;
    h.info.ifindex = dev.index;
    h.info.attach_point = AttachPoint::Socket;
    h.info.socket_fd = sock.get();
    h.prog = std::move(prog.fd);
    h.socket = std::move(sock);
    const HookId id = h.info.id;
    const int fd = h.socket.get();
    hooks_.emplace(id, std::move(h));
    return SocketAttachment{id, fd};
}

Result<DetachOutcome> HookManager::detach_xdp(Hook& hook) {
    const HookInfo& i = hook.info;
    const std::string where = "detach xdp from " + i.ifname;
    const XdpMode mode = *i.mode_obtained;
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (const int rc = bpf_xdp_query(i.ifindex, 0, &q); rc < 0) {
        if (rc == -ENODEV) return DetachOutcome::AlreadyGone;
        return Error::from_neg(rc, where + ": query");
    }
    const __u32 current = xdp_slot_prog_id(q, mode);
    if (current == 0) return DetachOutcome::AlreadyGone;
    if (current != i.prog_id) return DetachOutcome::ReplacedByOther;
    // REPLACE against our fd closes the race between the query above and the detach.
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = hook.prog.get());
    const int rc = bpf_xdp_detach(i.ifindex, xdp_mode_flag(mode), &opts);
    if (rc == 0) return DetachOutcome::Detached;
    if (rc == -EEXIST || rc == -EBUSY) return DetachOutcome::ReplacedByOther;
    if (rc == -ENODEV) return DetachOutcome::AlreadyGone;
    return Error::from_neg(rc, where + " (" + std::string(to_string(mode)) + ")");
}

Result<DetachOutcome> HookManager::detach_tc(Hook& hook) {
    const HookInfo& i = hook.info;
    const std::string where = "detach " + std::string(to_string(i.attach_point)) + " from " + i.ifname;
    bpf_tc_hook tc = make_tc_hook(i.ifindex, tc_point(i.attach_point));
    LIBBPF_OPTS(bpf_tc_opts, q, .handle = i.tc_handle, .priority = i.tc_priority);
    DetachOutcome outcome = DetachOutcome::Detached;
    if (const int rc = bpf_tc_query(&tc, &q); rc < 0) {
        // ENOENT: filter gone; EINVAL: the clsact qdisc itself is gone; ENODEV: interface gone.
        if (rc != -ENOENT && rc != -EINVAL && rc != -ENODEV)
            return Error::from_neg(rc, where + ": query filter");
        outcome = DetachOutcome::AlreadyGone;
    } else if (q.prog_id != i.prog_id) {
        outcome = DetachOutcome::ReplacedByOther;
    } else {
        LIBBPF_OPTS(bpf_tc_opts, d, .handle = i.tc_handle, .priority = i.tc_priority);
        if (const int rc = bpf_tc_detach(&tc, &d); rc < 0 && rc != -ENOENT)
            return Error::from_neg(rc, where);
    }
    if (hook.info.created_clsact) FW_TRY(release_clsact(hook));
    return outcome;
}

Status HookManager::release_clsact(Hook& hook) {
    // Another of our TC hooks on the same interface inherits the ownership.
    for (auto& [id, other] : hooks_) {
        if (id == hook.info.id || other.socket || other.info.ifindex != hook.info.ifindex)
            continue;
        if ((other.info.attach_point == AttachPoint::TcIngress ||
             other.info.attach_point == AttachPoint::TcEgress) &&
            other.netns_dev == hook.netns_dev && other.netns_ino == hook.netns_ino) {
            other.info.created_clsact = true;
            hook.info.created_clsact = false;
            return {};
        }
    }
    const std::string where = "remove clsact qdisc from " + hook.info.ifname;
    FW_TRY_ASSIGN(const bool busy, clsact_has_filters(hook.info.ifindex));
    if (busy) {
        spdlog::info("hooks: keeping clsact on {}: other filters are attached", hook.info.ifname);
        return {};
    }
    bpf_tc_hook all = make_tc_hook(
        hook.info.ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    if (const int rc = bpf_tc_hook_destroy(&all);
        rc < 0 && rc != -ENOENT && rc != -EINVAL && rc != -ENODEV)
        return Error::from_neg(rc, where);
    return {};
}

Result<DetachOutcome> HookManager::detach(HookId id) {
    auto it = hooks_.find(id);
    if (it == hooks_.end())
        return Error::from_errno(ENOENT, "detach hook " + std::to_string(id) + ": no such hook");
    Hook& hook = it->second;
    if (hook.info.attach_point == AttachPoint::Socket) {
        hooks_.erase(it);  // closing the socket is the detach
        return DetachOutcome::Detached;
    }
    auto guard = ScopedNetns::enter(hook.netns.get(), NetnsId{hook.netns_dev, hook.netns_ino});
    if (!guard) return std::move(guard).error().wrap("detach hook " + std::to_string(id));
    auto outcome = hook.info.attach_point == AttachPoint::Xdp ? detach_xdp(hook) : detach_tc(hook);
    if (outcome.ok()) hooks_.erase(it);
    return outcome;
}

Status HookManager::detach_all() {
    std::optional<Error> first;
    std::vector<HookId> ids;
    ids.reserve(hooks_.size());
    for (const auto& [id, hook] : hooks_) ids.push_back(id);
    for (const HookId id : ids) {
        auto r = detach(id);
        // A failed hook stays listed so the caller can see it and retry.
        if (!r.ok() && !first) first = r.error();
    }
    if (first) return std::move(*first);
    return {};
}

void HookManager::leave_attached() {
    for (auto& [id, hook] : hooks_) {
        if (hook.info.attach_point == AttachPoint::Socket) continue;
        spdlog::info("hooks: leaving {} attached to {} (program id {}) for the next instance",
                     hook.info.program_name, hook.info.ifname, hook.info.prog_id);
    }
    hooks_.clear();  // program fds and sockets close; attachments keep the programs alive
}

std::vector<HookInfo> HookManager::list() const {
    std::vector<HookInfo> out;
    out.reserve(hooks_.size());
    for (const auto& [id, hook] : hooks_) out.push_back(hook.info);
    return out;
}

}  // namespace flywall
