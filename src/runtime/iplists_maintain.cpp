// IpLists upkeep: the overflow hash_skip bits, exact-store stats, fast-table compaction and
// overflow migration, expiry (reap_expired), clear() and rebuild() from the maps' contents.
#include <algorithm>
#include <vector>

#include "runtime/iplists.hpp"
#include "runtime/iplists_store.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {

using namespace iplists_detail;

void IpLists::publish_hash_skip() {
    uint32_t skip = 0;
    for (size_t f = 0; f < exact_.size(); ++f)
        if (exact_[f].overflow == 0) skip |= ft_bit(f);
    __atomic_store_n(&fp_->ft_config().hash_skip, skip, __ATOMIC_RELEASE);
    // This owner keeps every table's overflow hints: misses consult the hash only when hinted.
    __atomic_store_n(&fp_->ft_config().hinted, 0xFu, __ATOMIC_RELEASE);
}

ExactStoreStats IpLists::exact_stats(IpListKind list, uint8_t family) const {
    size_t t = table_index(list, family, false);
    const ExactState& e = exact_[ft_index(t)];
    ExactStoreStats out;
    out.used = e.ft.used;
    out.tombstones = e.ft.tombstones;
    out.overflow = e.overflow;
    if (family == 4) {
        auto sl = list == IpListKind::Allow ? fp_->ft_allow4() : fp_->ft_block4();
        out.slots = static_cast<uint32_t>(sl.size());
        out.table_bytes = sl.size_bytes();
    } else {
        auto sl = list == IpListKind::Allow ? fp_->ft_allow6() : fp_->ft_block6();
        out.slots = static_cast<uint32_t>(sl.size());
        out.table_bytes = sl.size_bytes();
    }
    return out;
}

// Compacts fast table f when forced or when tombstones exceed 1/8 of its slots, then moves
// overflow entries into free slots (each published in the table before it leaves the hash).
Status IpLists::maintain(size_t f, bool force, size_t* migrated) {
    static constexpr size_t kExactTable[4] = {0, 4, 2, 6};  // fw_ft_table -> table_index()
    ExactState& e = exact_[f];
    return visit_table(*fp_, exact_.data(), kExactTable[f], [&](auto store) -> Status {
        if constexpr (IsExactStore<decltype(store)>::value) {
            using K = KeyOf<decltype(store)>;
            bool crowded = e.ft.tombstones * 8 > store.table().slots();
            if (!force && !crowded) return {};
            if (e.ft.tombstones) store.table().compact();
            if (e.overflow == 0) return {};
            std::vector<K> moved;
            FW_TRY(store.hash().for_each([&](const K& k, const fw_ip_entry& v) {
                if (store.table().put(k, v) != FastTable<K>::Put::Full) moved.push_back(k);
            }));
            if (moved.empty()) return {};
            FW_TRY_ASSIGN(size_t n, store.hash().delete_batch(std::span<const K>(moved)));
            e.overflow -= std::min(n, e.overflow);
            if (migrated) *migrated += moved.size();
            publish_hash_skip();
            return store.recompute_hints();
        } else {
            return Error::invalid("maintain: not an exact table");
        }
    });
}

Result<size_t> IpLists::compact() {
    size_t migrated = 0;
    for (size_t f = 0; f < exact_.size(); ++f)
        if (auto st = maintain(f, true, &migrated); !st) return rebuild_after_failure(std::move(st).error());
    return migrated;
}

Result<size_t> IpLists::reap_expired() {
    uint64_t now = monotonic_now_ns();
    std::array<std::vector<IpPrefix>, 2> expired;
    for (size_t t = 0; t < kIpTables; ++t) {
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            return map.for_each([&](const K& k, const fw_ip_entry& v) {
                if (v.expires_ns && now >= v.expires_ns) expired[idx(table_list(t))].push_back(KeyCodec<K>::prefix(k));
            });
        });
        if (!st) return std::move(st).error().wrap("reap expired ip entries");
    }
    size_t n = 0;
    for (size_t l = 0; l < 2; ++l) {
        if (expired[l].empty()) continue;
        FW_TRY_ASSIGN(size_t r, remove_bulk(std::span<const IpPrefix>(expired[l]), static_cast<IpListKind>(l)));
        n += r;
    }
    return n;
}

Status IpLists::clear() {
    reset_bookkeeping();
    publish_table_bits();
    for (int fam : {4, 6}) {
        Map<__u32, __u8> guard = fam == 4 ? fp_->guard4() : fp_->guard6();
        std::vector<__u32> slots(FW_LPM_GUARD4_SLOTS);
        for (uint32_t i = 0; i < slots.size(); ++i) slots[i] = i;
        std::vector<__u8> zero(slots.size(), 0);
        auto r = guard.update_batch(std::span<const __u32>(slots), std::span<const __u8>(zero));
        if (!r) return std::move(r).error().wrap("clear ip lists");
    }
    for (size_t t = 0; t < kIpTables; ++t) {
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            if constexpr (IsExactStore<decltype(map)>::value) {
                return map.clear();
            } else {
                std::vector<K> keys = map.keys();
                FW_TRY_ASSIGN(size_t n, map.delete_batch(std::span<const K>(keys)));
                (void)n;
                return {};
            }
        });
        if (!st) return rebuild_after_failure(std::move(st).error().wrap("clear"));
    }
    publish_hash_skip();
    return {};
}

Status IpLists::rebuild() {
    reset_bookkeeping();
    // Exact stores first: occupancy from the slots, placement repaired (a table written under
    // another seed), keys present in both stores left only in the table (a migration cut short),
    // overflow counted.
    for (size_t t = 0; t < kIpTables; t += 2) {
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto store) -> Status {
            using K = KeyOf<decltype(store)>;
            if constexpr (!IsExactStore<decltype(store)>::value) {
                return Error::invalid("rebuild: not an exact table");
            } else {
            auto& state = exact_[ft_index(t)];
            state = {};
            state.ft = store.table().recount();
            Status spill_err;
            store.table().repair([&](const K& k, const fw_ip_entry& v) {
                store.hint(k);
                auto r = store.hash().update(k, v);
                if (!r) spill_err = std::move(r).error();
                return r.ok();
            });
            FW_TRY(std::move(spill_err));
            std::vector<K> dup;
            size_t in_hash = 0;
            FW_TRY(store.hash().for_each([&](const K& k, const fw_ip_entry&) {
                if (store.table().find(k) != FastTable<K>::npos) dup.push_back(k);
                else ++in_hash;
            }));
            if (!dup.empty()) {
                FW_TRY_ASSIGN(size_t n, store.hash().delete_batch(std::span<const K>(dup)));
                (void)n;
            }
            state.overflow = in_hash;
            return store.recompute_hints();
            }
        });
        if (!st) return std::move(st).error().wrap("rebuild ip list bookkeeping");
    }
    publish_hash_skip();
    std::vector<uint32_t> dirty4, dirty6;
    for (size_t t = 0; t < kIpTables; ++t) {
        auto st = visit_table(*fp_, exact_.data(), t, [&](auto map) -> Status {
            using K = KeyOf<decltype(map)>;
            return map.for_each([&](const K& k, const fw_ip_entry& v) {
                account(t, KeyCodec<K>::prefix(k), v.flags, +1, dirty4, dirty6);
            });
        });
        if (!st) return std::move(st).error().wrap("rebuild ip list bookkeeping");
    }
    // Write every slot: stale bits from a previous owner must go too.
    std::vector<uint32_t> all(FW_LPM_GUARD4_SLOTS);
    for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    FW_TRY(write_guards(all, all));
    publish_table_bits();
    return {};
}

}  // namespace flywall
