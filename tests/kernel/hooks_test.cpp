// HookManager against the real kernel: a private network namespace with a veth pair per test,
// tiny programs loaded from raw instructions (no dependency on the project's skeletons).
// Needs root and bpf(); otherwise every test is skipped with the reason.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "runtime/fd.hpp"
#include "runtime/hooks.hpp"
#include "runtime/orphans.hpp"

namespace flywall {
namespace {

constexpr const char* kVethA = "fwh-a";
constexpr const char* kVethB = "fwh-b";

bpf_insn mov_r0(int imm) {
    return bpf_insn{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0,
                    .off = 0, .imm = imm};
}
bpf_insn exit_insn() {
    return bpf_insn{.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0};
}

// A program that returns `verdict`; errno-style failure yields an invalid UniqueFd.
UniqueFd load_return_prog(bpf_prog_type type, const char* name, int verdict) {
    const std::array<bpf_insn, 2> insns{mov_r0(verdict), exit_insn()};
    return UniqueFd(bpf_prog_load(type, name, "GPL", insns.data(), insns.size(), nullptr));
}

std::uint32_t prog_id(int fd) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) return 0;
    return info.id;
}

std::string run(const std::string& cmd) {
    std::string out;
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen((cmd + " 2>&1").c_str(), "r"), ::pclose);
    if (!p) return out;
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), buf.size(), p.get())) out += buf.data();
    return out;
}

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

int ifindex(const char* name) { return static_cast<int>(::if_nametoindex(name)); }

bpf_xdp_query_opts xdp_state(const char* dev) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    EXPECT_EQ(bpf_xdp_query(ifindex(dev), 0, &q), 0);
    return q;
}

bool has_clsact(const char* dev) {
    return run(std::string("tc qdisc show dev ") + dev).find("clsact") != std::string::npos;
}

// Why the kernel tests cannot run here, or empty when they can.
std::string missing_prerequisite() {
    if (::geteuid() != 0) return "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF)";
    UniqueFd p = load_return_prog(BPF_PROG_TYPE_XDP, "fwh_probe", XDP_PASS);
    if (!p) return std::string("bpf() unavailable: ") + std::strerror(errno);
    if (!sh("ip -V") || !sh("tc -V")) return "iproute2 (ip, tc) not found";
    return {};
}

// A private network namespace holding the veth pair fwh-a <-> fwh-b. The test thread lives
// inside it for the whole test (forked `ip`/`tc` inherit it); everything goes away with
// the namespace, failure included.
class TestNet {
public:
    static std::unique_ptr<TestNet> create(std::string* why) {
        static std::atomic<int> counter{0};
        auto net = std::unique_ptr<TestNet>(new TestNet);
        net->name_ = "fwh-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        net->original_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!net->original_) return *why = "open own netns", nullptr;
        if (!sh("ip netns add " + net->name_)) return *why = "ip netns add failed", nullptr;
        net->created_ = true;
        UniqueFd ns(::open(("/run/netns/" + net->name_).c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns || ::setns(ns.get(), CLONE_NEWNET) < 0) return *why = "setns failed", nullptr;
        net->inside_ = std::move(ns);
        if (!sh(std::string("ip link add ") + kVethA + " type veth peer name " + kVethB) ||
            !sh(std::string("ip link set ") + kVethA + " up") ||
            !sh(std::string("ip link set ") + kVethB + " up") || !sh("ip link set lo up"))
            return *why = "creating the veth pair failed", nullptr;
        return net;
    }
    ~TestNet() {
        if (original_) ::setns(original_.get(), CLONE_NEWNET);
        if (created_) sh("ip netns del " + name_);
    }
    int original_fd() const { return original_.get(); }
    int inside_fd() const { return inside_.get(); }

private:
    TestNet() = default;
    std::string name_;
    UniqueFd original_;
    UniqueFd inside_;
    bool created_ = false;
};

class HooksKernel : public ::testing::Test {
protected:
    void SetUp() override {
        if (const std::string why = missing_prerequisite(); !why.empty())
            GTEST_SKIP() << "hook manager kernel tests skipped: " << why;
        std::string why;
        net_ = TestNet::create(&why);
        ASSERT_TRUE(net_) << "test network: " << why;
        xdp_ = load_return_prog(BPF_PROG_TYPE_XDP, "fwh_xdp_pass", XDP_PASS);
        foreign_xdp_ = load_return_prog(BPF_PROG_TYPE_XDP, "fwh_foreign", XDP_PASS);
        tc_ = load_return_prog(BPF_PROG_TYPE_SCHED_CLS, "fwh_tc_ok", 0 /* TC_ACT_OK */);
        foreign_tc_ = load_return_prog(BPF_PROG_TYPE_SCHED_CLS, "fwh_tc_foreign", 0);
        ASSERT_TRUE(xdp_ && foreign_xdp_ && tc_ && foreign_tc_) << std::strerror(errno);
    }
    void TearDown() override { net_.reset(); }

