// The governor's input without kernel BPF statistics: busy time estimated from the programs'
// sampled self-timing (fw_stats.timed_*), and the bounds of the kernel statistics window.
#include <gtest/gtest.h>

#include <cerrno>

#include "core/bpf_stats.hpp"

namespace flywall {
namespace {

using namespace std::chrono_literals;

class FakeClock final : public Clock {
public:
    std::chrono::steady_clock::time_point now() const override { return t; }
    std::chrono::steady_clock::time_point t{};
};

TEST(SelfTimingTest, AverageAndEstimate) {
    SelfTiming none{1000, 0, 0};
    EXPECT_EQ(none.avg_ns(), 0.0) << "nothing timed: no estimate, not a division by zero";
    EXPECT_EQ(none.estimated_busy_ns(), 0.0);
    SelfTiming t{4096, 4, 200};
    EXPECT_DOUBLE_EQ(t.avg_ns(), 50.0);
    EXPECT_DOUBLE_EQ(t.estimated_busy_ns(), 50.0 * 4096);
}

TEST(SelfTimingTest, BusyBetweenUsesTheIntervalsOwnAverage) {
    const SelfTiming before{1024, 1, 10};      // 10 ns/packet so far
    const SelfTiming now{3072, 3, 10 + 2 * 40};  // the two timed since: 40 ns each
    EXPECT_DOUBLE_EQ(busy_ns_between(before, now), 40.0 * 2048);
}

TEST(SelfTimingTest, BusyBetweenFallsBackToTheOverallAverage) {
    // Fewer packets than the sampling period since the last reading: none of them was timed.
    const SelfTiming before{2048, 2, 60};
    const SelfTiming now{2148, 2, 60};
    EXPECT_DOUBLE_EQ(busy_ns_between(before, now), 30.0 * 100);
    EXPECT_EQ(busy_ns_between(now, now), 0.0);
}

TEST(SelfTimingTest, CountersResetCountFromZero) {
    const SelfTiming before{1'000'000, 1000, 50'000};
    const SelfTiming after_reload{2048, 2, 100};
    EXPECT_DOUBLE_EQ(busy_ns_between(before, after_reload), 50.0 * 2048);
}

TEST(DatapathLoadTest, CpuAndPpsFromSelfTimingOfEveryProgram) {
    FakeClock clock;
    std::vector<SelfTiming> programs{{0, 0, 0}, {0, 0, 0}};
    std::uint64_t events = 0;
    DatapathLoad load(DatapathLoad::Inputs{[&] { return programs; }, [] { return std::uint64_t{3} << 20; },
                                           [&] { return events; }},
                      clock, 2);
    auto first = load.sample();
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->cpu_percent, 0.0) << "the first sample only primes";
    EXPECT_DOUBLE_EQ(first->memory_mb, 3.0);

    // One second: program 0 ran 1,000,000 packets at 100 ns (100 ms busy), program 1 500,000 at
    // 200 ns (100 ms busy): 200 ms of 2 CPUs = 10 %.
    clock.t += 1s;
    programs = {{1'000'000, 976, 97'600}, {500'000, 488, 97'600}};
    events = 250;
    auto s = load.sample();
    ASSERT_TRUE(s.ok());
    EXPECT_NEAR(s->cpu_percent, 10.0, 1e-9);
    EXPECT_NEAR(s->pps, 1'500'000.0, 1e-6);
    EXPECT_NEAR(s->events_per_sec, 250.0, 1e-9);
    EXPECT_NEAR(load.last().cpu_percent, 10.0, 1e-9);

    // Half a second more, program 0 only, and slower (300 ns): 150 ms of 2 CPUs in 0.5 s = 15 %.
    clock.t += 500ms;
    programs[0] = {1'500'000, 976 + 488, 97'600 + 488 * 300};
    s = load.sample();
    ASSERT_TRUE(s.ok());
    EXPECT_NEAR(s->cpu_percent, 15.0, 1e-9);
    EXPECT_NEAR(s->pps, 1'000'000.0, 1e-6);
}

TEST(DatapathLoadTest, AProgramThatAppearsLaterCountsFromZero) {
    FakeClock clock;
    std::vector<SelfTiming> programs{{0, 0, 0}};
    DatapathLoad load(DatapathLoad::Inputs{[&] { return programs; }, {}, {}}, clock, 1);
    ASSERT_TRUE(load.sample().ok());
    clock.t += 1s;
    programs = {{0, 0, 0}, {1000, 1, 1000}};  // 1000 packets at 1 us: 1 ms of 1 CPU
    auto s = load.sample();
    ASSERT_TRUE(s.ok());
    EXPECT_NEAR(s->cpu_percent, 0.1, 1e-9);
    EXPECT_NEAR(s->pps, 1000.0, 1e-9);
}

TEST(KernelStatsWindowTest, RejectsLengthsOutsideOneTo300SecondsWithoutOpening) {
    FakeClock clock;
    KernelStatsWindow w(clock);
    for (auto bad : {0s, -1s, 301s, 3600s}) {
        auto r = w.open(bad);
        ASSERT_FALSE(r.ok()) << bad.count();
        EXPECT_EQ(r.error().errnum(), EINVAL);
        EXPECT_FALSE(w.state().on);
    }
}

}  // namespace
}  // namespace flywall
