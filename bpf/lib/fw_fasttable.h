/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Exact-address fast tables of the IP lists (layout and hash: bpf/include/flywall/fasttable.h).
 *
 * Why: a BPF_MAP_TYPE_HASH lookup costs ~20 ns here; an array lookup is inlined by the JIT
 * (a bounds check and an address computation), so one probe costs ~1-2 ns. Each exact list is an
 * open-addressing table in a BPF_F_MMAPABLE array that user space writes directly through mmap
 * (1M inserts take tens of ms instead of seconds of kernel hash inserts).
 *
 * Layout: power-of-two slot count (default 2^21 per table, >= 2x FW_IP_EXACT_MAX), slot =
 * {key, state, fw_ip_entry}. Home = top bits of a keyed multiplicative hash; the 128-bit key
 * (fw_ft.seed) is drawn at load by user space so an attacker cannot aim collisions at a slot.
 * Linear probing from home, at most FW_FT_MAX_PROBE slots, stopping at the first EMPTY slot;
 * TOMBSTONE slots are skipped. Lookups here are the unrolled probe loops below.
 *
 * Overflow: an insert that finds no EMPTY/TOMBSTONE slot within the bound (or is a duplicate
 * of a key already there) goes to the list's kernel hash map, which stays the overflow store.
 * fw_ft.hash_skip has one bit per list and family, set by user space while that hash is empty;
 * the program consults the hash only when the bit is clear, so correctness never depends on the
 * load factor and a table that never overflowed costs no hash lookup. A key lives in exactly one
 * of the two stores (the table is consulted first, so a key briefly in both while it migrates
 * is found in the table).
 *
 * Concurrency (one user-space writer, any number of CPUs reading):
 *  - insert into an EMPTY/TOMB slot: write the value, then the key, then state = USED with a
 *    release store; a reader that sees USED sees the key and value written before it (x86-64 is
 *    TSO; a reader on a weakly ordered CPU might pair the new state with a stale key, which at
 *    worst misses the entry being inserted at that instant, or pairs the new key with part of
 *    the previous tenant's value for that instant);
 *  - update in place: expires_ns, flags and source_id are stored one by one while the slot stays
 *    USED (hits are never written, so no increment is lost); a reader may see a mix of old and new
 *    fields of that one entry at that instant;
 *  - delete: state = TOMB (release); a reader that loaded the slot just before may still match
 *    it once. A TOMB becomes EMPTY only when no live entry's probe path crosses it (its successor
 *    is EMPTY, or after compaction proved it), so turning it EMPTY never hides a live entry;
 *  - compaction (user space, when tombstones pile up) moves a live entry from slot q to the
 *    first TOMB p on its own probe path: the copy at p is published (USED) before q becomes TOMB,
 *    so the entry is findable at every instant (at p, which probing reaches first, or at q);
 *    hits counted at q in between are added to p afterwards;
 *  - hit counters: __sync_fetch_and_add on the slot, as for the hash maps.
 * A torn read at worst misses or finds an entry being changed at that instant; it never makes
 * an unchanged live entry invisible. */
#ifndef FW_FASTTABLE_H
#define FW_FASTTABLE_H

#include "fw_common.h"
#include "flywall/fasttable.h"

/* Hash key, slot-count shifts and overflow skip bits: written by user space (mmapped .bss). */
struct fw_ft_config fw_ft;

#define FW_DEFINE_FT(name, slot_t, slots)                \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_ARRAY);                \
		__uint(max_entries, slots);                      \
		__uint(map_flags, BPF_F_MMAPABLE);               \
		__type(key, __u32);                              \
		__type(value, slot_t);                           \
	} name SEC(".maps")

/* max_entries is set by user space at load (bpf_map__set_max_entries); these are defaults. */
FW_DEFINE_FT(fw_ft_allow4, struct fw_ft4_slot, FW_FT_SLOTS4_DEFAULT);
FW_DEFINE_FT(fw_ft_block4, struct fw_ft4_slot, FW_FT_SLOTS4_DEFAULT);
FW_DEFINE_FT(fw_ft_allow6, struct fw_ft6_slot, FW_FT_SLOTS6_DEFAULT);
FW_DEFINE_FT(fw_ft_block6, struct fw_ft6_slot, FW_FT_SLOTS6_DEFAULT);

#define FW_FT_LOAD(x) (*(volatile typeof(x) *)&(x))

#define FW_FT_NONE 0xFFFFFFFFu