    std::unique_ptr<TestNet> net_;
    UniqueFd xdp_, foreign_xdp_, tc_, foreign_tc_;
};

TEST_F(HooksKernel, XdpNativeOnVethReportsNative) {
    HookManager hooks;
    auto r = hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Native);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->obtained, XdpMode::Native);
    EXPECT_TRUE(r->fallback_reason.empty());
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, prog_id(xdp_.get()));

    auto d = hooks.detach(r->id);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(*d, DetachOutcome::Detached);
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
    EXPECT_EQ(hooks.size(), 0u);
}

TEST_F(HooksKernel, XdpGenericReportsGeneric) {
    HookManager hooks;
    auto r = hooks.attach_xdp(xdp_.get(), ifindex(kVethA), XdpMode::Generic);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->obtained, XdpMode::Generic);
    const auto q = xdp_state(kVethA);
    EXPECT_EQ(q.skb_prog_id, prog_id(xdp_.get()));
    EXPECT_EQ(q.drv_prog_id, 0u);
    EXPECT_EQ(q.attach_mode, XDP_ATTACHED_SKB);
    ASSERT_TRUE(hooks.detach(r->id).ok());
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
}

TEST_F(HooksKernel, XdpOffloadFailsClearlyOnVeth) {
    HookManager hooks;
    auto r = hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Offload);
    ASSERT_FALSE(r.ok());
    const std::string msg = r.error().message();
    EXPECT_NE(msg.find("attach xdp to fwh-a (offload)"), std::string::npos) << msg;
    EXPECT_NE(r.error().errnum(), 0);
    EXPECT_EQ(hooks.size(), 0u);
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
    std::printf("[ info ] offload on veth: %s\n", msg.c_str());
}

TEST_F(HooksKernel, XdpAutoOnVethGetsNative) {
    HookManager hooks;
    auto r = hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Auto);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->obtained, XdpMode::Native);
    EXPECT_TRUE(r->fallback_reason.empty()) << r->fallback_reason;
    const auto infos = hooks.list();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].mode_requested, XdpMode::Auto);
    EXPECT_EQ(infos[0].mode_obtained, XdpMode::Native);
}

TEST_F(HooksKernel, XdpAutoFallsBackToGenericWithReason) {
    // Loopback has no native XDP support, so Auto must land in generic and say why.
    HookManager hooks;
    auto r = hooks.attach_xdp(xdp_.get(), "lo", XdpMode::Auto);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->obtained, XdpMode::Generic);
    EXPECT_NE(r->fallback_reason.find("(native)"), std::string::npos) << r->fallback_reason;
    EXPECT_EQ(xdp_state("lo").skb_prog_id, prog_id(xdp_.get()));
    const auto infos = hooks.list();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].fallback_reason, r->fallback_reason);
    std::printf("[ info ] auto on lo: %s\n", r->fallback_reason.c_str());
}

