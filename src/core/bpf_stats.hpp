// Kernel-measured load of the datapath: per-program run counts and run time (BPF stats, which
// the kernel only collects while someone holds a BPF_STATS_RUN_TIME fd), map memory, and the
// LoadSource the adaptive governor samples.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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

struct ProgramStats {
    std::string name;
    std::uint32_t id = 0;
    std::uint64_t run_cnt = 0;
    std::uint64_t run_time_ns = 0;
};
Result<ProgramStats> program_stats(int prog_fd);

// Samples: cpu = run_time_ns delta / elapsed / online CPUs; pps = run_cnt delta / elapsed;
// memory = map memory (memlock) total; events/s = events counter delta / elapsed.
class DatapathLoad final : public LoadSource {
public:
    struct Inputs {
        std::function<std::vector<int>()> program_fds;
        std::function<std::uint64_t()> map_memory_bytes;
        std::function<std::uint64_t()> events_total;
    };
    DatapathLoad(Inputs in, const Clock& clock);
    Result<LoadSample> sample() override;
    LoadSample last() const { return last_sample_; }

private:
    Inputs in_;
    const Clock& clock_;
    bool primed_ = false;
    std::chrono::steady_clock::time_point last_t_{};
    std::uint64_t last_run_ns_ = 0, last_run_cnt_ = 0, last_events_ = 0;
    LoadSample last_sample_;
};

}  // namespace flywall
