// Private to src/runtime/iplists*.cpp: the exact-store adapter (a fast table plus its overflow
// hash, behind the Map interface the planning code uses), key <-> prefix codecs, visit_table().
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "runtime/fasttable.hpp"
#include "runtime/iplists.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall::iplists_detail {

// Table numbering of table_index(): list, family, exact or LPM.
inline IpListKind table_list(size_t t) { return t < 4 ? IpListKind::Allow : IpListKind::Block; }
inline uint8_t table_family(size_t t) { return (t & 2) ? 6 : 4; }
inline bool table_lpm(size_t t) { return (t & 1) != 0; }
inline size_t table_capacity(size_t t) { return table_lpm(t) ? FW_IP_LPM_MAX : FW_IP_EXACT_MAX; }

// Key <-> prefix conversion for the four key types of the list maps.
template <class K>
struct KeyCodec;
template <>
struct KeyCodec<__u32> {
    static __u32 make(const IpPrefix& p) {
        __u32 k;
        std::memcpy(&k, p.addr.data(), 4);
        return k;
    }
    static IpPrefix prefix(const __u32& k) {
        IpPrefix p;
        p.family = 4;
        p.prefix_len = 32;
        std::memcpy(p.addr.data(), &k, 4);
        return p;
    }
};
template <>
struct KeyCodec<fw_ip6_addr> {
    static fw_ip6_addr make(const IpPrefix& p) {
        fw_ip6_addr k;
        std::memcpy(k.addr, p.addr.data(), 16);
        return k;
    }
    static IpPrefix prefix(const fw_ip6_addr& k) {
        IpPrefix p;
        p.family = 6;
        p.prefix_len = 128;
        std::memcpy(p.addr.data(), k.addr, 16);
        return p;
    }
};
template <>
struct KeyCodec<fw_lpm4_key> {
    static fw_lpm4_key make(const IpPrefix& p) {
        fw_lpm4_key k{};
        k.prefixlen = p.prefix_len;
        std::memcpy(k.addr, p.addr.data(), 4);
        return k;
    }
    static IpPrefix prefix(const fw_lpm4_key& k) {
        IpPrefix p;
        p.family = 4;
        p.prefix_len = static_cast<uint8_t>(k.prefixlen);
        std::memcpy(p.addr.data(), k.addr, 4);
        return p;
    }
};
template <>
struct KeyCodec<fw_lpm6_key> {
    static fw_lpm6_key make(const IpPrefix& p) {
        fw_lpm6_key k{};
        k.prefixlen = p.prefix_len;
        std::memcpy(k.addr, p.addr.data(), 16);
        return k;
    }
    static IpPrefix prefix(const fw_lpm6_key& k) {
        IpPrefix p;
        p.family = 6;
        p.prefix_len = static_cast<uint8_t>(k.prefixlen);
        std::memcpy(p.addr.data(), k.addr, 16);
        return p;
    }
};

template <class M>
using KeyOf = typename std::remove_cvref_t<decltype(std::declval<M>().keys())>::value_type;

// fw_ft_table index of an exact table (table_index() numbering).
inline size_t ft_index(size_t t) { return (t >= 4 ? 1 : 0) + ((t & 2) ? 2 : 0); }
inline uint32_t ft_bit(size_t ft) { return 1u << ft; }

// One exact store: a fast table and its overflow hash, behind the subset of Map's interface
// that IpLists uses, so the planning code treats exact and LPM tables alike.
template <class K, class State>
class ExactStore {
public:
    ExactStore(FastTable<K> ft, Map<K, fw_ip_entry> hash, std::span<__u64> hints, State* st)
        : ft_(ft), hash_(hash), hints_(hints), st_(st) {}

    FastTable<K>& table() { return ft_; }
    Map<K, fw_ip_entry>& hash() { return hash_; }

    // Marks k's home slot as having an overflow entry (before that entry is written).
    void hint(const K& k) {
        uint32_t h = ft_.home(k);
        __atomic_fetch_or(&hints_[h >> 6], __u64(1) << (h & 63), __ATOMIC_RELEASE);
    }
    // Recomputes the hints from the hash's keys. New bits are a subset of the old ones plus
    // those set by hint(), so clearing stale bits never hides an overflow entry.
    Status recompute_hints() {
        std::vector<__u64> fresh(hints_.size(), 0);
        FW_TRY(hash_.for_each([&](const K& k, const fw_ip_entry&) {
            uint32_t h = ft_.home(k);
            fresh[h >> 6] |= __u64(1) << (h & 63);
        }));
        for (size_t i = 0; i < fresh.size(); ++i)
            if (__atomic_load_n(&hints_[i], __ATOMIC_RELAXED) != fresh[i])
                __atomic_store_n(&hints_[i], fresh[i], __ATOMIC_RELEASE);
        return {};
    }