TEST_F(HooksKernel, XdpNeverReplacesForeignProgram) {
    const int idx = ifindex(kVethA);
    ASSERT_EQ(bpf_xdp_attach(idx, foreign_xdp_.get(), XDP_FLAGS_DRV_MODE, nullptr), 0);
    const std::uint32_t foreign = prog_id(foreign_xdp_.get());

    HookManager hooks;
    for (const XdpMode m : {XdpMode::Native, XdpMode::Auto, XdpMode::Generic}) {
        auto r = hooks.attach_xdp(xdp_.get(), kVethA, m);
        ASSERT_FALSE(r.ok()) << "mode " << to_string(m);
        EXPECT_TRUE(r.error().errnum() == EBUSY || r.error().errnum() == EEXIST)
            << r.error().message();
        EXPECT_EQ(xdp_state(kVethA).drv_prog_id, foreign) << "mode " << to_string(m);
    }
    EXPECT_EQ(hooks.size(), 0u);
    EXPECT_EQ(bpf_xdp_detach(idx, XDP_FLAGS_DRV_MODE, nullptr), 0);
}

TEST_F(HooksKernel, XdpDetachLeavesLaterForeignProgramAlone) {
    HookManager hooks;
    auto r = hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Native);
    ASSERT_TRUE(r.ok()) << r.error().message();
    // Someone else force-replaces our program.
    const int idx = ifindex(kVethA);
    ASSERT_EQ(bpf_xdp_attach(idx, foreign_xdp_.get(), XDP_FLAGS_DRV_MODE, nullptr), 0);

    auto d = hooks.detach(r->id);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(*d, DetachOutcome::ReplacedByOther);
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, prog_id(foreign_xdp_.get()));

    // Same through the destructor.
    {
        HookManager scoped;
        auto g = scoped.attach_xdp(xdp_.get(), kVethB, XdpMode::Generic);
        ASSERT_TRUE(g.ok()) << g.error().message();
        ASSERT_EQ(bpf_xdp_attach(ifindex(kVethB), foreign_xdp_.get(), XDP_FLAGS_SKB_MODE, nullptr), 0);
    }
    EXPECT_EQ(xdp_state(kVethB).skb_prog_id, prog_id(foreign_xdp_.get()));
    EXPECT_EQ(bpf_xdp_detach(idx, XDP_FLAGS_DRV_MODE, nullptr), 0);
    EXPECT_EQ(bpf_xdp_detach(ifindex(kVethB), XDP_FLAGS_SKB_MODE, nullptr), 0);
}

TEST_F(HooksKernel, TcCreatesClsactOnlyWhenAbsentAndRemovesItLast) {
    ASSERT_FALSE(has_clsact(kVethA));
    HookManager hooks;
    auto in = hooks.attach_tc(tc_.get(), kVethA, TcDirection::Ingress);
    ASSERT_TRUE(in.ok()) << in.error().message();
    EXPECT_TRUE(in->created_clsact);
    EXPECT_NE(in->handle, 0u);
    EXPECT_NE(in->priority, 0u);
    EXPECT_TRUE(has_clsact(kVethA));
    EXPECT_NE(run("tc filter show dev fwh-a ingress").find("fwh_tc_ok"), std::string::npos);

    auto eg = hooks.attach_tc(tc_.get(), kVethA, TcDirection::Egress);
    ASSERT_TRUE(eg.ok()) << eg.error().message();
    EXPECT_FALSE(eg->created_clsact);

    // The qdisc stays while another of our filters needs it...
    ASSERT_EQ(*hooks.detach(in->id), DetachOutcome::Detached);
    EXPECT_TRUE(has_clsact(kVethA));
    EXPECT_EQ(run("tc filter show dev fwh-a ingress").find("fwh_tc_ok"), std::string::npos);
    // ...and goes with the last one.
    ASSERT_EQ(*hooks.detach(eg->id), DetachOutcome::Detached);
    EXPECT_FALSE(has_clsact(kVethA));
}

TEST_F(HooksKernel, TcPrecreatedClsactSurvives) {
    ASSERT_TRUE(sh("tc qdisc add dev fwh-a clsact"));
    {
        HookManager hooks;
        auto r = hooks.attach_tc(tc_.get(), kVethA, TcDirection::Egress);
        ASSERT_TRUE(r.ok()) << r.error().message();
        EXPECT_FALSE(r->created_clsact);
        EXPECT_NE(run("tc filter show dev fwh-a egress").find("fwh_tc_ok"), std::string::npos);
    }
    EXPECT_TRUE(has_clsact(kVethA));
    EXPECT_EQ(run("tc filter show dev fwh-a egress").find("fwh_tc_ok"), std::string::npos);
}

