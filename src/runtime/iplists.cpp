// IpLists: parsing and naming, the per-table bookkeeping (counts, LPM guards, table bits) and
// the planned add/remove/list paths. The exact-store adapter is in iplists_store.hpp; compaction,
// expiry, clear and rebuild are in iplists_maintain.cpp.
#include "runtime/iplists.hpp"

#include <arpa/inet.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "flywall/guard.h"
#include "runtime/iplists_store.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {

using namespace iplists_detail;

namespace {

constexpr uint32_t kListTableBits = 0x3FFFFu;  // every fw_table_bit this class maintains
constexpr uint8_t kGuardAllow = 1;             // FW_GUARD_ALLOW in bpf/lib/fw_xdp_maps.h
constexpr uint8_t kGuardBlock = 2;             // FW_GUARD_BLOCK

Status check_spec(const IpEntrySpec& s, size_t index) {
    const auto& p = s.prefix;
    auto bad = [&](const std::string& why) {
        return Error::invalid("IP entry #" + std::to_string(index) + " (" + p.to_string() + "): " + why);
    };
    if (p.family != 4 && p.family != 6) return bad("family must be 4 or 6");
    if (p.prefix_len > (p.family == 4 ? 32 : 128)) return bad("prefix length out of range");
    uint8_t d = static_cast<uint8_t>(s.dir);
    if (d == 0 || d > 3) return bad("direction must be src, dst or both");
    if (s.ttl && s.ttl->count() < 0) return bad("negative TTL");
    return {};
}

// Sort key for deduplicating a batch: (address, length, position in the input).
struct DedupKey {
    uint64_t hi, lo;
    uint32_t len;
    uint32_t idx;
    bool same_entry(const DedupKey& o) const { return hi == o.hi && lo == o.lo && len == o.len; }
    bool operator<(const DedupKey& o) const {
        if (hi != o.hi) return hi < o.hi;
        if (lo != o.lo) return lo < o.lo;
        if (len != o.len) return len < o.len;
        return idx < o.idx;
    }
};
DedupKey dedup_key(const IpPrefix& p, uint32_t idx) {
    DedupKey k{0, 0, p.prefix_len, idx};
    for (int i = 0; i < 8; ++i) k.hi = (k.hi << 8) | p.addr[i];
    for (int i = 8; i < 16; ++i) k.lo = (k.lo << 8) | p.addr[i];
    return k;
}

// Keeps the last occurrence of each prefix among `items` (indices into prefixes).
template <class GetPrefix>
std::vector<uint32_t> dedup_last(const std::vector<uint32_t>& items, GetPrefix&& prefix_of) {
    std::vector<DedupKey> keys;
    keys.reserve(items.size());
    for (uint32_t i : items) keys.push_back(dedup_key(prefix_of(i), i));
    std::sort(keys.begin(), keys.end());
    std::vector<uint32_t> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        if (i + 1 < keys.size() && keys[i].same_entry(keys[i + 1])) continue;
        out.push_back(keys[i].idx);
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------- pure parts

const char* to_string(IpListKind k) { return k == IpListKind::Allow ? "allow" : "block"; }
const char* to_string(MatchDir d) {
    switch (d) {
        case MatchDir::Src: return "src";
        case MatchDir::Dst: return "dst";
        default: return "both";
    }
}

Result<IpListKind> parse_list_kind(std::string_view s) {
    if (s == "allow") return IpListKind::Allow;
    if (s == "block") return IpListKind::Block;
    return Error::invalid("invalid list \"" + std::string(s) + "\" (expected allow or block)");
}

Result<MatchDir> parse_match_dir(std::string_view s) {
    if (s == "src") return MatchDir::Src;
    if (s == "dst") return MatchDir::Dst;
    if (s == "both") return MatchDir::Both;
    return Error::invalid("invalid direction \"" + std::string(s) + "\" (expected src, dst or both)");
}

GuardSlots guard_slots(const IpPrefix& p) {
    GuardSlots g;
    if (p.is_host()) return g;
    if (p.family == 4) {
        uint32_t slot = fw_guard4_slot(p.addr.data());
        if (p.prefix_len >= 16) {
            g.first = slot;
            g.count = 1;
        } else {
            // The prefix covers 2^(16 - len) consecutive /16 slots; host bits are already clear.
            g.count = 1u << (16 - p.prefix_len);
            g.first = slot & ~(g.count - 1);
        }
        return g;
    }
    if (p.prefix_len >= 32) {
        g.first = fw_guard6_slot(p.addr.data());
        g.count = 1;
    } else {
        g.unguarded = true;
    }
    return g;
}

uint32_t table_bit(IpListKind list, uint8_t family, bool lpm, MatchDir single_dir) {
    uint32_t base = list == IpListKind::Allow ? (family == 4 ? FW_T_ALLOW4_EXACT_SRC : FW_T_ALLOW6_EXACT_SRC)
                                              : (family == 4 ? FW_T_BLOCK4_EXACT_SRC : FW_T_BLOCK6_EXACT_SRC);
    unsigned shift = (lpm ? 2u : 0u) + (single_dir == MatchDir::Dst ? 1u : 0u);
    return base << shift;
}

std::string table_name(size_t t) {
    std::string s = table_list(t) == IpListKind::Allow ? "allow" : "block";
    s += table_family(t) == 4 ? "4" : "6";
    if (table_lpm(t)) s += "_lpm";
    return s;
}

uint64_t monotonic_now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------- IpLists

IpLists::IpLists(XdpFastPath& fp) : fp_(&fp) { reset_bookkeeping(); }

void IpLists::reset_bookkeeping() {
    counts_ = {};
    exact_ = {};
    for (auto& v : guard4_) v.assign(FW_LPM_GUARD4_SLOTS, 0);
    for (auto& v : guard6_) v.assign(FW_LPM_GUARD6_SLOTS, 0);
    unguarded6_ = {};
}

size_t IpLists::total_entries() const {
    size_t n = 0;
    for (const auto& c : counts_) n += c.entries;
    return n;
}

uint32_t IpLists::table_bits() const {
    uint32_t bits = 0;
    for (size_t t = 0; t < kIpTables; ++t) {
        if (counts_[t].src) bits |= table_bit(table_list(t), table_family(t), table_lpm(t), MatchDir::Src);
        if (counts_[t].dst) bits |= table_bit(table_list(t), table_family(t), table_lpm(t), MatchDir::Dst);
    }
    if (unguarded6_[0]) bits |= FW_T_ALLOW6_LPM_UNGUARDED;
    if (unguarded6_[1]) bits |= FW_T_BLOCK6_LPM_UNGUARDED;
    return bits;
}

void IpLists::publish_table_bits() {
    auto& cfg = fp_->config();
    uint32_t bits = table_bits();
    __atomic_store_n(&cfg.tables, (cfg.tables & ~kListTableBits) | bits, __ATOMIC_RELEASE);
    // Every add, remove, clear and rebuild ends here after its entries are written (removes
    // come here before deleting, which only loosens the lists): trusted flows are checked again.
    bump_policy_generation(cfg);
}

// Adds (sign +1) or removes (sign -1) one entry from the counts and guard reference counts;
// slots whose guard bit may flip are appended to dirty4/dirty6.
void IpLists::account(size_t t, const IpPrefix& p, uint32_t flags, int sign, std::vector<uint32_t>& dirty4,
                      std::vector<uint32_t>& dirty6) {
    auto adj = [sign](size_t& v) { v = sign > 0 ? v + 1 : v - 1; };
    adj(counts_[t].entries);
    if (flags & FW_ENTRY_MATCH_SRC) adj(counts_[t].src);
    if (flags & FW_ENTRY_MATCH_DST) adj(counts_[t].dst);
    if (!table_lpm(t)) return;
    size_t l = idx(table_list(t));
    GuardSlots g = guard_slots(p);
    if (g.unguarded) {
        unguarded6_[l] = sign > 0 ? unguarded6_[l] + 1 : unguarded6_[l] - 1;
        return;
    }
    auto& refs = p.family == 4 ? guard4_[l] : guard6_[l];
    auto& dirty = p.family == 4 ? dirty4 : dirty6;
    for (uint32_t s = g.first; s < g.first + g.count; ++s) {
        uint32_t before = refs[s];
        refs[s] = sign > 0 ? before + 1 : before - 1;
        if ((before == 0) != (refs[s] == 0)) dirty.push_back(s);
    }
}

Status IpLists::write_guards(const std::vector<uint32_t>& dirty4, const std::vector<uint32_t>& dirty6) {
    auto write = [&](std::vector<uint32_t> slots, const std::array<std::vector<uint32_t>, 2>& refs,
                     Map<__u32, __u8> map) -> Status {
        if (slots.empty()) return {};
        std::sort(slots.begin(), slots.end());
        slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
        std::vector<__u8> vals(slots.size());
        for (size_t i = 0; i < slots.size(); ++i) {
            uint32_t s = slots[i];
            vals[i] = static_cast<__u8>((refs[0][s] ? kGuardAllow : 0) | (refs[1][s] ? kGuardBlock : 0));
        }
        auto r = map.update_batch(std::span<const __u32>(slots), std::span<const __u8>(vals));
        if (!r) return std::move(r).error();
        return {};
    };
    FW_TRY(write(dirty4, guard4_, fp_->guard4()));
    FW_TRY(write(dirty6, guard6_, fp_->guard6()));
    return {};
}

Error IpLists::rebuild_after_failure(Error err) {
    auto st = rebuild();
    if (!st) err.detail += (err.detail.empty() ? "" : "\n") + ("rebuild after failure: " + st.error().message());
    return std::move(err).wrap("ip lists");
}

Status IpLists::add(std::string_view text, IpListKind list, MatchDir dir, std::optional<std::chrono::nanoseconds> ttl,
                    uint32_t source_id) {
    FW_TRY_ASSIGN(IpPrefix p, parse_ip_prefix(text));
    return add(IpEntrySpec{p, list, dir, ttl, source_id});
}

Status IpLists::add(const IpEntrySpec& spec) {
    auto r = add_bulk(std::span<const IpEntrySpec>(&spec, 1));
    if (!r) return std::move(r).error();
    return {};
}

Result<size_t> IpLists::add_bulk(std::span<const std::string> texts, IpListKind list, MatchDir dir,
                                 std::optional<std::chrono::nanoseconds> ttl, uint32_t source_id) {
    std::vector<IpEntrySpec> specs;
    specs.reserve(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        auto p = parse_ip_prefix(texts[i]);
        if (!p) return std::move(p).error().wrap("add entry #" + std::to_string(i) + " (nothing written)");
        specs.push_back(IpEntrySpec{*p, list, dir, ttl, source_id});
    }
    return add_bulk(std::span<const IpEntrySpec>(specs));
}

Result<size_t> IpLists::add_bulk(std::span<const IpEntrySpec> specs_in) {
    // ---- validate everything and plan every write before touching a map ----
    std::vector<IpEntrySpec> specs(specs_in.begin(), specs_in.end());
    std::array<std::vector<uint32_t>, kIpTables> by_table;
    for (size_t i = 0; i < specs.size(); ++i) {
        auto st = check_spec(specs[i], i);
        if (!st) return std::move(st).error().wrap("add (nothing written)");
        clear_host_bits(specs[i].prefix);
        const auto& p = specs[i].prefix;
        by_table[table_index(specs[i].list, p.family, !p.is_host())].push_back(static_cast<uint32_t>(i));
    }
    struct Plan {
        std::vector<uint32_t> items;                  // spec indices, deduplicated
        std::vector<std::optional<fw_ip_entry>> old;  // existing value per item
        size_t new_keys = 0;
    };
    std::array<Plan, kIpTables> plans;
    for (size_t t = 0; t < kIpTables; ++t) {
        if (by_table[t].empty()) continue;
        Plan& plan = plans[t];
        plan.items = dedup_last(by_table[t], [&](uint32_t i) -> const IpPrefix& { return specs[i].prefix; });
        plan.old.assign(plan.items.size(), std::nullopt);
        if (counts_[t].entries > 0) {
            auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
                using K = KeyOf<decltype(map)>;
                for (size_t j = 0; j < plan.items.size(); ++j) {
                    FW_TRY_ASSIGN(plan.old[j], map.lookup(KeyCodec<K>::make(specs[plan.items[j]].prefix)));
                }
                return {};
            });
            if (!st) return std::move(st).error().wrap("add (nothing written)");
        }
        for (const auto& o : plan.old) plan.new_keys += o ? 0 : 1;
        if (counts_[t].entries + plan.new_keys > table_capacity(t)) {
            return Error::from_errno(ENOSPC, "add (nothing written): table " + table_name(t) + " holds " +
                                                 std::to_string(counts_[t].entries) + " entries, adding " +
                                                 std::to_string(plan.new_keys) + " exceeds its capacity " +
                                                 std::to_string(table_capacity(t)));
        }
    }

