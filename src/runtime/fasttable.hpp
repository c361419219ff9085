// FastTable: user-space side of the exact-address fast tables of the IP lists (kernel side:
// bpf/lib/fw_fasttable.h, shared layout and hash: bpf/include/flywall/fasttable.h).
//
// Design. Each exact list (allow/block x IPv4/IPv6) is an open-addressing hash table laid out in
// a BPF_MAP_TYPE_ARRAY with BPF_F_MMAPABLE: the program probes it with inlined array lookups
// (~1-2 ns a probe instead of ~20 ns for a kernel hash lookup), user space writes it directly
// through mmap (no syscall per entry). Power-of-two slot count; home slot = top bits of a keyed
// multiplicative hash (seed drawn at load); linear probing bounded by FW_FT_MAX_PROBE; slot =
// {key, state EMPTY/USED/TOMB, fw_ip_entry}. An insert that finds no free slot within the bound
// returns Put::Full and the caller (IpLists) puts the entry in the list's kernel hash map, the
// overflow store, which the program consults only while it is non-empty.
//
// Invariants (checked by placed_ok()): a USED slot q holding key k lies less than
// FW_FT_MAX_PROBE slots after home(k), and no slot in [home(k), q) is EMPTY. Every operation
// below keeps them at every instant, so a concurrent reader never loses a live entry:
//  * put: value, key, then state = USED (release store); update in place leaves hits alone;
//  * erase: state = TOMB (release); tombstones are turned EMPTY only when no live entry's probe
//    path crosses them (immediately when the next slot is EMPTY; otherwise by compact());
//  * compact: moves each live entry to the first TOMB on its own probe path, publishing the copy
//    before tombstoning the original (hits counted in between are carried over), then turns
//    every tombstone that no live probe path crosses into EMPTY;
//  * repair: re-places entries whose placement is invalid (a table written under another seed),
//    spilling those that do not fit to the overflow store before tombstoning them.
// One writer at a time (the owner serialises calls); readers are the BPF program on any CPU.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <vector>

#include "flywall/abi.h"
#include "flywall/fasttable.h"

namespace flywall {

template <class K>
struct FtTraits;

template <>
struct FtTraits<__u32> {
    using Slot = fw_ft4_slot;
    static uint32_t hash(const __u32& k, const __u64* seed, uint32_t shift) {
        return fw_ft_hash4(k, seed, shift);
    }
    static bool equal(const Slot& s, const __u32& k) { return s.key == k; }
    static void set_key(Slot& s, const __u32& k) { s.key = k; }
    static const __u32& key(const Slot& s) { return s.key; }
};

template <>
struct FtTraits<fw_ip6_addr> {
    using Slot = fw_ft6_slot;
    static uint32_t hash(const fw_ip6_addr& k, const __u64* seed, uint32_t shift) {
        __u64 lo, hi;
        std::memcpy(&lo, k.addr, 8);
        std::memcpy(&hi, k.addr + 8, 8);
        return fw_ft_hash6(lo, hi, seed, shift);
    }
    static bool equal(const Slot& s, const fw_ip6_addr& k) { return std::memcmp(s.key.addr, k.addr, 16) == 0; }
    static void set_key(Slot& s, const fw_ip6_addr& k) { s.key = k; }
    static const fw_ip6_addr& key(const Slot& s) { return s.key; }
};

// Occupancy of one table, maintained by the operations of FastTable (and recount()).
struct FtCounts {
    size_t used = 0;
    size_t tombstones = 0;
    friend bool operator==(const FtCounts&, const FtCounts&) = default;
};

// Whether a slot count is usable: a power of two in [2^FW_FT_MIN_BITS, 2^FW_FT_MAX_BITS].
constexpr bool ft_valid_slots(uint64_t n) {
    return std::has_single_bit(n) && n >= (1ull << FW_FT_MIN_BITS) && n <= (1ull << FW_FT_MAX_BITS);
}
constexpr uint32_t ft_shift(uint64_t n) { return 64u - static_cast<uint32_t>(std::countr_zero(n)); }

// A view over the slots of one table (mmapped map memory, or any memory in tests) plus the
// counters of its owner. Copyable; does not own the memory.
template <class K>
class FastTable {
public:
    using Tr = FtTraits<K>;
    using Slot = typename Tr::Slot;
    static constexpr uint32_t npos = 0xFFFFFFFFu;
    enum class Put { Inserted, Updated, Full };

