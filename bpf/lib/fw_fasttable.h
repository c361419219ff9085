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
 * the program consults the hash only when the bit is clear and the overflow hint bit of the
 * key's home slot is set (user space sets it before writing the overflow entry, and recomputes
 * the hints when it compacts), so correctness never depends on the load factor and a miss costs
 * no hash lookup unless a key with the same home overflowed. A key lives in exactly one
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

#define FW_DEFINE_FT(name, slot_t, slots) FW_DEFINE_MMAP_ARRAY(name, slot_t, slots)

/* max_entries is set by user space at load (bpf_map__set_max_entries); these are defaults. */
FW_DEFINE_FT(fw_ft_allow4, struct fw_ft4_slot, FW_FT_SLOTS4_DEFAULT);
FW_DEFINE_FT(fw_ft_block4, struct fw_ft4_slot, FW_FT_SLOTS4_DEFAULT);
FW_DEFINE_FT(fw_ft_allow6, struct fw_ft6_slot, FW_FT_SLOTS6_DEFAULT);
FW_DEFINE_FT(fw_ft_block6, struct fw_ft6_slot, FW_FT_SLOTS6_DEFAULT);
/* Overflow hints: bit (home % 64) of word (home / 64); slots / 64 words per table. */
FW_DEFINE_FT(fw_ft_hint_allow4, __u64, FW_FT_SLOTS4_DEFAULT / 64);
FW_DEFINE_FT(fw_ft_hint_block4, __u64, FW_FT_SLOTS4_DEFAULT / 64);
FW_DEFINE_FT(fw_ft_hint_allow6, __u64, FW_FT_SLOTS6_DEFAULT / 64);
FW_DEFINE_FT(fw_ft_hint_block6, __u64, FW_FT_SLOTS6_DEFAULT / 64);

#define FW_FT_LOAD(x) (*(volatile typeof(x) *)&(x))

#define FW_FT_NONE  0xFFFFFFFFu /* not in the table, not in the overflow hash */
#define FW_FT_MAYBE 0xFFFFFFFEu /* not in the table; the overflow hash may hold it */

/* Each table's probe loop is a global function (verified once, on its own, and called as an
 * opaque function returning a slot index): inlined at every list check, the unrolled loop
 * was re-verified for every parse path reaching it, which made loading take ~2 s. The caller
 * then resolves the index with one inlined array lookup. */
#define FW_FT_PROBE(table, hints, bit, shiftf, slot_t, hash, match)             \
	__u32 shift = FW_FT_LOAD(fw_ft.shiftf);                                 \
	__u32 mask = (__u32)(~0ULL >> shift);                                   \
	__u32 home = hash;                                                      \
	__u32 word;                                                             \
	__u64 *h;                                                               \
	_Pragma("unroll")                                                       \
	for (int i = 0; i < FW_FT_MAX_PROBE; i++) {                             \
		__u32 idx = (home + i) & mask;                                  \
		slot_t *s = bpf_map_lookup_elem(&table, &idx);                  \
		__u32 st;                                                       \
		if (!s)                                                         \
			break;                                                  \
		st = FW_FT_LOAD(s->state);                                      \
		if (st == FW_FT_EMPTY)                                          \
			break;                                                  \
		if (st == FW_FT_USED && (match))                                \
			return idx;                                             \
	}                                                                       \
	if (FW_FT_LOAD(fw_ft.hash_skip) & (1u << (bit)))                        \
		return FW_FT_NONE;                                              \
	if (!(FW_FT_LOAD(fw_ft.hinted) & (1u << (bit))))                        \
		return FW_FT_MAYBE;                                             \
	word = home >> 6;                                                       \
	h = bpf_map_lookup_elem(&hints, &word);                                 \
	if (h && (FW_FT_LOAD(*h) >> (home & 63)) & 1)                           \
		return FW_FT_MAYBE;                                             \
	return FW_FT_NONE

#define FW_FT4_MATCH (FW_FT_LOAD(s->key) == key)
#define FW_FT6_MATCH (FW_FT_LOAD(*(__u64 *)&s->key.addr[0]) == lo && \
		      FW_FT_LOAD(*(__u64 *)&s->key.addr[8]) == hi)

