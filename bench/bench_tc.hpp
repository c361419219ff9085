// TC classifier rows for flywall_bench: tc_classifier (flows + QoS; flows + QoS + IPS with 16
// patterns) beside the tc_pass floor, BPF_PROG_TEST_RUN, interleaved rounds, median of runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace flywall::bench {

// The "tc_classifier" section of the benchmark JSON; {"error": ...} when it cannot run.
nlohmann::json tc_classifier_bench(uint32_t repeat, int runs);

}  // namespace flywall::bench
