// Adaptive governor: scales the sampling rate and the active feature set from measured load.
//
// Each tick() takes one load sample and makes at most one decision:
//  * utilisation = max over the configured limits of measured / limit * 100;
//  * utilisation >= scale_back_threshold: cut the sampling rate by scale_back_rate; once it is
//    at the floor, disable the lowest-priority enabled feature that is neither in
//    minimum_features nor needed by one of them (forced, so its dependents go too);
//  * utilisation < scale_back_threshold - hysteresis_gap for restore_after_ticks ticks in a row:
//    undo one step, in reverse: features it disabled (highest priority first), then the
//    sampling rate back toward 1. A feature the user disabled (or touched since) is never
//    re-enabled. The count starts over after each restore step, so restoring is paced;
//  * between the two thresholds nothing happens and the count starts over.
// Clock and load come through interfaces so tests drive it with fakes.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "core/coordinator.hpp"

namespace flywall {

class Clock {
public:
    virtual ~Clock() = default;
    [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
};

class SteadyClock final : public Clock {
public:
    [[nodiscard]] std::chrono::steady_clock::time_point now() const override {
        return std::chrono::steady_clock::now();
    }
};

// Measured load of the datapath (not of the whole machine).
struct LoadSample {
    double cpu_percent = 0;     // BPF programs: estimated busy ns delta / elapsed / ncpus * 100
    double memory_mb = 0;       // map memory
    double events_per_sec = 0;  // ring-buffer events
    double pps = 0;             // packets per second seen by the programs
};

class LoadSource {
public:
    virtual ~LoadSource() = default;
    virtual Result<LoadSample> sample() = 0;
};

struct GovernorConfig {
    bool enabled = true;
    // Limits; 0 leaves that metric out of the utilisation.
    double max_cpu_percent = 50;
    double max_memory_mb = 500;
    double max_events_per_sec = 10000;
    double max_pps = 10'000'000;
    double scale_back_threshold = 80;  // percent of a limit at which to act, (0, 100]
    double scale_back_rate = 0.1;      // fraction cut from the sampling rate per step, (0, 1)
    std::vector<std::string> minimum_features;  // never disabled (nor what they depend on)
    double hysteresis_gap = 20;       // restore below threshold - gap, [0, threshold)
    unsigned restore_after_ticks = 3;  // consecutive low ticks before each restore step, >= 1
    double min_sampling_rate = 1.0 / 1024;  // floor, (0, 1]
};

enum class GovernorActionKind {
    reduce_sampling,
    disable_feature,
    enable_feature,
    raise_sampling,
    exhausted,  // over the threshold with sampling at the floor and nothing left to disable
};
[[nodiscard]] std::string_view to_string(GovernorActionKind k);

struct GovernorAction {
    std::chrono::steady_clock::time_point time;
    GovernorActionKind kind;
    std::string feature;  // for disable/enable
    double sampling_rate = 1;  // after the action
    double utilisation = 0;    // percent, the sample that caused it
    std::string reason;        // with the numbers
};

// Applies a sampling rate in (0, 1] to the datapath.
using SamplingApplier = std::function<Status(double rate)>;

class Governor {
public:
    static constexpr std::size_t kMaxLogEntries = 512;

    Governor(Coordinator& coordinator, const Clock& clock, LoadSource& load);
    Governor(const Governor&) = delete;
    Governor& operator=(const Governor&) = delete;

    // Validates limits, rates and that every minimum feature exists. Keeps the current
    // sampling rate (clamped to the new floor) and what has been shed.
    Status configure(GovernorConfig config);
    void set_sampling_applier(SamplingApplier applier);

    // One sample, at most one decision. Errors (load source, applier, coordinator) are
    // returned with nothing changed by that tick.
    Status tick();

    [[nodiscard]] double sampling_rate() const;
    [[nodiscard]] double last_utilisation() const;
    [[nodiscard]] std::vector<GovernorAction> actions() const;  // oldest first, bounded
    [[nodiscard]] std::vector<std::string> shed_features() const;  // disabled by us, in order
    [[nodiscard]] GovernorConfig config() const;

private:
    struct Utilisation {
        double percent = 0;
        std::string dominant;  // "cpu 45.0% of 50%"
    };
    Utilisation utilisation_of(const LoadSample& s) const;
    Status scale_back(const Utilisation& u);
    Status restore(const Utilisation& u);
    Status set_rate(double rate);
    void log(GovernorActionKind kind, std::string feature, double util, std::string reason);

    Coordinator& coordinator_;
    const Clock& clock_;
    LoadSource& load_;

    mutable std::mutex mu_;
    GovernorConfig config_;
    SamplingApplier applier_;
    double rate_ = 1;
    double last_util_ = 0;
    unsigned low_ticks_ = 0;
    bool exhausted_ = false;
    std::vector<std::string> shed_;
    std::deque<GovernorAction> log_;
};

}  // namespace flywall