TEST_F(HooksKernel, TcKeepsOwnClsactWhileForeignFilterRemains) {
    HookManager hooks;
    auto r = hooks.attach_tc(tc_.get(), kVethA, TcDirection::Ingress, TcOptions{.priority = 10});
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_TRUE(r->created_clsact);
    EXPECT_EQ(r->priority, 10u);

    LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = ifindex(kVethA), .attach_point = BPF_TC_EGRESS);
    LIBBPF_OPTS(bpf_tc_opts, fo, .prog_fd = foreign_tc_.get(), .priority = 20);
    ASSERT_EQ(bpf_tc_attach(&th, &fo), 0);

    ASSERT_EQ(*hooks.detach(r->id), DetachOutcome::Detached);
    EXPECT_TRUE(has_clsact(kVethA));
    LIBBPF_OPTS(bpf_tc_opts, q, .handle = fo.handle, .priority = fo.priority);
    ASSERT_EQ(bpf_tc_query(&th, &q), 0);
    EXPECT_EQ(q.prog_id, prog_id(foreign_tc_.get()));
}

TEST_F(HooksKernel, TcDetachLeavesReplacementAlone) {
    HookManager hooks;
    auto r = hooks.attach_tc(tc_.get(), kVethA, TcDirection::Ingress);
    ASSERT_TRUE(r.ok()) << r.error().message();

    // A second attach at the same handle/priority must not replace ours.
    auto dup = hooks.attach_tc(foreign_tc_.get(), kVethA, TcDirection::Ingress,
                               TcOptions{.priority = r->priority, .handle = r->handle});
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().errnum(), EEXIST) << dup.error().message();

    LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = ifindex(kVethA), .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, fo, .prog_fd = foreign_tc_.get(), .flags = BPF_TC_F_REPLACE,
                .handle = r->handle, .priority = r->priority);
    ASSERT_EQ(bpf_tc_attach(&th, &fo), 0);

    ASSERT_EQ(*hooks.detach(r->id), DetachOutcome::ReplacedByOther);
    LIBBPF_OPTS(bpf_tc_opts, q, .handle = r->handle, .priority = r->priority);
    ASSERT_EQ(bpf_tc_query(&th, &q), 0);
    EXPECT_EQ(q.prog_id, prog_id(foreign_tc_.get()));
    EXPECT_TRUE(has_clsact(kVethA));
}

bool wait_for_marker(int fd, const std::string& marker, int timeout_ms) {
    std::array<char, 2048> buf{};
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0 && std::string(buf.data(), n).find(marker) != std::string::npos) return true;
    }
    return false;
}

