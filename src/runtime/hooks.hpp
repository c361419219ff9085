// HookManager: attaches BPF programs to XDP, TC (clsact) and AF_PACKET sockets, and removes
// exactly what it attached. One instance per daemon instance.
//
// Ownership rules (why this class exists rather than bare libbpf calls):
//  * XDP is attached with XDP_FLAGS_UPDATE_IF_NOEXIST, so a program someone else attached is
//    never silently replaced, and detached with XDP_FLAGS_REPLACE against our own program fd,
//    so a program someone else attached after us is never removed.
//  * The one exception is Takeover::Orphaned: a program of the same name as ours that no process
//    holds open is what a previous instance of the daemon left attached (SIGKILL, OOM, or SIGTERM
//    with detach_on_exit = false). It is replaced atomically (XDP_FLAGS_REPLACE against its fd,
//    tc filter replace at the same handle/priority), so there is no moment without a program.
//  * TC filters are removed by their remembered handle/priority only while that slot still
//    holds our program; the clsact qdisc is destroyed only if this manager created it and no
//    filter (ours or foreign) remains in either direction.
//  * Each hook keeps a duplicate of the program fd, so the program (and its id) stays alive
//    and unambiguous for as long as the hook exists.
//  * Hooks remember the network namespace they were attached in; detaching from another
//    namespace briefly enters the original one, so an ifindex is never resolved in the
//    wrong namespace.
//
// Not thread-safe: the owning Manager serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "runtime/fd.hpp"

namespace flywall {

enum class XdpMode { Auto, Native, Generic, Offload };
enum class AttachPoint { Xdp, TcIngress, TcEgress, Socket };
enum class TcDirection { Ingress, Egress };

// What an attach does when the slot already holds a program.
enum class Takeover {
    Never,     // fail (EBUSY/EEXIST): a program already there is never replaced
    Orphaned,  // replace, atomically, a program of the same name that no process holds open
};

// "auto", "native", "generic", "offload" (the names used in config and the API).
[[nodiscard]] std::string_view to_string(XdpMode mode);
// "xdp", "tc-ingress", "tc-egress", "socket".
[[nodiscard]] std::string_view to_string(AttachPoint point);
// Accepts the names above plus the iproute2/libxdp aliases "drv"/"driver", "skb", "hw".
[[nodiscard]] Result<XdpMode> parse_xdp_mode(std::string_view text);

// An interface given by name or by index; resolved in the caller's network namespace.
class InterfaceRef {
public:
    InterfaceRef(std::string name) : ref_(std::move(name)) {}  // NOLINT(implicit)
    InterfaceRef(const char* name) : ref_(std::string(name ? name : "")) {}  // NOLINT(implicit)
    InterfaceRef(int ifindex) : ref_(ifindex) {}                 // NOLINT(implicit)
    const std::variant<std::string, int>& get() const { return ref_; }

private:
    std::variant<std::string, int> ref_;
};

using HookId = std::uint64_t;

struct HookInfo {
    HookId id = 0;
    std::string program_name;
    std::uint32_t prog_id = 0;
    std::string ifname;  // empty for a socket filter not bound to an interface
    int ifindex = 0;     // 0 for a socket filter not bound to an interface
    AttachPoint attach_point = AttachPoint::Xdp;
    std::optional<XdpMode> mode_requested;  // XDP only
    std::optional<XdpMode> mode_obtained;   // XDP only: what bpf_xdp_query reported
    std::string fallback_reason;            // XDP Auto: why native was not used
    std::uint32_t tc_handle = 0;            // TC only
    std::uint32_t tc_priority = 0;          // TC only
    bool created_clsact = false;            // TC only: this manager owns the clsact qdisc
    int socket_fd = -1;                     // socket only (owned by the manager)
    std::uint32_t took_over_prog_id = 0;    // XDP/TC: the orphaned program this hook replaced
};

struct XdpAttachment {
    HookId id = 0;
    XdpMode obtained = XdpMode::Native;
    std::string fallback_reason;  // non-empty when Auto had to fall back to generic
    std::uint32_t took_over_prog_id = 0;  // Takeover::Orphaned: the program replaced, or 0
};

struct TcOptions {
    std::uint32_t priority = 0;  // 0: the kernel picks one
    std::uint32_t handle = 0;    // 0: the kernel picks one
    // Orphaned needs a fixed handle and priority: the slot a previous instance used.
    Takeover takeover = Takeover::Never;
};

struct TcAttachment {
    HookId id = 0;
    std::uint32_t handle = 0;
    std::uint32_t priority = 0;
    bool created_clsact = false;
    std::uint32_t took_over_prog_id = 0;
};

struct SocketAttachment {
    HookId id = 0;
    int fd = -1;  // borrowed: the manager owns the socket; valid until the hook is detached
};

// Removes what a previous instance left on `iface` when no process holds it any more: an XDP
// program named `xdp_name`, tc filters at `tc_slot` (ingress and egress) running `tc_name`, and
// the clsact qdisc once no filter is left. Returns one line per thing removed; a program some
// process still holds is left alone and reported as an error.
Result<std::vector<std::string>> remove_orphaned_attachments(const InterfaceRef& iface,
                                                             std::string_view xdp_name,
                                                             std::string_view tc_name,
                                                             TcOptions tc_slot);

// What the kernel says of one hook now (HookManager::status()).
struct HookStatus {
    HookInfo info;
    bool attached = false;             // our program is in its slot
    std::uint32_t current_prog_id = 0;  // what is in the slot (0: nothing)
    std::string problem;               // why not attached, for health
};

enum class DetachOutcome {
    Detached,         // our program was removed
    ReplacedByOther,  // the slot now holds someone else's program; left untouched
    AlreadyGone,      // nothing of ours left (interface, qdisc or filter vanished)
};
[[nodiscard]] std::string_view to_string(DetachOutcome outcome);

class HookManager {
public:
    HookManager() = default;
    ~HookManager();
    HookManager(HookManager&& other) noexcept;
    HookManager& operator=(HookManager&& other) noexcept;
    HookManager(const HookManager&) = delete;
    HookManager& operator=(const HookManager&) = delete;