    FastTable() = default;
    // slots.size() must satisfy ft_valid_slots.
    FastTable(std::span<Slot> slots, const __u64 seed[2], FtCounts* counts)
        : s_(slots), mask_(static_cast<uint32_t>(slots.size() - 1)), shift_(ft_shift(slots.size())),
          seed_{seed[0], seed[1]}, counts_(counts) {}

    uint32_t slots() const { return static_cast<uint32_t>(s_.size()); }
    uint32_t home(const K& k) const { return Tr::hash(k, seed_, shift_); }
    uint32_t state(uint32_t i) const { return __atomic_load_n(&s_[i].state, __ATOMIC_ACQUIRE); }
    const Slot& slot(uint32_t i) const { return s_[i]; }
    const FtCounts& counts() const { return *counts_; }

    // Slot index of k, or npos.
    uint32_t find(const K& k) const {
        uint32_t h = home(k);
        for (uint32_t i = 0; i < FW_FT_MAX_PROBE; ++i) {
            uint32_t idx = (h + i) & mask_;
            uint32_t st = state(idx);
            if (st == FW_FT_EMPTY) return npos;
            if (st == FW_FT_USED && Tr::equal(s_[idx], k)) return idx;
        }
        return npos;
    }
    const fw_ip_entry* lookup(const K& k) const {
        uint32_t i = find(k);
        return i == npos ? nullptr : &s_[i].e;
    }
    // Hits as the program last left them (read atomically).
    uint64_t hits(uint32_t i) const { return __atomic_load_n(&s_[i].e.hits, __ATOMIC_RELAXED); }

    // Inserts k with value v (v.hits included) or, when k is present, updates its expiry, flags
    // and source in place, keeping the live hit counter. Full: no slot within the probe bound.
    Put put(const K& k, const fw_ip_entry& v) {
        uint32_t h = home(k), free = npos;
        for (uint32_t i = 0; i < FW_FT_MAX_PROBE; ++i) {
            uint32_t idx = (h + i) & mask_;
            uint32_t st = state(idx);
            if (st == FW_FT_USED) {
                if (!Tr::equal(s_[idx], k)) continue;
                fw_ip_entry& e = s_[idx].e;
                __atomic_store_n(&e.expires_ns, v.expires_ns, __ATOMIC_RELAXED);
                __atomic_store_n(&e.flags, v.flags, __ATOMIC_RELAXED);
                __atomic_store_n(&e.source_id, v.source_id, __ATOMIC_RELEASE);
                return Put::Updated;
            }
            if (free == npos) free = idx;
            if (st == FW_FT_EMPTY) break;
        }
        if (free == npos) return Put::Full;
        publish(free, k, v);
        return Put::Inserted;
    }

    // Returns whether k was present.
    bool erase(const K& k) {
        uint32_t i = find(k);
        if (i == npos) return false;
        erase_at(i);
        return true;
    }

    // Tombstones slot i (which must be USED) and clears the tombstones that end a probe run.
    void erase_at(uint32_t i) {
        __atomic_store_n(&s_[i].state, FW_FT_TOMB, __ATOMIC_RELEASE);
        --counts_->used;
        ++counts_->tombstones;
        if (state((i + 1) & mask_) != FW_FT_EMPTY) return;
        // No live entry's probe path crosses a TOMB whose successor is EMPTY.
        for (uint32_t j = i; state(j) == FW_FT_TOMB; j = (j - 1) & mask_) {
            __atomic_store_n(&s_[j].state, FW_FT_EMPTY, __ATOMIC_RELEASE);
            --counts_->tombstones;
        }
    }

    // Whether USED slot i satisfies the placement invariant under this table's seed.
    bool placed_ok(uint32_t i) const {
        uint32_t h = home(Tr::key(s_[i]));
        uint32_t dist = (i - h) & mask_;
        if (dist >= FW_FT_MAX_PROBE) return false;
        for (uint32_t d = 0; d < dist; ++d)
            if (state((h + d) & mask_) == FW_FT_EMPTY) return false;
        return true;
    }

