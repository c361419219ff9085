// Orphaned attachments: recognising them (program_holder, orphan_of) and removing them
// (remove_orphaned_attachments, `flywall stop --detach`). See orphans.hpp.
#include "runtime/orphans.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <memory>

namespace flywall {

// True when any filter (anyone's) sits on the clsact ingress or egress hook of `ifindex`.
// libbpf 1.1 can only query a known handle/priority, so this dumps filters over rtnetlink.
Result<bool> clsact_has_filters(int ifindex) {
    for (const __u32 parent : {TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
                               TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)}) {
        UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
        if (!sock) return Error::from_errno(errno, "open rtnetlink socket");
        struct {
            nlmsghdr nh;
            tcmsg tc;
        } req{};
        req.nh.nlmsg_len = sizeof(req);
        req.nh.nlmsg_type = RTM_GETTFILTER;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nh.nlmsg_seq = 1;
        req.tc.tcm_family = AF_UNSPEC;
        req.tc.tcm_ifindex = ifindex;
        req.tc.tcm_parent = parent;
        if (::send(sock.get(), &req, sizeof(req), 0) < 0)
            return Error::from_errno(errno, "dump tc filters");

        alignas(nlmsghdr) std::array<char, 32768> buf{};
        bool done = false;
        while (!done) {
            const ssize_t n = ::recv(sock.get(), buf.data(), buf.size(), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                return Error::from_errno(errno, "dump tc filters");
            }
            if (n == 0) break;
            int len = static_cast<int>(n);
            for (auto* nh = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(nh, len);
                 nh = NLMSG_NEXT(nh, len)) {
                if (nh->nlmsg_type == NLMSG_DONE) {
                    done = true;
                    break;
                }
                if (nh->nlmsg_type == NLMSG_ERROR) {
                    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nh));
                    // No clsact (EINVAL) or no device (ENODEV): nothing can be attached there.
                    if (e->error == -EINVAL || e->error == -ENOENT || e->error == -ENODEV) {
                        done = true;
                        break;
                    }
                    if (e->error != 0) return Error::from_neg(e->error, "dump tc filters");
                    done = true;
                    break;
                }
                if (nh->nlmsg_type == RTM_NEWTFILTER) return true;
            }
        }
    }
    return false;
}

// The pid of a process other than this one that holds program `id` open (a live daemon keeps
// its programs' fds), or 0. Attachments and pins hold programs without a file descriptor, so a
// program attached by an instance that has exited is held by nobody. Reads /proc: only fds that
// are BPF programs get their fdinfo ("prog_id:\tID") read.
pid_t program_holder(std::uint32_t id) {
    using Dir = std::unique_ptr<DIR, int (*)(DIR*)>;
    const std::string needle = "prog_id:\t" + std::to_string(id) + "\n";
    const std::string self = std::to_string(::getpid());
    Dir proc(::opendir("/proc"), ::closedir);
    if (!proc) return 0;
    while (const dirent* p = ::readdir(proc.get())) {
        if (!std::isdigit(static_cast<unsigned char>(p->d_name[0])) || self == p->d_name) continue;
        const std::string base = std::string("/proc/") + p->d_name;
        Dir fds(::opendir((base + "/fd").c_str()), ::closedir);
        // A process we may not inspect (no CAP_SYS_PTRACE over it) could be holding the
        // program: say so rather than guess it is an orphan. Gone meanwhile (ENOENT) is fine.
        if (!fds && errno != ENOENT) return static_cast<pid_t>(std::stol(p->d_name));
        if (!fds) continue;
        while (const dirent* f = ::readdir(fds.get())) {
            if (f->d_name[0] == '.') continue;
            std::array<char, 64> link{};
            const ssize_t n = ::readlink((base + "/fd/" + f->d_name).c_str(), link.data(), link.size() - 1);
            if (n <= 0 || std::string_view(link.data(), static_cast<size_t>(n)) != "anon_inode:bpf-prog") continue;
            UniqueFd info(::open((base + "/fdinfo/" + f->d_name).c_str(), O_RDONLY | O_CLOEXEC));
            if (!info) continue;
            std::array<char, 1024> buf{};
            const ssize_t m = ::read(info.get(), buf.data(), buf.size() - 1);
            if (m > 0 && std::string_view(buf.data(), static_cast<size_t>(m)).find(needle) != std::string_view::npos)
                return static_cast<pid_t>(std::stol(p->d_name));
        }
    }
    return 0;
}