TEST_F(HooksKernel, SocketFilterReceivesFrameSentOverVeth) {
    UniqueFd accept_all = load_return_prog(BPF_PROG_TYPE_SOCKET_FILTER, "fwh_sk_all", 0xFFFF);
    UniqueFd drop_all = load_return_prog(BPF_PROG_TYPE_SOCKET_FILTER, "fwh_sk_none", 0);
    ASSERT_TRUE(accept_all && drop_all);

    HookManager hooks;
    auto rx = hooks.attach_socket_filter(accept_all.get(), InterfaceRef(kVethA));
    ASSERT_TRUE(rx.ok()) << rx.error().message();
    auto none = hooks.attach_socket_filter(drop_all.get(), InterfaceRef(kVethA));
    ASSERT_TRUE(none.ok()) << none.error().message();

    // A raw Ethernet frame with a local-experimental EtherType, from the peer end.
    UniqueFd tx(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(tx) << std::strerror(errno);
    const std::string marker = "flywall-hooks-" + std::to_string(::getpid());
    std::string frame(6, '\xff');
    frame += std::string("\x02\x00\x00\x00\x00\x01", 6);
    frame += std::string("\x88\xb5", 2);
    frame += marker;
    frame.resize(std::max<std::size_t>(frame.size(), 60), '\0');
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex(kVethB);
    to.sll_halen = 6;
    std::memset(to.sll_addr, 0xff, 6);
    ASSERT_EQ(::sendto(tx.get(), frame.data(), frame.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(frame.size()))
        << std::strerror(errno);

    EXPECT_TRUE(wait_for_marker(rx->fd, marker, 2000));
    EXPECT_FALSE(wait_for_marker(none->fd, marker, 200));

    const int fd = rx->fd;
    ASSERT_EQ(*hooks.detach(rx->id), DetachOutcome::Detached);
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed
}

TEST_F(HooksKernel, ListDescribesEveryHook) {
    UniqueFd sk = load_return_prog(BPF_PROG_TYPE_SOCKET_FILTER, "fwh_sk_all", 0xFFFF);
    ASSERT_TRUE(sk);
    HookManager hooks;
    auto x = hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Generic);
    auto t = hooks.attach_tc(tc_.get(), kVethB, TcDirection::Egress);
    auto s = hooks.attach_socket_filter(sk.get());
    ASSERT_TRUE(x.ok() && t.ok() && s.ok());

    const auto infos = hooks.list();
    ASSERT_EQ(infos.size(), 3u);
    EXPECT_EQ(infos[0].id, x->id);
    EXPECT_EQ(infos[0].program_name, "fwh_xdp_pass");
    EXPECT_EQ(infos[0].prog_id, prog_id(xdp_.get()));
    EXPECT_EQ(infos[0].ifname, kVethA);
    EXPECT_EQ(infos[0].ifindex, ifindex(kVethA));
    EXPECT_EQ(to_string(infos[0].attach_point), "xdp");
    EXPECT_EQ(infos[0].mode_requested, XdpMode::Generic);
    EXPECT_EQ(infos[0].mode_obtained, XdpMode::Generic);

    EXPECT_EQ(infos[1].program_name, "fwh_tc_ok");
    EXPECT_EQ(to_string(infos[1].attach_point), "tc-egress");
    EXPECT_EQ(infos[1].ifname, kVethB);
    EXPECT_EQ(infos[1].tc_handle, t->handle);
    EXPECT_EQ(infos[1].tc_priority, t->priority);
    EXPECT_TRUE(infos[1].created_clsact);
    EXPECT_FALSE(infos[1].mode_requested.has_value());

    EXPECT_EQ(to_string(infos[2].attach_point), "socket");
    EXPECT_EQ(infos[2].program_name, "fwh_sk_all");
    EXPECT_EQ(infos[2].ifindex, 0);
    EXPECT_TRUE(infos[2].ifname.empty());
    EXPECT_EQ(infos[2].socket_fd, s->fd);

    EXPECT_FALSE(hooks.detach(9999).ok());
    EXPECT_EQ(hooks.detach(9999).error().errnum(), ENOENT);
}

TEST_F(HooksKernel, DestructorRemovesEverythingItCreated) {
    {
        HookManager hooks;
        ASSERT_TRUE(hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Native).ok());
        ASSERT_TRUE(hooks.attach_xdp(xdp_.get(), kVethB, XdpMode::Generic).ok());
        ASSERT_TRUE(hooks.attach_tc(tc_.get(), kVethA, TcDirection::Ingress).ok());
        ASSERT_TRUE(hooks.attach_tc(tc_.get(), kVethB, TcDirection::Egress).ok());
        EXPECT_TRUE(has_clsact(kVethA));
        EXPECT_TRUE(has_clsact(kVethB));
    }
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
    EXPECT_EQ(xdp_state(kVethB).prog_id, 0u);
    EXPECT_FALSE(has_clsact(kVethA));
    EXPECT_FALSE(has_clsact(kVethB));
}

