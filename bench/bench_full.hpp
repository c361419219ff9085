// Issue-3 benchmark rows for flywall_bench: xdp_blocklist with every XDP feature enabled
// (the IP lists main() loaded, 1,000,000 blocked domains, the rate limiter, flow tracking with
// trusted-flow offload, events, statistics), measured in main()'s interleaved rounds beside the
// floor and the xdp-filter peer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "packet_builder.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall::bench {

// One row for main()'s scenario table (same fields as its Scenario; program is "ours").
struct FullRow {
    std::string name;
    test::Bytes packet;
    uint32_t expect;
    std::string peer_ref;
    std::optional<double> target;
    std::function<Status()> setup;
    std::string note;
};

struct FullFeatureBench {
    std::vector<FullRow> rows;
    // Restores the runtime configuration main() had before; main() gives it to its own rows
    // of the same program so they keep measuring the IP lists alone.
    std::function<Status()> baseline;
    // Load timing, configuration, and the rows that cannot be measured with repeat (the
    // NXDOMAIN answer rewrites the packet in place, so it is timed one run per call).
    nlohmann::json report;
};

// Loads `domains` blocked domains into fp, configures every feature, prepares flows (one
// tracked, one trusted) and measures the single-shot rows against the floor program.
// Leaves fp's configuration as it found it (the rows' setup switches it per measurement).
Result<FullFeatureBench> prepare_full_feature_bench(XdpFastPath& fp, int floor_fd, size_t domains, int runs);

}  // namespace flywall::bench
