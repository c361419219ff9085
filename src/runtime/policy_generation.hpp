// The policy generation of xdp_blocklist (fw_xdp_config.policy_gen, bpf/include/flywall/abi.h).
// Called after every change of what the checks decide from (IP or domain lists, features,
// limiter settings), once the change is in the maps: trusted flows stamped under an older
// generation go through every check on their next packet, so a block added later reaches them
// at once (bpf/lib/fw_flow.h, fw_flow_trusted).
#pragma once

#include "flywall/abi.h"

namespace flywall {

inline void bump_policy_generation(__u32* word) {
    if (word) __atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
}
inline void bump_policy_generation(fw_xdp_config& c) { bump_policy_generation(&c.policy_gen); }

}  // namespace flywall