    // ---- write entries, then guards, then table bits ----
    uint64_t now = monotonic_now_ns();
    std::vector<uint32_t> dirty4, dirty6;
    size_t written = 0;
    for (size_t t = 0; t < kIpTables; ++t) {
        Plan& plan = plans[t];
        if (plan.items.empty()) continue;
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            std::vector<K> keys;
            std::vector<fw_ip_entry> vals;
            keys.reserve(plan.items.size());
            vals.reserve(plan.items.size());
            for (size_t j = 0; j < plan.items.size(); ++j) {
                const IpEntrySpec& s = specs[plan.items[j]];
                keys.push_back(KeyCodec<K>::make(s.prefix));
                fw_ip_entry v{};
                v.hits = plan.old[j] ? plan.old[j]->hits : 0;
                v.expires_ns = s.ttl ? now + static_cast<uint64_t>(s.ttl->count()) : 0;
                if (s.ttl && v.expires_ns == 0) v.expires_ns = 1;  // 0 means "never"
                v.flags = static_cast<uint32_t>(s.dir);
                v.source_id = s.source_id;
                vals.push_back(v);
            }
            FW_TRY_ASSIGN(size_t n, map.update_batch(std::span<const K>(keys), std::span<const fw_ip_entry>(vals)));
            written += n;
            return {};
        });
        if (!st) return rebuild_after_failure(std::move(st).error());
        for (size_t j = 0; j < plan.items.size(); ++j) {
            const IpEntrySpec& s = specs[plan.items[j]];
            if (plan.old[j]) account(t, s.prefix, plan.old[j]->flags, -1, dirty4, dirty6);
            account(t, s.prefix, static_cast<uint32_t>(s.dir), +1, dirty4, dirty6);
        }
    }
    if (auto st = write_guards(dirty4, dirty6); !st) return rebuild_after_failure(std::move(st).error());
    publish_hash_skip();
    publish_table_bits();
    return written;
}