TEST_F(HooksKernel, MoveTransfersOwnership) {
    HookManager outer;
    {
        HookManager inner;
        ASSERT_TRUE(inner.attach_xdp(xdp_.get(), kVethA, XdpMode::Native).ok());
        outer = std::move(inner);
        EXPECT_EQ(inner.size(), 0u);  // NOLINT(bugprone-use-after-move): documented state
    }
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, prog_id(xdp_.get()));
    HookManager moved(std::move(outer));
    EXPECT_EQ(moved.size(), 1u);
    ASSERT_TRUE(moved.detach_all().ok());
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
}

TEST_F(HooksKernel, DetachFromAnotherNamespaceActsInTheOriginalOne) {
    HookManager hooks;
    auto x = hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Native);
    auto t = hooks.attach_tc(tc_.get(), kVethA, TcDirection::Ingress);
    ASSERT_TRUE(x.ok() && t.ok());

    ASSERT_EQ(::setns(net_->original_fd(), CLONE_NEWNET), 0);
    auto dx = hooks.detach(x->id);
    auto dt = hooks.detach(t->id);
    ASSERT_EQ(::setns(net_->inside_fd(), CLONE_NEWNET), 0);

    ASSERT_TRUE(dx.ok()) << dx.error().message();
    ASSERT_TRUE(dt.ok()) << dt.error().message();
    EXPECT_EQ(*dx, DetachOutcome::Detached);
    EXPECT_EQ(*dt, DetachOutcome::Detached);
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
    EXPECT_FALSE(has_clsact(kVethA));
}

// ---- takeover of what a previous instance left (SIGKILL, or SIGTERM with detach_on_exit = false) ----

// Attaches `fd` with a HookManager that then leaves it attached, and closes `fd`: the program
// is held by the attachment only, as after the daemon that attached it exited.
std::uint32_t leave_orphan_xdp(UniqueFd& fd, const char* dev) {
    HookManager gone;
    auto r = gone.attach_xdp(fd.get(), dev, XdpMode::Native);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    const std::uint32_t id = prog_id(fd.get());
    gone.leave_attached();
    fd.reset();
    return id;
}

TEST_F(HooksKernel, XdpTakeoverReplacesAnOrphanOfTheSameNameInOneStep) {
    const std::uint32_t old_id = leave_orphan_xdp(xdp_, kVethA);
    ASSERT_EQ(xdp_state(kVethA).drv_prog_id, old_id) << "left attached";
    UniqueFd next = load_return_prog(BPF_PROG_TYPE_XDP, "fwh_xdp_pass", XDP_PASS);
    ASSERT_TRUE(next);

    HookManager hooks;
    auto never = hooks.attach_xdp(next.get(), kVethA, XdpMode::Auto);
    ASSERT_FALSE(never.ok()) << "without takeover an existing program is never replaced";
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, old_id);

    auto r = hooks.attach_xdp(next.get(), kVethA, XdpMode::Auto, Takeover::Orphaned);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->took_over_prog_id, old_id);
    EXPECT_EQ(r->obtained, XdpMode::Native);
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, prog_id(next.get()));
    EXPECT_EQ(hooks.list().at(0).took_over_prog_id, old_id);
    ASSERT_EQ(*hooks.detach(r->id), DetachOutcome::Detached);
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
}

