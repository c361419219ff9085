// How the configuration and the feature switches become the XDP program's runtime
// configuration (fw_xdp_config in the program's .bss). Pure functions, so the mapping is
// unit-tested without a kernel; the manager writes the result into the live mmapped config.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"
#include "flywall/abi.h"
#include "flywall/abi_tc.h"

namespace flywall {

// What a coordinator feature means in the XDP fast path.
struct FeatureBinding {
    std::uint32_t bits = 0;     // fw_feature_bit of the XDP fast path flipped by the feature
    std::uint32_t tc_bits = 0;  // fw_tc_feature_bit of the TC classifier
    bool implemented = false;   // false: no kernel program of this build implements it
    bool needs_tc = false;      // only the TC classifier implements it
};
// ddos_protection is implemented with no bits of its own: it is the XDP fast path made of its
// dependencies (ip_blocklist, rate_limiting), which carry the bits.
FeatureBinding feature_binding(std::string_view feature, const config::Config& cfg);

// Writes limits, DNS action, malformed verdict, flow and event settings into `out` (never
// `features` or `tables`, which belong to the coordinator and IpLists). Nothing is written when
// it fails.
Status apply_settings(const config::Config& cfg, fw_xdp_config& out);
// The feature a map of xdp_blocklist or tc_classifier serves ("ip_blocklist", "flow_monitoring",
// ...), or "" for what every feature shares (.bss, clocks). `flywall features` sums the memory
// the kernel holds for each feature from this (allocated at load, whether enabled or not).
std::string_view feature_of_map(std::string_view map_name);
// The TC classifier's share of the settings (its self-timing sample).
void apply_tc_settings(const config::Config& cfg, fw_tc_config& out);

// 1 of 2^shift: the shift whose sampling is closest to `rate` (0 < rate <= 1), clamped to 0..31.
std::uint32_t sampling_shift(double rate);

}  // namespace flywall