    Result<std::optional<fw_ip_entry>> lookup(const K& k) const {
        uint32_t i = ft_.find(k);
        if (i != FastTable<K>::npos) {
            fw_ip_entry e = ft_.slot(i).e;
            e.hits = ft_.hits(i);
            return std::optional<fw_ip_entry>(e);
        }
        if (st_->overflow == 0) return std::optional<fw_ip_entry>{};
        return hash_.lookup(k);
    }

    // Upserts: an existing key is updated where it lives; a new key goes to the fast table, or
    // to the overflow hash when no slot within the probe bound is free.
    Result<size_t> update_batch(std::span<const K> keys, std::span<const fw_ip_entry> vals) {
        std::vector<K> spill_k;
        std::vector<fw_ip_entry> spill_v;
        size_t new_in_hash = 0;
        for (size_t i = 0; i < keys.size(); ++i) {
            if (st_->overflow && ft_.find(keys[i]) == FastTable<K>::npos) {
                FW_TRY_ASSIGN(auto old, hash_.lookup(keys[i]));
                if (old) {
                    spill_k.push_back(keys[i]);
                    spill_v.push_back(vals[i]);
                    continue;
                }
            }
            if (ft_.put(keys[i], vals[i]) == FastTable<K>::Put::Full) {
                hint(keys[i]);
                spill_k.push_back(keys[i]);
                spill_v.push_back(vals[i]);
                ++new_in_hash;
            }
        }
        if (!spill_k.empty()) {
            FW_TRY_ASSIGN(size_t n, hash_.update_batch(std::span<const K>(spill_k), std::span<const fw_ip_entry>(spill_v)));
            (void)n;
            st_->overflow += new_in_hash;
        }
        return keys.size();
    }

    Result<size_t> delete_batch(std::span<const K> keys) {
        size_t removed = 0;
        std::vector<K> in_hash;
        for (const K& k : keys) {
            if (ft_.erase(k)) ++removed;
            else if (st_->overflow) in_hash.push_back(k);
        }
        if (!in_hash.empty()) {
            FW_TRY_ASSIGN(size_t n, hash_.delete_batch(std::span<const K>(in_hash)));
            st_->overflow -= std::min(n, st_->overflow);
            removed += n;
        }
        return removed;
    }

    // Every entry: the fast table, then the hash (always walked: it may hold entries written
    // by someone else before a rebuild).
    template <class F>
    Status for_each(F&& f) const {
        ft_.for_each(f);
        return hash_.for_each(f);
    }

    std::vector<K> keys() const {
        std::vector<K> out;
        (void)for_each([&](const K& k, const fw_ip_entry&) { out.push_back(k); });
        return out;
    }

    // Empties both stores.
    Status clear() {
        ft_.clear();
        std::vector<K> ks = hash_.keys();
        FW_TRY_ASSIGN(size_t n, hash_.delete_batch(std::span<const K>(ks)));
        (void)n;
        st_->overflow = 0;
        for (auto& w : hints_) __atomic_store_n(&w, __u64(0), __ATOMIC_RELEASE);
        return {};
    }

private:
    FastTable<K> ft_;
    Map<K, fw_ip_entry> hash_;
    std::span<__u64> hints_;
    State* st_;
};

template <class T>
struct IsExactStore : std::false_type {};
template <class K, class S>
struct IsExactStore<ExactStore<K, S>> : std::true_type {};

// Calls f(store) with the store of table t (see table_index()): an ExactStore for exact tables,
// the typed LPM map otherwise.
template <class State, class F>
decltype(auto) visit_table(const XdpFastPath& fp, State* exact, size_t t, F&& f) {
    const __u64* seed = fp.ft_config().seed;
    auto ex4 = [&](std::span<fw_ft4_slot> sl, Map<__u32, fw_ip_entry> h, size_t i) {
        return ExactStore<__u32, State>(FastTable<__u32>(sl, seed, &exact[i].ft), h, fp.ft_hints(i), &exact[i]);
    };
    auto ex6 = [&](std::span<fw_ft6_slot> sl, Map<fw_ip6_addr, fw_ip_entry> h, size_t i) {
        return ExactStore<fw_ip6_addr, State>(FastTable<fw_ip6_addr>(sl, seed, &exact[i].ft), h, fp.ft_hints(i),
                                              &exact[i]);
    };
    switch (t) {
        case 0: return f(ex4(fp.ft_allow4(), fp.allow4(), FW_FT_ALLOW4));
        case 1: return f(fp.allow4_lpm());
        case 2: return f(ex6(fp.ft_allow6(), fp.allow6(), FW_FT_ALLOW6));
        case 3: return f(fp.allow6_lpm());
        case 4: return f(ex4(fp.ft_block4(), fp.block4(), FW_FT_BLOCK4));
        case 5: return f(fp.block4_lpm());
        case 6: return f(ex6(fp.ft_block6(), fp.block6(), FW_FT_BLOCK6));
        default: return f(fp.block6_lpm());
    }
}

}  // namespace flywall::iplists_detail