// Program `id`, opened, when a previous instance left it: named `name` and held by no process.
// Otherwise EBUSY with the reason (someone else's program, or a live instance holds it).
Result<UniqueFd> orphan_of(std::uint32_t id, std::string_view name, const std::string& where) {
    const std::string what = "program id " + std::to_string(id);
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return Error::from_errno(errno, where + ": open " + what);
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (const int rc = bpf_obj_get_info_by_fd(fd.get(), &info, &len); rc < 0)
        return Error::from_neg(rc, where + ": query " + what);
    if (name != info.name)
        return Error::from_errno(EBUSY, where + ": " + what + " ('" + info.name +
                                            "') of another tool is attached; not replacing it");
    if (const pid_t pid = program_holder(id))
        return Error::from_errno(EBUSY, where + ": " + what + " ('" + info.name + "') is held by running process " +
                                            std::to_string(pid) + " (another flywall instance?); not replacing it");
    return fd;
}

namespace {
Result<std::string> program_name_of(std::uint32_t id, const std::string& where) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return Error::from_errno(errno, where + ": open program id " + std::to_string(id));
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (const int rc = bpf_obj_get_info_by_fd(fd.get(), &info, &len); rc < 0)
        return Error::from_neg(rc, where + ": query program id " + std::to_string(id));
    return std::string(info.name);
}
}  // namespace

Result<std::vector<std::string>> remove_orphaned_attachments(const InterfaceRef& iface,
                                                             std::string_view xdp_name,
                                                             std::string_view tc_name,
                                                             TcOptions tc_slot) {
    int ifindex = 0;
    std::string ifname;
    if (const auto* name = std::get_if<std::string>(&iface.get())) {
        ifname = *name;
        ifindex = static_cast<int>(::if_nametoindex(name->c_str()));
        if (ifindex == 0) return Error::from_errno(errno, "look up interface " + *name);
    } else {
        ifindex = std::get<int>(iface.get());
        ifname = "ifindex " + std::to_string(ifindex);
    }
    std::vector<std::string> done;
    const std::string where = "remove orphaned programs from " + ifname;

    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (const int rc = bpf_xdp_query(ifindex, 0, &q); rc < 0) return Error::from_neg(rc, where + ": query xdp");
    const std::pair<__u32, __u32> slots[] = {{q.drv_prog_id, XDP_FLAGS_DRV_MODE},
                                             {q.skb_prog_id, XDP_FLAGS_SKB_MODE},
                                             {q.hw_prog_id, XDP_FLAGS_HW_MODE}};
    for (const auto& [id, flag] : slots) {
        if (id == 0) continue;
        FW_TRY_ASSIGN(const std::string name, program_name_of(id, where));
        if (name != xdp_name) continue;  // another tool's program
        FW_TRY_ASSIGN(const UniqueFd old, orphan_of(id, xdp_name, where));  // EBUSY while a process holds it
        LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = old.get());
        if (const int rc = bpf_xdp_detach(ifindex, flag, &o); rc < 0)
            return Error::from_neg(rc, where + ": detach xdp program id " + std::to_string(id));
        done.push_back("xdp program id " + std::to_string(id) + " (" + std::string(xdp_name) + ") detached from " + ifname);
    }

    bool tc_removed = false;
    for (const bpf_tc_attach_point point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
        LIBBPF_OPTS(bpf_tc_opts, tq, .handle = tc_slot.handle, .priority = tc_slot.priority);
        if (bpf_tc_query(&hook, &tq) < 0) continue;  // no clsact, or nothing at our slot
        FW_TRY_ASSIGN(const std::string name, program_name_of(tq.prog_id, where));
        if (name != tc_name) continue;
        FW_TRY_ASSIGN(const UniqueFd old, orphan_of(tq.prog_id, tc_name, where));
        LIBBPF_OPTS(bpf_tc_opts, d, .handle = tc_slot.handle, .priority = tc_slot.priority);
        if (const int rc = bpf_tc_detach(&hook, &d); rc < 0)
            return Error::from_neg(rc, where + ": detach tc filter");
        tc_removed = true;
        done.push_back(std::string("tc filter (") + std::string(tc_name) + ", program id " + std::to_string(tq.prog_id) +
                       ") removed from " + ifname + (point == BPF_TC_INGRESS ? " ingress" : " egress"));
    }
    // The qdisc goes only when we removed a filter and no filter of anyone is left on it.
    if (tc_removed) {
        FW_TRY_ASSIGN(const bool busy, clsact_has_filters(ifindex));
        if (!busy) {
            LIBBPF_OPTS(bpf_tc_hook, all, .ifindex = ifindex,
                        .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
            if (bpf_tc_hook_destroy(&all) == 0) done.push_back("clsact qdisc removed from " + ifname);
        }
    }
    return done;
}

}  // namespace flywall