TEST_F(HooksKernel, XdpTakeoverLeavesForeignProgramsAndLiveInstancesAlone) {
    const int idx = ifindex(kVethA);
    UniqueFd next = load_return_prog(BPF_PROG_TYPE_XDP, "fwh_xdp_pass", XDP_PASS);
    ASSERT_TRUE(next);
    HookManager hooks;

    // Another tool's program (another name) is never taken over.
    ASSERT_EQ(bpf_xdp_attach(idx, foreign_xdp_.get(), XDP_FLAGS_DRV_MODE, nullptr), 0);
    auto foreign = hooks.attach_xdp(next.get(), kVethA, XdpMode::Auto, Takeover::Orphaned);
    ASSERT_FALSE(foreign.ok());
    EXPECT_EQ(foreign.error().errnum(), EBUSY);
    EXPECT_NE(foreign.error().message().find("of another tool"), std::string::npos) << foreign.error().message();
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, prog_id(foreign_xdp_.get()));
    ASSERT_EQ(bpf_xdp_detach(idx, XDP_FLAGS_DRV_MODE, nullptr), 0);

    // Our name, but a live process (a running instance) holds it: not an orphan.
    HookManager live;
    auto mine = live.attach_xdp(xdp_.get(), kVethA, XdpMode::Native);
    ASSERT_TRUE(mine.ok()) << mine.error().message();
    const std::uint32_t old_id = prog_id(xdp_.get());
    live.leave_attached();
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();  // holds the inherited program fd until killed
        ::_exit(0);
    }
    ASSERT_GT(child, 0);
    xdp_.reset();  // only the child holds it now
    auto held = hooks.attach_xdp(next.get(), kVethA, XdpMode::Auto, Takeover::Orphaned);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ASSERT_FALSE(held.ok()) << "a program a live process holds is not an orphan";
    EXPECT_NE(held.error().message().find("held by running process " + std::to_string(child)), std::string::npos)
        << held.error().message();
    EXPECT_EQ(xdp_state(kVethA).drv_prog_id, old_id);

    // The process is gone: now it is an orphan.
    auto r = hooks.attach_xdp(next.get(), kVethA, XdpMode::Auto, Takeover::Orphaned);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->took_over_prog_id, old_id);
}

TEST_F(HooksKernel, TcTakeoverReplacesTheOrphanAtOurSlotWithoutAddingASecondFilter) {
    const TcOptions slot{0xF1, 0xF1, Takeover::Orphaned};
    std::uint32_t old_id = 0;
    {
        HookManager gone;
        for (TcDirection d : {TcDirection::Ingress, TcDirection::Egress}) {
            auto r = gone.attach_tc(tc_.get(), kVethA, d, slot);
            ASSERT_TRUE(r.ok()) << r.error().message();
        }
        old_id = prog_id(tc_.get());
        gone.leave_attached();
        tc_.reset();
    }
    UniqueFd next = load_return_prog(BPF_PROG_TYPE_SCHED_CLS, "fwh_tc_ok", 0);
    ASSERT_TRUE(next);
    HookManager hooks;
    auto never = hooks.attach_tc(next.get(), kVethA, TcDirection::Ingress, TcOptions{0xF1, 0xF1});
    ASSERT_FALSE(never.ok());
    EXPECT_EQ(never.error().errnum(), EEXIST);
    std::vector<HookId> ids;
    for (TcDirection d : {TcDirection::Ingress, TcDirection::Egress}) {
        auto r = hooks.attach_tc(next.get(), kVethA, d, slot);
        ASSERT_TRUE(r.ok()) << r.error().message();
        EXPECT_EQ(r->took_over_prog_id, old_id);
        ids.push_back(r->id);
    }
    for (const char* dir : {"ingress", "egress"}) {
        const std::string out = run(std::string("tc filter show dev fwh-a ") + dir);
        size_t filters = 0;
        for (size_t at = out.find(" handle "); at != std::string::npos; at = out.find(" handle ", at + 1)) ++filters;
        EXPECT_EQ(filters, 1u) << dir << ":\n" << out;
        EXPECT_NE(out.find("id " + std::to_string(prog_id(next.get()))), std::string::npos) << out;
    }
    // The qdisc the previous instance created goes with the last filter.
    for (HookId id : ids) ASSERT_EQ(*hooks.detach(id), DetachOutcome::Detached);
    EXPECT_FALSE(has_clsact(kVethA));
}