Result<bool> IpLists::remove(const IpPrefix& prefix, IpListKind list) {
    FW_TRY_ASSIGN(size_t n, remove_bulk(std::span<const IpPrefix>(&prefix, 1), list));
    return n == 1;
}

Result<bool> IpLists::remove(std::string_view text, IpListKind list) {
    FW_TRY_ASSIGN(IpPrefix p, parse_ip_prefix(text));
    return remove(p, list);
}

Result<size_t> IpLists::remove_bulk(std::span<const IpPrefix> prefixes_in, IpListKind list) {
    std::vector<IpPrefix> prefixes(prefixes_in.begin(), prefixes_in.end());
    std::array<std::vector<uint32_t>, kIpTables> by_table;
    for (size_t i = 0; i < prefixes.size(); ++i) {
        auto st = check_spec(IpEntrySpec{prefixes[i], list, MatchDir::Src, {}, 0}, i);
        if (!st) return std::move(st).error().wrap("remove (nothing removed)");
        clear_host_bits(prefixes[i]);
        const auto& p = prefixes[i];
        by_table[table_index(list, p.family, !p.is_host())].push_back(static_cast<uint32_t>(i));
    }
    // Find what exists (and with which directions) before changing anything.
    struct Gone {
        uint32_t item;
        uint32_t flags;
    };
    std::array<std::vector<Gone>, kIpTables> gone;
    for (size_t t = 0; t < kIpTables; ++t) {
        if (by_table[t].empty() || counts_[t].entries == 0) continue;
        auto items = dedup_last(by_table[t], [&](uint32_t i) -> const IpPrefix& { return prefixes[i]; });
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            for (uint32_t i : items) {
                FW_TRY_ASSIGN(auto old, map.lookup(KeyCodec<K>::make(prefixes[i])));
                if (old) gone[t].push_back(Gone{i, old->flags});
            }
            return {};
        });
        if (!st) return std::move(st).error().wrap("remove (nothing removed)");
    }
    // Table bits and guards go first, then the entries.
    std::vector<uint32_t> dirty4, dirty6;
    size_t removed = 0;
    for (size_t t = 0; t < kIpTables; ++t)
        for (const Gone& g : gone[t]) account(t, prefixes[g.item], g.flags, -1, dirty4, dirty6);
    publish_table_bits();
    if (auto st = write_guards(dirty4, dirty6); !st) return rebuild_after_failure(std::move(st).error());
    for (size_t t = 0; t < kIpTables; ++t) {
        if (gone[t].empty()) continue;
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            std::vector<K> keys;
            keys.reserve(gone[t].size());
            for (const Gone& g : gone[t]) keys.push_back(KeyCodec<K>::make(prefixes[g.item]));
            FW_TRY_ASSIGN(size_t n, map.delete_batch(std::span<const K>(keys)));
            removed += n;
            return {};
        });
        if (!st) return rebuild_after_failure(std::move(st).error());
    }
    publish_hash_skip();
    for (size_t f = 0; f < exact_.size(); ++f)
        if (auto st = maintain(f, false, nullptr); !st) return rebuild_after_failure(std::move(st).error());
    return removed;
}