/* Each table's probe loop is a global function (verified once, on its own, and called as an
 * opaque function returning a slot index): inlined at every list check, the unrolled loop
 * was re-verified for every parse path reaching it, which made loading take ~2 s. The caller
 * then resolves the index with one inlined array lookup. */
#define FW_FT4_PROBE(table)                                                     \
	__u32 shift = FW_FT_LOAD(fw_ft.shift4);                                 \
	__u32 mask = (__u32)(~0ULL >> shift);                                   \
	__u32 home = fw_ft_hash4(key, fw_ft.seed, shift);                       \
	_Pragma("unroll")                                                       \
	for (int i = 0; i < FW_FT_MAX_PROBE; i++) {                             \
		__u32 idx = (home + i) & mask;                                  \
		struct fw_ft4_slot *s = bpf_map_lookup_elem(&table, &idx);      \
		__u32 st;                                                       \
		if (!s)                                                         \
			return FW_FT_NONE;                                      \
		st = FW_FT_LOAD(s->state);                                      \
		if (st == FW_FT_EMPTY)                                          \
			return FW_FT_NONE;                                      \
		if (st == FW_FT_USED && FW_FT_LOAD(s->key) == key)              \
			return idx;                                             \
	}                                                                       \
	return FW_FT_NONE

#define FW_FT6_PROBE(table)                                                     \
	__u32 shift = FW_FT_LOAD(fw_ft.shift6);                                 \
	__u32 mask = (__u32)(~0ULL >> shift);                                   \
	__u32 home = fw_ft_hash6(lo, hi, fw_ft.seed, shift);                    \
	_Pragma("unroll")                                                       \
	for (int i = 0; i < FW_FT_MAX_PROBE; i++) {                             \
		__u32 idx = (home + i) & mask;                                  \
		struct fw_ft6_slot *s = bpf_map_lookup_elem(&table, &idx);      \
		__u32 st;                                                       \
		if (!s)                                                         \
			return FW_FT_NONE;                                      \
		st = FW_FT_LOAD(s->state);                                      \
		if (st == FW_FT_EMPTY)                                          \
			return FW_FT_NONE;                                      \
		if (st == FW_FT_USED && FW_FT_LOAD(*(__u64 *)&s->key.addr[0]) == lo && \
		    FW_FT_LOAD(*(__u64 *)&s->key.addr[8]) == hi)                \
			return idx;                                             \
	}                                                                       \
	return FW_FT_NONE

/* Slot index of the key in that table, or FW_FT_NONE. */
__noinline __u32 fw_ft_probe_allow4(__u32 key) { FW_FT4_PROBE(fw_ft_allow4); }
__noinline __u32 fw_ft_probe_block4(__u32 key) { FW_FT4_PROBE(fw_ft_block4); }
__noinline __u32 fw_ft_probe_allow6(__u64 lo, __u64 hi) { FW_FT6_PROBE(fw_ft_allow6); }
__noinline __u32 fw_ft_probe_block6(__u64 lo, __u64 hi) { FW_FT6_PROBE(fw_ft_block6); }

/* The entry of `key` in fast table `which` (a constant fw_ft_table), or NULL. */
static __always_inline struct fw_ip_entry *fw_ft4_find(int which, __u32 key)
{
	__u32 idx;
	struct fw_ft4_slot *s;

	if (which == FW_FT_ALLOW4) {
		idx = fw_ft_probe_allow4(key);
		if (idx == FW_FT_NONE)
			return NULL;
		s = bpf_map_lookup_elem(&fw_ft_allow4, &idx);
	} else {
		idx = fw_ft_probe_block4(key);
		if (idx == FW_FT_NONE)
			return NULL;
		s = bpf_map_lookup_elem(&fw_ft_block4, &idx);
	}
	return s ? &s->e : NULL;
}

static __always_inline struct fw_ip_entry *fw_ft6_find(int which, const struct in6_addr *addr)
{
	__u64 lo, hi;
	__u32 idx;
	struct fw_ft6_slot *s;

	__builtin_memcpy(&lo, addr, 8);
	__builtin_memcpy(&hi, (const __u8 *)addr + 8, 8);
	if (which == FW_FT_ALLOW6) {
		idx = fw_ft_probe_allow6(lo, hi);
		if (idx == FW_FT_NONE)
			return NULL;
		s = bpf_map_lookup_elem(&fw_ft_allow6, &idx);
	} else {
		idx = fw_ft_probe_block6(lo, hi);
		if (idx == FW_FT_NONE)
			return NULL;
		s = bpf_map_lookup_elem(&fw_ft_block6, &idx);
	}
	return s ? &s->e : NULL;
}

#endif /* FW_FASTTABLE_H */
