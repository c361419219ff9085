// User-space access to the set-associative flow and rate-limiter tables (layout, hash and the
// concurrency argument: bpf/include/flywall/flowtable.h). The slots are the mmapped BPF array,
// shared live with every CPU running the program: state words are read with acquire loads and
// changed only with compare-and-swap, counters never written (only whole-slot snapshots read).
#pragma once

#include <atomic>
#include <cstdint>
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

// USED -> EMPTY; false when the slot changed state meanwhile (a CPU is rewriting it).
template <class Slot>
bool release(Slot& s) {
    uint32_t expect = FW_SLOT_USED;
    return std::atomic_ref<uint32_t>(s.state).compare_exchange_strong(expect, FW_SLOT_EMPTY, std::memory_order_acq_rel);
}

}  // namespace flywall::slot_table
