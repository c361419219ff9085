#include "runtime/xdp_fastpath.hpp"

#include <bpf/btf.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/fasttable.hpp"

namespace flywall {

Result<MapMmap> MapMmap::map(int fd, size_t bytes, const char* name) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t len = (bytes + page - 1) / page * page;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return Error::from_errno(errno, std::string("mmap map ") + name);
    MapMmap m;
    m.p_ = p;
    m.len_ = bytes;
    return m;
}

MapMmap& MapMmap::operator=(MapMmap&& o) noexcept {
    if (this != &o) {
        unmap();  // a member call, not ~MapMmap(): the object's lifetime goes on
        p_ = std::exchange(o.p_, nullptr);
        len_ = std::exchange(o.len_, 0);
    }
    return *this;
}

MapMmap::~MapMmap() { unmap(); }

void MapMmap::unmap() noexcept {
    if (!p_) return;
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    munmap(p_, (len_ + page - 1) / page * page);
    p_ = nullptr;
    len_ = 0;
}

namespace {

Result<fw_ft_config> ft_config_for(const XdpLoadOptions& o) {
    if (!ft_valid_slots(o.ft_slots4) || !ft_valid_slots(o.ft_slots6))
        return Error::invalid("fast-table slot counts must be powers of two in [2^" + std::to_string(FW_FT_MIN_BITS) +
                              ", 2^" + std::to_string(FW_FT_MAX_BITS) + "] (got " + std::to_string(o.ft_slots4) +
                              ", " + std::to_string(o.ft_slots6) + ")");
    fw_ft_config c{};
    if (o.ft_seed) {
        c.seed[0] = (*o.ft_seed)[0];
        c.seed[1] = (*o.ft_seed)[1];
    } else if (getrandom(c.seed, sizeof(c.seed), 0) != static_cast<ssize_t>(sizeof(c.seed))) {
        return Error::from_errno(errno, "getrandom for the fast-table seed");
    }
    c.shift4 = ft_shift(o.ft_slots4);
    c.shift6 = ft_shift(o.ft_slots6);
    c.hash_skip = 0;  // consult the overflow hashes until their owner says they are empty
    return c;
}

}  // namespace

fw_xdp_config default_xdp_config() {
    fw_xdp_config c{};
    c.features = FW_F_STATS | FW_F_IP_ALLOWLIST | FW_F_IP_BLOCKLIST;
    c.malformed_verdict = FW_VERDICT_PASS;
    c.dns_action = FW_DNS_ACTION_NXDOMAIN;
    c.rl_ipv6_prefix_len = 64;
    c.time_sample_shift = FW_TIME_SAMPLE_SHIFT_DEFAULT;
    return c;
}

Result<XdpFastPath> XdpFastPath::load(const XdpLoadOptions& opts) {
    FW_TRY_ASSIGN(fw_ft_config ft, ft_config_for(opts));
    fw_tbl_config tbl{};
    if (opts.tbl_seed)
        tbl = *opts.tbl_seed;
    else if (getrandom(&tbl, sizeof(tbl), 0) != static_cast<ssize_t>(sizeof(tbl)))
        return Error::from_errno(errno, "getrandom for the flow and rate-limiter table seeds");
    FW_TRY_ASSIGN(auto skel, Skeleton<xdp_blocklist>::open_and_load([&](xdp_blocklist* s) -> Status {
        s->bss->fw_cfg = default_xdp_config();
        s->bss->fw_ft = ft;
        s->bss->fw_tbl = tbl;
        for (auto* m : {s->maps.fw_ft_allow4, s->maps.fw_ft_block4})
            if (int rc = bpf_map__set_max_entries(m, opts.ft_slots4); rc != 0) return Error::from_neg(rc, "size fast table");
        for (auto* m : {s->maps.fw_ft_allow6, s->maps.fw_ft_block6})
            if (int rc = bpf_map__set_max_entries(m, opts.ft_slots6); rc != 0) return Error::from_neg(rc, "size fast table");
        for (auto* m : {s->maps.fw_ft_hint_allow4, s->maps.fw_ft_hint_block4})
            if (int rc = bpf_map__set_max_entries(m, std::max(1u, opts.ft_slots4 / 64)); rc != 0)
                return Error::from_neg(rc, "size fast-table hints");
        for (auto* m : {s->maps.fw_ft_hint_allow6, s->maps.fw_ft_hint_block6})
            if (int rc = bpf_map__set_max_entries(m, std::max(1u, opts.ft_slots6 / 64)); rc != 0)
                return Error::from_neg(rc, "size fast-table hints");
        return {};
    }));
    // .bss is initialised at load from the mmapped image; set again for clarity after load.
    skel->bss->fw_cfg = default_xdp_config();
    skel->bss->fw_ft = ft;
    skel->bss->fw_tbl = tbl;
    XdpFastPath fp(std::move(skel));
    const bpf_map* maps[4] = {fp.skel_->maps.fw_ft_allow4, fp.skel_->maps.fw_ft_block4, fp.skel_->maps.fw_ft_allow6,
                              fp.skel_->maps.fw_ft_block6};
    const bpf_map* hints[4] = {fp.skel_->maps.fw_ft_hint_allow4, fp.skel_->maps.fw_ft_hint_block4,
                               fp.skel_->maps.fw_ft_hint_allow6, fp.skel_->maps.fw_ft_hint_block6};
    for (int t = 0; t < 4; ++t) {
        size_t bytes = size_t(bpf_map__max_entries(maps[t])) * bpf_map__value_size(maps[t]);
        FW_TRY_ASSIGN(fp.ft_[t], MapMmap::map(map_fd(maps[t]), bytes, bpf_map__name(maps[t])));
        bytes = size_t(bpf_map__max_entries(hints[t])) * bpf_map__value_size(hints[t]);
        FW_TRY_ASSIGN(fp.ft_hint_[t], MapMmap::map(map_fd(hints[t]), bytes, bpf_map__name(hints[t])));
    }
    auto map_table = [](const bpf_map* m) {
        return MapMmap::map(map_fd(m), size_t(bpf_map__max_entries(m)) * bpf_map__value_size(m), bpf_map__name(m));
    };
    FW_TRY_ASSIGN(fp.rl_, map_table(fp.skel_->maps.fw_rl_map));
    FW_TRY_ASSIGN(fp.flows_, map_table(fp.skel_->maps.fw_flows));
    return fp;
}

