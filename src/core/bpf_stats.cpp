#include "core/bpf_stats.hpp"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>

namespace flywall {

Result<RunTimeStats> RunTimeStats::enable() {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0) return Error::from_errno(errno, "enable BPF run-time statistics");
    RunTimeStats s;
    s.fd_ = UniqueFd(fd);
    return s;
}

Result<ProgramStats> program_stats(int prog_fd) {
    bpf_prog_info info;
    std::memset(&info, 0, sizeof info);
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        return Error::from_errno(errno, "read program info of fd " + std::to_string(prog_fd));
    ProgramStats s;
    s.name = info.name;
    s.id = info.id;
    s.run_cnt = info.run_cnt;
    s.run_time_ns = info.run_time_ns;
    return s;
}

DatapathLoad::DatapathLoad(Inputs in, const Clock& clock) : in_(std::move(in)), clock_(clock) {}

Result<LoadSample> DatapathLoad::sample() {
    std::uint64_t run_ns = 0, run_cnt = 0;
    for (int fd : in_.program_fds()) {
        FW_TRY_ASSIGN(auto ps, program_stats(fd));
        run_ns += ps.run_time_ns;
        run_cnt += ps.run_cnt;
    }
    const std::uint64_t events = in_.events_total ? in_.events_total() : 0;
    const auto now = clock_.now();
    LoadSample s;
    s.memory_mb = (in_.map_memory_bytes ? static_cast<double>(in_.map_memory_bytes()) : 0.0) / (1024.0 * 1024.0);
    if (primed_) {
        const double secs = std::chrono::duration<double>(now - last_t_).count();
        if (secs > 0) {
            long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
            if (ncpu < 1) ncpu = 1;
            s.cpu_percent = static_cast<double>(run_ns - last_run_ns_) / 1e9 / secs / static_cast<double>(ncpu) * 100.0;
            s.pps = static_cast<double>(run_cnt - last_run_cnt_) / secs;
            s.events_per_sec = static_cast<double>(events - last_events_) / secs;
        }
    }
    primed_ = true;
    last_t_ = now;
    last_run_ns_ = run_ns;
    last_run_cnt_ = run_cnt;
    last_events_ = events;
    last_sample_ = s;
    return s;
}

}  // namespace flywall