Result<std::vector<IpListEntry>> IpLists::list() const {
    std::vector<IpListEntry> out;
    uint64_t now = monotonic_now_ns();
    for (size_t t = 0; t < kIpTables; ++t) {
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            return map.for_each([&](const K& k, const fw_ip_entry& v) {
                IpListEntry e;
                e.list = table_list(t);
                e.prefix = KeyCodec<K>::prefix(k);
                e.dir = static_cast<MatchDir>(v.flags & 3u);
                e.hits = v.hits;
                e.expires_ns = v.expires_ns;
                if (v.expires_ns) e.remaining_ns = v.expires_ns > now ? v.expires_ns - now : 0;
                e.source_id = v.source_id;
                out.push_back(e);
            });
        });
        if (!st) return std::move(st).error().wrap("list ip entries");
    }
    return out;
}

Result<std::optional<IpListEntry>> IpLists::get(const IpPrefix& prefix_in, IpListKind list) const {
    IpPrefix prefix = prefix_in;
    FW_TRY(check_spec(IpEntrySpec{prefix, list, MatchDir::Src, {}, 0}, 0));
    clear_host_bits(prefix);
    size_t t = table_index(list, prefix.family, !prefix.is_host());
    return visit_table(*fp_, exact_.data(), t, [&](auto map) -> Result<std::optional<IpListEntry>> {
        using K = KeyOf<decltype(map)>;
        FW_TRY_ASSIGN(auto v, map.lookup(KeyCodec<K>::make(prefix)));
        if (!v) return std::optional<IpListEntry>{};
        IpListEntry e;
        e.list = list;
        e.prefix = prefix;
        e.dir = static_cast<MatchDir>(v->flags & 3u);
        e.hits = v->hits;
        e.expires_ns = v->expires_ns;
        uint64_t now = monotonic_now_ns();
        if (v->expires_ns) e.remaining_ns = v->expires_ns > now ? v->expires_ns - now : 0;
        e.source_id = v->source_id;
        return std::optional<IpListEntry>(e);
    });
}

}  // namespace flywall