std::vector<int> XdpFastPath::ring_fds() const {
    std::vector<int> out;
    bpf_map* m;
    bpf_object__for_each_map(m, skel_.object()) {
        if (bpf_map__type(m) == BPF_MAP_TYPE_RINGBUF) out.push_back(bpf_map__fd(m));
    }
    return out;
}

XdpFastPath::Adopted XdpFastPath::adopt(const CarriedTables& c) {
    Adopted a;
    const btf* b = bpf_object__btf(skel_.object());
    const auto tbl = btf_section_var(b, ".bss", "fw_tbl");
    const std::string now_seeds = tbl ? btf_layout(b, tbl->type_id) : std::string();
    if (now_seeds.empty() || now_seeds != c.seeds_layout ||
        std::memcmp(&skel_->bss->fw_tbl, &c.seeds, sizeof(fw_tbl_config)) != 0) {
        a.why_not = "the table seeds differ (layout or value)";
        return a;
    }
    const auto copy = [&](const std::optional<CarriedTable>& t, const bpf_map* map, MapMmap& dst, auto* slot_type) {
        using Slot = std::remove_pointer_t<decltype(slot_type)>;
        std::string why;
        if (!t) return false;
        if (!fits(*t, map, b, &why) || t->bytes.size() != dst.size() || t->value_size != sizeof(Slot)) {
            a.why_not += (a.why_not.empty() ? "" : "; ") + why;
            return false;
        }
        std::memcpy(dst.data(), t->bytes.data(), dst.size());
        for (Slot& s : slots<Slot>(dst))
            if (s.state == FW_SLOT_BUSY) s.state = FW_SLOT_EMPTY;
        return true;
    };
    a.flows = copy(c.flows, skel_->maps.fw_flows, flows_, static_cast<fw_flow_slot*>(nullptr));
    a.rl = copy(c.rl, skel_->maps.fw_rl_map, rl_, static_cast<fw_rl_slot*>(nullptr));
    if (a.flows && !a.rl) {
        // Tokens the flows had charged to limiter buckets that did not carry over: gone with
        // them, so the flows start charging again.
        for (fw_flow_slot& s : flow_slots()) s.v.rl_credit = 0;
    }
    if (a.flows) {
        // The carried flows were stamped under the previous instance's policy generations. This
        // instance counts on from above all of them, so no stamp can equal a generation of this
        // instance's policy: every carried trusted flow is checked again before it skips a list.
        __u32 top = 0;
        for (const fw_flow_slot& s : flow_slots()) top = std::max(top, s.v.trust_gen);
        __atomic_store_n(&skel_->bss->fw_cfg.policy_gen, top + 1, __ATOMIC_SEQ_CST);
    }
    return a;
}

bool XdpFastPath::watch_fast_clock(uint64_t now_ns, uint64_t max_lag_ns) {
    __u64 t = fast_clock_ns();
    if (t == 0 || t + max_lag_ns >= now_ns) return false;  // not started yet, or running
    // Only if it is still that stale value: a packet or the timer may have moved it meanwhile.
    return __atomic_compare_exchange_n(&skel_->bss->fw_clock_ns, &t, __u64{0}, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}

uint64_t XdpFastPath::ft_memory_bytes() const {
    uint64_t n = 0;
    for (const auto& m : ft_) n += m.size();
    for (const auto& m : ft_hint_) n += m.size();
    return n;
}

std::vector<MapRef> XdpFastPath::all_maps() const {
    std::vector<MapRef> out;
    bpf_map* m;
    bpf_object__for_each_map(m, skel_.object()) out.emplace_back(bpf_map__fd(m), bpf_map__name(m));
    return out;
}

}  // namespace flywall