    // Moves live entries to the first tombstone on their probe path, then turns every tombstone
    // no live probe path crosses into EMPTY. Returns the tombstones cleared.
    size_t compact() {
        uint32_t n = slots();
        uint32_t start = 0;
        for (uint32_t i = 0; i < n; ++i)
            if (state(i) == FW_FT_EMPTY) {
                start = (i + 1) & mask_;
                break;
            }
        for (uint32_t c = 0; c < n; ++c) {
            uint32_t q = (start + c) & mask_;
            if (state(q) != FW_FT_USED) continue;
            uint32_t h = home(Tr::key(s_[q]));
            for (uint32_t p = h; p != q; p = (p + 1) & mask_) {
                if (state(p) == FW_FT_TOMB) {
                    move(q, p);
                    break;
                }
            }
        }
        std::vector<bool> needed(n, false);
        for (uint32_t q = 0; q < n; ++q) {
            if (state(q) != FW_FT_USED) continue;
            for (uint32_t p = home(Tr::key(s_[q])); p != q; p = (p + 1) & mask_) needed[p] = true;
        }
        size_t cleared = 0;
        for (uint32_t p = 0; p < n; ++p) {
            if (state(p) == FW_FT_TOMB && !needed[p]) {
                __atomic_store_n(&s_[p].state, FW_FT_EMPTY, __ATOMIC_RELEASE);
                ++cleared;
            }
        }
        counts_->tombstones -= cleared;
        return cleared;
    }

    // Re-places entries that violate the placement invariant (e.g. written under another seed).
    // An entry that no longer fits is handed to spill (the overflow store) before it leaves the
    // table; spill returning false stops the repair. Returns entries moved or spilled.
    size_t repair(const std::function<bool(const K&, const fw_ip_entry&)>& spill) {
        size_t fixed = 0;
        for (uint32_t q = 0; q < slots(); ++q) {
            if (state(q) != FW_FT_USED || placed_ok(q)) continue;
            K k = Tr::key(s_[q]);
            fw_ip_entry v = s_[q].e;
            v.hits = hits(q);
            uint32_t dup = find(k);
            if (dup == npos) {
                Put r = put(k, v);
                if (r == Put::Full && !spill(k, v)) return fixed;
            }
            erase_at(q);
            ++fixed;
        }
        return fixed;
    }

    // Calls f(key, entry) for every USED slot (entry copied, hits read atomically).
    template <class F>
    void for_each(F&& f) const {
        for (uint32_t i = 0; i < slots(); ++i) {
            if (state(i) != FW_FT_USED) continue;
            fw_ip_entry e = s_[i].e;
            e.hits = hits(i);
            f(static_cast<const K&>(Tr::key(s_[i])), static_cast<const fw_ip_entry&>(e));
        }
    }

    // Counts by scanning (for rebuild); does not change the owner's counters.
    FtCounts recount() const {
        FtCounts c;
        for (uint32_t i = 0; i < slots(); ++i) {
            uint32_t st = state(i);
            c.used += st == FW_FT_USED;
            c.tombstones += st == FW_FT_TOMB;
        }
        return c;
    }

    // Every slot EMPTY.
    void clear() {
        for (uint32_t i = 0; i < slots(); ++i)
            if (state(i) != FW_FT_EMPTY) __atomic_store_n(&s_[i].state, FW_FT_EMPTY, __ATOMIC_RELEASE);
        *counts_ = {};
    }

private:
    void publish(uint32_t idx, const K& k, const fw_ip_entry& v) {
        Slot& s = s_[idx];
        bool was_tomb = state(idx) == FW_FT_TOMB;
        s.e.expires_ns = v.expires_ns;
        s.e.flags = v.flags;
        s.e.source_id = v.source_id;
        __atomic_store_n(&s.e.hits, v.hits, __ATOMIC_RELAXED);
        Tr::set_key(s, k);
        __atomic_store_n(&s.state, FW_FT_USED, __ATOMIC_RELEASE);
        ++counts_->used;
        if (was_tomb) --counts_->tombstones;
    }

    // Copy q to TOMB slot p (on q's probe path, before q), publish it, then tombstone q.
    void move(uint32_t q, uint32_t p) {
        fw_ip_entry v = s_[q].e;
        uint64_t h0 = hits(q);
        v.hits = h0;
        publish(p, Tr::key(s_[q]), v);
        erase_state_only(q);
        uint64_t h1 = hits(q);
        if (h1 != h0) __atomic_fetch_add(&s_[p].e.hits, h1 - h0, __ATOMIC_RELAXED);
    }
    void erase_state_only(uint32_t q) {
        __atomic_store_n(&s_[q].state, FW_FT_TOMB, __ATOMIC_RELEASE);
        --counts_->used;
        ++counts_->tombstones;
    }

    std::span<Slot> s_;
    uint32_t mask_ = 0;
    uint32_t shift_ = 64;
    __u64 seed_[2] = {0, 0};
    FtCounts* counts_ = nullptr;
};

// Bytes of one table of n slots (what the kernel allocates for the array, before page rounding).
template <class K>
constexpr uint64_t ft_table_bytes(uint64_t n) {
    return n * sizeof(typename FtTraits<K>::Slot);
}

}  // namespace flywall