/* Slot index of the key in that table, FW_FT_MAYBE or FW_FT_NONE. */
__noinline __u32 fw_ft_probe_allow4(__u32 key)
{
	FW_FT_PROBE(fw_ft_allow4, fw_ft_hint_allow4, FW_FT_ALLOW4, shift4, struct fw_ft4_slot,
		    fw_ft_hash4(key, fw_ft.seed, shift), FW_FT4_MATCH);
}
__noinline __u32 fw_ft_probe_block4(__u32 key)
{
	FW_FT_PROBE(fw_ft_block4, fw_ft_hint_block4, FW_FT_BLOCK4, shift4, struct fw_ft4_slot,
		    fw_ft_hash4(key, fw_ft.seed, shift), FW_FT4_MATCH);
}
__noinline __u32 fw_ft_probe_allow6(__u64 lo, __u64 hi)
{
	FW_FT_PROBE(fw_ft_allow6, fw_ft_hint_allow6, FW_FT_ALLOW6, shift6, struct fw_ft6_slot,
		    fw_ft_hash6(lo, hi, fw_ft.seed, shift), FW_FT6_MATCH);
}
__noinline __u32 fw_ft_probe_block6(__u64 lo, __u64 hi)
{
	FW_FT_PROBE(fw_ft_block6, fw_ft_hint_block6, FW_FT_BLOCK6, shift6, struct fw_ft6_slot,
		    fw_ft_hash6(lo, hi, fw_ft.seed, shift), FW_FT6_MATCH);
}

/* Resolving a probe: the table's slot, the overflow hash, or nothing. The two pointer kinds
 * are handed to `use` on separate paths (merged, clang folded the slot offset of &s->e into a
 * pointer shared with the hash path, which the verifier rejects). `use` is a macro argument:
 * an expression of `e` (struct fw_ip_entry *, may be NULL) yielding int. */
#define FW_FT_RESOLVE(table, hash, keyp, idx, slot_t, use)                     \
	({                                                                      \
		int __r = 0;                                                    \
		__u32 __i = (idx); /* evaluated once: it is the probe call */   \
		if (__i == FW_FT_MAYBE) {                                       \
			struct fw_ip_entry *e = bpf_map_lookup_elem(hash, keyp); \
			__r = (use);                                            \
		} else if (__i != FW_FT_NONE) {                                 \
			slot_t *__s = bpf_map_lookup_elem(&table, &__i);        \
			struct fw_ip_entry *e = __s ? &__s->e : NULL;           \
			__r = (use);                                            \
		}                                                               \
		__r;                                                            \
	})

/* use(e) on the exact entry of an IPv4 address in list `which` (a constant fw_ft_table). */
#define FW_FT4_WITH(which, hash, keyp, use)                                             \
	((which) == FW_FT_ALLOW4                                                        \
		 ? FW_FT_RESOLVE(fw_ft_allow4, hash, keyp, fw_ft_probe_allow4(*(keyp)),  \
				 struct fw_ft4_slot, use)                               \
		 : FW_FT_RESOLVE(fw_ft_block4, hash, keyp, fw_ft_probe_block4(*(keyp)),  \
				 struct fw_ft4_slot, use))

static __always_inline __u32 fw_ft6_probe(int which, const struct in6_addr *addr)
{
	__u64 lo, hi;

	__builtin_memcpy(&lo, addr, 8);
	__builtin_memcpy(&hi, (const __u8 *)addr + 8, 8);
	return which == FW_FT_ALLOW6 ? fw_ft_probe_allow6(lo, hi) : fw_ft_probe_block6(lo, hi);
}

#define FW_FT6_WITH(which, hash, addrp, use)                                            \
	({                                                                              \
		__u32 __idx = fw_ft6_probe(which, addrp);                               \
		(which) == FW_FT_ALLOW6                                                 \
			? FW_FT_RESOLVE(fw_ft_allow6, hash, addrp, __idx, struct fw_ft6_slot, use) \
			: FW_FT_RESOLVE(fw_ft_block6, hash, addrp, __idx, struct fw_ft6_slot, use); \
	})

#endif /* FW_FASTTABLE_H */
