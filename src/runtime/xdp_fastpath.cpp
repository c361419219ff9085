#include "runtime/xdp_fastpath.hpp"

namespace flywall {

fw_xdp_config default_xdp_config() {
    fw_xdp_config c{};
    c.features = FW_F_STATS | FW_F_IP_ALLOWLIST | FW_F_IP_BLOCKLIST;
    c.malformed_verdict = FW_VERDICT_PASS;
    c.dns_action = FW_DNS_ACTION_NXDOMAIN;
    c.rl_ipv6_prefix_len = 64;
    return c;
}

Result<XdpFastPath> XdpFastPath::load() {
    FW_TRY_ASSIGN(auto skel, Skeleton<xdp_blocklist>::open_and_load([](xdp_blocklist* s) -> Status {
        s->bss->fw_cfg = default_xdp_config();
        return {};
    }));
    // .bss is initialised at load from the mmapped image; set again for clarity after load.
    skel->bss->fw_cfg = default_xdp_config();
    return XdpFastPath(std::move(skel));
}

std::vector<MapRef> XdpFastPath::all_maps() const {
    std::vector<MapRef> out;
    bpf_map* m;
    bpf_object__for_each_map(m, skel_.object()) out.emplace_back(bpf_map__fd(m), bpf_map__name(m));
    return out;
}

}  // namespace flywall
