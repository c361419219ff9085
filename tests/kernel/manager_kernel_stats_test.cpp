// The daemon holds no kernel BPF statistics fd while it runs (every BPF program on the host would
// pay two clock reads per run): the kernel's run_time_ns of its program stays 0, while the
// program's own sampled timing counts. A profiling window turns kernel statistics on for its
// length only. Needs root and BPF; skipped otherwise, and skipped when another process on the
// host holds kernel statistics on (a canary program of our own shows it).
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <linux/bpf.h>
#include <unistd.h>

#include <thread>

#include "bpf_test_run.hpp"
#include "core/bpf_stats.hpp"
#include "core/lab.hpp"
#include "core/manager.hpp"
#include "packet_builder.hpp"

namespace flywall {
namespace {

using namespace std::chrono_literals;
using test::PacketBuilder;
using test::run_prog;

// An XDP program that returns XDP_PASS and nothing else: its kernel run time grows only while
// someone holds kernel BPF statistics on.
UniqueFd load_canary() {
    const bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 2},  // r0 = XDP_PASS
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "fw_canary", "GPL", insns, 2, nullptr);
    return UniqueFd(fd < 0 ? -1 : fd);
}

std::uint64_t run_time_ns(int fd) {
    auto ps = program_stats(fd);
    EXPECT_TRUE(ps.ok()) << (ps.ok() ? "" : ps.error().message());
    return ps.ok() ? ps->run_time_ns : 0;
}

class ManagerKernelStatsTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto why = test::bpf_unavailable_reason();
        if (!why.empty()) GTEST_SKIP() << "SKIP (no BPF): " << why;
        const std::string id = std::to_string(getpid());
        if_a = "fwk" + id + "a";
        pin = "/sys/fs/bpf/flywall-kstats-test-" + id;
        std::string err;
        auto rc = run_command({"ip", "link", "add", if_a, "type", "veth", "peer", "name", "fwk" + id + "b"}, &err);
        ASSERT_TRUE(rc.ok() && *rc == 0) << "create veth: " << err;
        veth_created = true;
        ASSERT_EQ(*run_command({"ip", "link", "set", if_a, "up"}), 0);
        canary = load_canary();
        ASSERT_TRUE(canary) << "load canary program";
    }
    void TearDown() override {
        manager.reset();
        if (veth_created) (void)run_command({"ip", "link", "del", if_a});
        rmdir((pin + "/progs").c_str());
        rmdir((pin + "/maps").c_str());
        rmdir(pin.c_str());
        std::filesystem::remove_all("/tmp/flywall-stats-test-state-" + std::to_string(getpid()));
    }

    // Runs the daemon's pinned program and the canary; false when someone else has kernel
    // statistics on (the canary's run time grew although we hold no stats fd).
    bool run_both(std::uint32_t repeat, bool ours_on) {
        const std::uint64_t canary_before = run_time_ns(canary.get());
        auto pkt = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", 17).udp(1000, 2000).pad_to(64).build();
        EXPECT_TRUE(run_prog(prog.get(), pkt, repeat).ok());
        EXPECT_TRUE(run_prog(canary.get(), pkt, repeat).ok());
        return ours_on || run_time_ns(canary.get()) == canary_before;
    }

    std::string if_a, pin;
    bool veth_created = false;
    UniqueFd canary, prog;
    std::unique_ptr<Manager> manager;
};

TEST_F(ManagerKernelStatsTest, NoStatsFdWhileRunningSelfTimingInsteadProfileWindowIsBounded) {
    auto lr = config::load_default();
    ASSERT_TRUE(lr.ok()) << lr.error_text();
    config::Config c = lr.config();
    c.pin_path = pin;
    c.state_dir = "/tmp/flywall-stats-test-state-" + std::to_string(getpid());
    c.interfaces = {config::InterfaceConfig{if_a, config::XdpMode::Generic, false}};
    auto m = Manager::start(c, "");
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager = std::move(*m);
    prog = UniqueFd(bpf_obj_get((pin + "/progs/xdp_blocklist").c_str()));
    ASSERT_TRUE(prog) << "open pinned program";
    EXPECT_FALSE(manager->health().kernel_bpf_stats.on);

    // The program times 1 packet in 1024 by default: 4096 packets give at least 3 timed ones.
    if (!run_both(4096, false)) GTEST_SKIP() << "SKIP: another process holds kernel BPF statistics on";
    EXPECT_EQ(run_time_ns(prog.get()), 0u) << "the daemon holds a kernel BPF statistics fd";
    const SelfTimingReport st = manager->self_timing();
    EXPECT_EQ(st.sample_shift, static_cast<std::uint32_t>(FW_TIME_SAMPLE_SHIFT_DEFAULT));
    EXPECT_GE(st.xdp.processed, 4096u);
    EXPECT_GE(st.xdp.timed_packets, 3u);
    EXPECT_GT(st.xdp.timed_ns, 0u);
    EXPECT_GT(st.xdp.estimated_busy_ns(), 0.0);

    // A window: kernel statistics on for its length, then off.
    const auto opened_at = std::chrono::steady_clock::now();
    auto w = manager->profile(1s);
    ASSERT_TRUE(w.ok()) << w.error().message();
    EXPECT_TRUE(w->on);
    EXPECT_GE(w->until, opened_at + 1s);
    EXPECT_LE(w->until, std::chrono::steady_clock::now() + 1s);
    EXPECT_TRUE(manager->health().kernel_bpf_stats.on);
    run_both(1000, true);
    EXPECT_GT(run_time_ns(prog.get()), 0u) << "kernel statistics on inside the window";

    std::this_thread::sleep_until(w->until + 50ms);
    EXPECT_FALSE(manager->health().kernel_bpf_stats.on) << "the window is over";
    const std::uint64_t after_window = run_time_ns(prog.get());
    if (!run_both(1000, false)) GTEST_SKIP() << "SKIP: another process holds kernel BPF statistics on";
    EXPECT_EQ(run_time_ns(prog.get()), after_window) << "the stats fd outlived its window";
}

}  // namespace
}  // namespace flywall
