// User-space access to the set-associative flow and rate-limiter tables (layout, hash and the
// concurrency argument: bpf/include/flywall/flowtable.h). The slots are the mmapped BPF array,
// shared live with every CPU running the program: state words are read with acquire loads and
// changed only with compare-and-swap, counters never written (only whole-slot snapshots read).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <span>

#include "flywall/flowtable.h"

namespace flywall::slot_table {

template <class Slot>
uint32_t state_of(Slot& s) {
    return std::atomic_ref<uint32_t>(s.state).load(std::memory_order_acquire);
}

// Index of the first USED slot of the bucket holding `key` (the one the program finds), or -1.
template <class Slot, class Key>
long find(std::span<Slot> slots, uint32_t base, uint32_t tag, const Key& key) {
    for (uint32_t i = 0; i < FW_WAYS && base + i < slots.size(); ++i) {
        Slot& s = slots[base + i];
        if (state_of(s) == FW_SLOT_USED && s.tag == tag && std::memcmp(&s.key, &key, sizeof(Key)) == 0)
            return static_cast<long>(base + i);
    }
    return -1;
}

// Calls f(slot_index, Slot&) for every slot of the bucket holding `key` (twins included).
template <class Slot, class Key, class F>
size_t for_each_match(std::span<Slot> slots, uint32_t base, uint32_t tag, const Key& key, F&& f) {
    size_t n = 0;
    for (uint32_t i = 0; i < FW_WAYS && base + i < slots.size(); ++i) {
        Slot& s = slots[base + i];
        if (state_of(s) == FW_SLOT_USED && s.tag == tag && std::memcmp(&s.key, &key, sizeof(Key)) == 0) {
            f(base + i, s);
            ++n;
        }
    }
    return n;
}

// Copies of every USED slot (a snapshot per slot; counters may move while copying).
template <class Slot, class F>
void for_each_used(std::span<Slot> slots, F&& f) {
    for (Slot& s : slots) {
        if (state_of(s) != FW_SLOT_USED) continue;
        Slot copy;
        std::memcpy(&copy, &s, sizeof(Slot));
        f(copy, s);
    }
}

template <class Slot>
size_t count_used(std::span<Slot> slots) {
    size_t n = 0;
    for (Slot& s : slots) n += state_of(s) == FW_SLOT_USED;
    return n;
}

// {USED, tag} -> {EMPTY, tag}: one 64-bit compare-and-swap over the state and tag words (the
// program claims slots the same way), so it frees the entry the caller judged by its tag and
// not a new tenant that took the slot meanwhile. False when the slot changed.
template <class Slot>
bool release(Slot& s, uint32_t tag) {
    static_assert(offsetof(Slot, state) == 0 && offsetof(Slot, tag) == 4, "state and tag form one u64");
    auto* word = reinterpret_cast<uint64_t*>(&s.state);
    uint64_t expect = uint64_t(FW_SLOT_USED) | (uint64_t(tag) << 32);
    uint64_t desired = uint64_t(FW_SLOT_EMPTY) | (uint64_t(tag) << 32);
    return __atomic_compare_exchange_n(word, &expect, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

// True while the slot still holds `key` under `tag` (re-check after acting on a match).
template <class Slot, class Key>
bool still_holds(Slot& s, uint32_t tag, const Key& key) {
    return state_of(s) == FW_SLOT_USED && std::atomic_ref<uint32_t>(s.tag).load() == tag &&
           std::memcmp(&s.key, &key, sizeof(Key)) == 0;
}

}  // namespace flywall::slot_table
