/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* BPF side of the set-associative state tables (layout, hash and the concurrency argument:
 * bpf/include/flywall/flowtable.h). The find and claim loops are global functions: verified
 * once on their own instead of once for every parse path that reaches them, and called as
 * opaque functions returning a slot index that the caller resolves with one inlined array
 * lookup. */
#ifndef FW_TABLE_H
#define FW_TABLE_H

#include "fw_common.h"
#include "flywall/flowtable.h"

/* Seeds, written by user space at load (mmapped .bss). */
struct fw_tbl_config fw_tbl;

#define FW_TBL_LOAD(x) (*(volatile typeof(x) *)&(x))
#define FW_TBL_STORE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/* Results of the find / claim functions besides a slot index. */
#define FW_TBL_NONE    0xFFFFFFFFu /* not found / no claimable slot (all BUSY) */
#define FW_TBL_LOST    0xFFFFFFFEu /* another CPU claimed the chosen slot first */
#define FW_TBL_EVICTED 0x80000000u /* or-ed into a claimed index: a USED entry was replaced */

/* Compare-and-swap of a slot's state word. clang 14 emits no 32-bit BPF atomics without
 * -mcpu=v3, so this swaps the u64 {state, tag} (state is the low half on little-endian BPF)
 * and keeps the tag as it was read. */
static __always_inline int fw_tbl_cas_state(__u32 *state, __u32 from, __u32 to)
{
	fw_u64a *w = (fw_u64a *)state;
	__u64 old = *(volatile fw_u64a *)w;

	if ((__u32)old != from)
		return 0;
	return __sync_val_compare_and_swap((__u64 *)w, old, (old & 0xFFFFFFFF00000000ULL) | to) == old;
}

/* The table map of one slot type. */
#define FW_DEFINE_TABLE(name, slot_t, slots) FW_DEFINE_MMAP_ARRAY(name, slot_t, slots)

/* Body of a find function: index of the USED slot holding *k in the bucket of h. `eq` is an
 * expression of s (slot pointer) and k. */
#define FW_TBL_FIND(table, slot_t, bucket, h, eq)                          \
	__u32 base = bucket(h);                                            \
	__u32 tag = fw_tbl_tag(h);                                         \
	_Pragma("unroll")                                                  \
	for (int i = 0; i < FW_WAYS; i++) {                                \
		__u32 idx = base + i;                                      \
		slot_t *s = bpf_map_lookup_elem(&table, &idx);             \
		if (!s)                                                    \
			break;                                             \
		if (FW_TBL_LOAD(s->tag) == tag &&                          \
		    FW_TBL_LOAD(s->state) == FW_SLOT_USED && (eq))         \
			return idx;                                        \
	}                                                                  \
	return FW_TBL_NONE

/* Body of a claim function: moves an EMPTY slot of the bucket, else the USED slot whose
 * `age` (an expression of s: its last-seen time) is smallest, to BUSY with a compare-and-swap
 * and returns its index (| FW_TBL_EVICTED when it held an entry). The caller fills it and
 * publishes it with fw_tbl_publish(). */
#define FW_TBL_CLAIM(table, slot_t, bucket, h, age)                        \
	__u32 base = bucket(h);                                            \
	__u32 best = FW_TBL_NONE, best_state = FW_SLOT_EMPTY;              \
	__u64 oldest = ~0ULL;                                              \
	slot_t *v = NULL;                                                  \
	_Pragma("unroll")                                                  \
	for (int i = 0; i < FW_WAYS; i++) {                                \
		__u32 idx = base + i;                                      \
		slot_t *s = bpf_map_lookup_elem(&table, &idx);             \
		__u32 st;                                                  \
		if (!s)                                                    \
			break;                                             \
		st = FW_TBL_LOAD(s->state);                                \
		if (st == FW_SLOT_EMPTY) {                                 \
			best = idx;                                        \
			best_state = FW_SLOT_EMPTY;                        \
			break;                                             \
		}                                                          \
		if (st == FW_SLOT_USED && (age) < oldest) {                \
			oldest = (age);                                    \
			best = idx;                                        \
			best_state = FW_SLOT_USED;                         \
		}                                                          \
	}                                                                  \
	if (best == FW_TBL_NONE)                                           \
		return FW_TBL_NONE;                                        \
	v = bpf_map_lookup_elem(&table, &best);                            \
	if (!v)                                                            \
		return FW_TBL_NONE;                                        \
	if (!fw_tbl_cas_state(&v->state, best_state, FW_SLOT_BUSY))       \
		return FW_TBL_LOST;                                        \
	return best_state == FW_SLOT_USED ? best | FW_TBL_EVICTED : best

/* Six (flow) or three (limiter) u64 words compared without branches. */
static __always_inline int fw_words_eq(const fw_u64a *a, const fw_u64a *b, int n)
{
	__u64 d = 0;

	_Pragma("unroll")
	for (int i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

#endif /* FW_TABLE_H */
