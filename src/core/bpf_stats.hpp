// Load of the datapath: the programs' own sampled timing (fw_stats.timed_*), map memory, and the
// LoadSource the adaptive governor samples. Kernel BPF statistics (run_cnt, run_time_ns) are
// read for reports only: the kernel collects run time only while someone holds a
// BPF_STATS_RUN_TIME fd (RunTimeStats), and then every BPF program on the host pays two clock
// reads per run, so the daemon holds one only for a bounded profiling window.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "core/governor.hpp"
#include "runtime/fd.hpp"

namespace flywall {

// Holds kernel BPF run-time statistics on for as long as it lives.
class RunTimeStats {
public:
    static Result<RunTimeStats> enable();
    bool active() const { return static_cast<bool>(fd_); }

private:
    UniqueFd fd_;
};

// A bounded window of kernel BPF statistics for profiling on request (POST /api/ebpf/profile):
// the fd is held from open() until the window's end, then closed by expire() (the Manager's tick)
// or by the next state(), whichever comes first. Thread-safe; a leaf lock.
class KernelStatsWindow {
public:
    static constexpr std::chrono::seconds kMaxLength{300};
    struct State {
        bool on = false;
        std::chrono::steady_clock::time_point until{};  // when on: the window's end
    };

    explicit KernelStatsWindow(const Clock& clock) : clock_(clock) {}
    // Statistics on for `length` (1..kMaxLength) from now; a window already open is moved to the
    // new end. Returns the state after opening.
    Result<State> open(std::chrono::seconds length);
    void expire();  // closes the fd once its window is over
    void close();   // closes it now
    State state();

private:
    void expire_locked();
    std::mutex mu_;
    const Clock& clock_;
    std::optional<RunTimeStats> stats_;
    std::chrono::steady_clock::time_point until_{};
};

struct ProgramStats {
    std::string name;
    std::uint32_t id = 0;
    std::uint64_t run_cnt = 0;
    std::uint64_t run_time_ns = 0;
};
Result<ProgramStats> program_stats(int prog_fd);

// What one program measured about itself: packets run and the sampled timing of some of them.
struct SelfTiming {
    std::uint64_t processed = 0;
    std::uint64_t timed_packets = 0;
    std::uint64_t timed_ns = 0;

    double avg_ns() const {
        return timed_packets ? static_cast<double>(timed_ns) / static_cast<double>(timed_packets) : 0.0;
    }
    double estimated_busy_ns() const { return avg_ns() * static_cast<double>(processed); }
};

// Estimated busy time of the packets run between two readings of one program: the average of
// the packets timed in between (of all timed so far when none was) times the packets run in
// between. A reading lower than the one before (program reloaded, counters reset) counts from 0.
double busy_ns_between(const SelfTiming& before, const SelfTiming& now);

// Samples: cpu = estimated busy ns delta (busy_ns_between, summed over programs) / elapsed /
// online CPUs; pps = processed delta / elapsed; memory = map memory (memlock) total;
// events/s = events counter delta / elapsed.
class DatapathLoad final : public LoadSource {
public:
    struct Inputs {
        std::function<std::vector<SelfTiming>()> programs;  // one per program, same order each call
        std::function<std::uint64_t()> map_memory_bytes;
        std::function<std::uint64_t()> events_total;
    };
    DatapathLoad(Inputs in, const Clock& clock, unsigned online_cpus = 0);  // 0: ask sysconf
    Result<LoadSample> sample() override;
    LoadSample last() const { return last_sample_; }

private:
    Inputs in_;
    const Clock& clock_;
    bool primed_ = false;
    std::chrono::steady_clock::time_point last_t_{};
    unsigned ncpu_;
    std::vector<SelfTiming> last_programs_;
    std::uint64_t last_events_ = 0;
    LoadSample last_sample_;
};

}  // namespace flywall
