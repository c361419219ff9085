#include "core/bpf_stats.hpp"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace flywall {

Result<RunTimeStats> RunTimeStats::enable() {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0) return Error::from_errno(errno, "enable BPF run-time statistics");
    RunTimeStats s;
    s.fd_ = UniqueFd(fd);
    return s;
}

Result<KernelStatsWindow::State> KernelStatsWindow::open(std::chrono::seconds length) {
    if (length.count() < 1 || length > kMaxLength)
        return Error::from_errno(EINVAL, "profiling window of " + std::to_string(length.count()) +
                                             " s: must be 1.." + std::to_string(kMaxLength.count()));
    std::lock_guard lk(mu_);
    if (!stats_) {
        FW_TRY_ASSIGN(auto rs, RunTimeStats::enable());
        stats_.emplace(std::move(rs));
    }
    until_ = clock_.now() + length;
    return State{true, until_};
}

void KernelStatsWindow::expire_locked() {
    if (stats_ && clock_.now() >= until_) stats_.reset();
}

void KernelStatsWindow::expire() {
    std::lock_guard lk(mu_);
    expire_locked();
}

void KernelStatsWindow::close() {
    std::lock_guard lk(mu_);
    stats_.reset();
}

KernelStatsWindow::State KernelStatsWindow::state() {
    std::lock_guard lk(mu_);
    expire_locked();
    return stats_ ? State{true, until_} : State{};
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

double busy_ns_between(const SelfTiming& before, const SelfTiming& now) {
    const bool reset = now.processed < before.processed || now.timed_packets < before.timed_packets ||
                       now.timed_ns < before.timed_ns;
    const SelfTiming base = reset ? SelfTiming{} : before;
    const std::uint64_t packets = now.processed - base.processed;
    const std::uint64_t timed = now.timed_packets - base.timed_packets;
    const double avg = timed ? static_cast<double>(now.timed_ns - base.timed_ns) / static_cast<double>(timed)
                             : now.avg_ns();
    return avg * static_cast<double>(packets);
}

DatapathLoad::DatapathLoad(Inputs in, const Clock& clock, unsigned online_cpus)
    : in_(std::move(in)), clock_(clock), ncpu_(online_cpus) {
    if (ncpu_ == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        ncpu_ = n < 1 ? 1u : static_cast<unsigned>(n);
    }
}

Result<LoadSample> DatapathLoad::sample() {
    std::vector<SelfTiming> programs = in_.programs ? in_.programs() : std::vector<SelfTiming>{};
    const std::uint64_t events = in_.events_total ? in_.events_total() : 0;
    const auto now = clock_.now();
    LoadSample s;
    s.memory_mb = (in_.map_memory_bytes ? static_cast<double>(in_.map_memory_bytes()) : 0.0) / (1024.0 * 1024.0);
    if (primed_) {
        const double secs = std::chrono::duration<double>(now - last_t_).count();
        if (secs > 0) {
            double busy_ns = 0, packets = 0;
            for (std::size_t i = 0; i < programs.size(); ++i) {
                const SelfTiming before = i < last_programs_.size() ? last_programs_[i] : SelfTiming{};
                busy_ns += busy_ns_between(before, programs[i]);
                const bool reset = programs[i].processed < before.processed;
                packets += static_cast<double>(programs[i].processed - (reset ? 0 : before.processed));
            }
            s.cpu_percent = busy_ns / 1e9 / secs / static_cast<double>(ncpu_) * 100.0;
            s.pps = packets / secs;
            s.events_per_sec = static_cast<double>(events - last_events_) / secs;
        }
    }
    primed_ = true;
    last_t_ = now;
    last_programs_ = std::move(programs);
    last_events_ = events;
    last_sample_ = s;
    return s;
}

}  // namespace flywall