    // Auto tries native then generic (not after EBUSY/EEXIST/EPERM: those mean a foreign
    // program or missing privilege, which generic mode would not fix).
    // Takeover::Orphaned replaces an orphan in the mode it runs in (Auto) or fails when that
    // is not the requested mode.
    Result<XdpAttachment> attach_xdp(int prog_fd, const InterfaceRef& iface, XdpMode mode,
                                     Takeover takeover = Takeover::Never);

    // Creates the clsact qdisc only when absent. A filter already at `opts` handle/priority
    // is never replaced.
    Result<TcAttachment> attach_tc(int prog_fd, const InterfaceRef& iface, TcDirection dir,
                                   TcOptions opts = {});

    // AF_PACKET/SOCK_RAW socket receiving ETH_P_ALL, optionally bound to one interface. The
    // filter is attached before the socket is bound, so no unfiltered frame is ever queued.
    Result<SocketAttachment> attach_socket_filter(int prog_fd,
                                                  const std::optional<InterfaceRef>& iface = {});

    // ENOENT if `id` is not a hook of this manager. On success the hook is forgotten.
    Result<DetachOutcome> detach(HookId id);
    // Detaches everything; continues past failures and returns the first one.
    Status detach_all();
    // Forgets every hook without detaching: XDP and TC programs stay attached (running on their
    // maps) for the next instance to take over; socket filters close with their sockets.
    void leave_attached();

    [[nodiscard]] std::vector<HookInfo> list() const;
    // Asks the kernel about every hook, in the network namespace it was attached in: XDP slot,
    // tc filter at its handle/priority, the socket still open (hooks_status.cpp).
    [[nodiscard]] std::vector<HookStatus> status() const;
    [[nodiscard]] std::size_t size() const { return hooks_.size(); }

private:
    struct Hook {
        HookInfo info;
        UniqueFd prog;    // duplicate of the caller's program fd
        UniqueFd socket;  // socket filters
        UniqueFd netns;   // network namespace at attach time (XDP/TC)
        std::uint64_t netns_dev = 0;
        std::uint64_t netns_ino = 0;
    };

    Result<DetachOutcome> detach_xdp(Hook& hook);
    Result<DetachOutcome> detach_tc(Hook& hook);
    Status release_clsact(Hook& hook);

    std::map<HookId, Hook> hooks_;
    HookId next_id_ = 1;
};

}  // namespace flywall