TEST_F(HooksKernel, RemoveOrphanedAttachmentsTakesOnlyOurs) {
    const TcOptions slot{0xF1, 0xF1};
    const std::uint32_t xdp_id = leave_orphan_xdp(xdp_, kVethA);
    {
        HookManager gone;
        ASSERT_TRUE(gone.attach_tc(tc_.get(), kVethA, TcDirection::Ingress, slot).ok());
        gone.leave_attached();
        tc_.reset();
    }
    // A foreign filter elsewhere on egress and a foreign XDP program on the peer stay.
    HookManager foreign;
    ASSERT_TRUE(foreign.attach_tc(foreign_tc_.get(), kVethA, TcDirection::Egress).ok());
    ASSERT_EQ(bpf_xdp_attach(ifindex(kVethB), foreign_xdp_.get(), XDP_FLAGS_DRV_MODE, nullptr), 0);

    auto r = remove_orphaned_attachments(kVethA, "fwh_xdp_pass", "fwh_tc_ok", slot);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->size(), 2u) << "xdp + tc ingress; the clsact stays for the foreign filter";
    EXPECT_NE((*r)[0].find("xdp program id " + std::to_string(xdp_id)), std::string::npos) << (*r)[0];
    EXPECT_EQ(xdp_state(kVethA).prog_id, 0u);
    EXPECT_EQ(run("tc filter show dev fwh-a ingress").find("fwh_tc_ok"), std::string::npos);
    EXPECT_NE(run("tc filter show dev fwh-a egress").find("fwh_tc_foreign"), std::string::npos);
    EXPECT_TRUE(has_clsact(kVethA));
    auto peer = remove_orphaned_attachments(kVethB, "fwh_xdp_pass", "fwh_tc_ok", slot);
    ASSERT_TRUE(peer.ok()) << peer.error().message();
    EXPECT_TRUE(peer->empty());
    EXPECT_EQ(xdp_state(kVethB).drv_prog_id, prog_id(foreign_xdp_.get()));
}

// status() asks the kernel about every hook: before, only XDP hooks were checked and TC hooks
// counted as attached whatever had happened to them.
TEST_F(HooksKernel, StatusChecksXdpAndBothTcDirectionsAgainstTheKernel) {
    HookManager hooks;
    ASSERT_TRUE(hooks.attach_xdp(xdp_.get(), kVethA, XdpMode::Native).ok());
    const TcOptions slot{0xF1, 0xF1};
    ASSERT_TRUE(hooks.attach_tc(tc_.get(), kVethA, TcDirection::Ingress, slot).ok());
    ASSERT_TRUE(hooks.attach_tc(tc_.get(), kVethA, TcDirection::Egress, slot).ok());
    auto st = hooks.status();
    ASSERT_EQ(st.size(), 3u);
    for (const auto& s : st) EXPECT_TRUE(s.attached) << s.problem;

    // Someone removes the ingress filter and replaces the XDP program behind our back.
    LIBBPF_OPTS(bpf_tc_hook, in, .ifindex = ifindex(kVethA), .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, d, .handle = 0xF1, .priority = 0xF1);
    ASSERT_EQ(bpf_tc_detach(&in, &d), 0);
    LIBBPF_OPTS(bpf_xdp_attach_opts, r, .old_prog_fd = xdp_.get());
    ASSERT_EQ(bpf_xdp_attach(ifindex(kVethA), foreign_xdp_.get(), XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &r), 0);
    st = hooks.status();
    std::map<std::string, HookStatus> by;
    for (const auto& s : st) by[std::string(to_string(s.info.attach_point))] = s;
    EXPECT_FALSE(by["tc-ingress"].attached);
    EXPECT_NE(by["tc-ingress"].problem.find("tc-ingress hook on fwh-a is gone"), std::string::npos) << by["tc-ingress"].problem;
    EXPECT_TRUE(by["tc-egress"].attached);
    EXPECT_FALSE(by["xdp"].attached);
    EXPECT_EQ(by["xdp"].current_prog_id, prog_id(foreign_xdp_.get()));
    EXPECT_NE(by["xdp"].problem.find("another program"), std::string::npos) << by["xdp"].problem;
    ASSERT_EQ(bpf_xdp_detach(ifindex(kVethA), XDP_FLAGS_DRV_MODE, nullptr), 0);
}

TEST_F(HooksKernel, WrongProgramTypeIsRejectedWithContext) {
    HookManager hooks;
    auto r = hooks.attach_xdp(tc_.get(), kVethA, XdpMode::Native);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errnum(), EINVAL);
    EXPECT_NE(r.error().message().find("attach xdp to fwh-a"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("sched_cls"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace flywall
