/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Set-associative state tables of the XDP fast path: the flow table (fw_flows) and the rate
 * limiter's per-source table (fw_rl_map). Layout and hash are shared by the BPF program
 * (bpf/lib/fw_flow.h, bpf/lib/fw_ratelimit.h) and user space (src/runtime/flows.cpp,
 * src/runtime/ratelimit.cpp), plain C, so both sides find the same bucket by construction.
 *
 * Why not BPF_MAP_TYPE_LRU_HASH (what these were first): a passing packet of a tracked flow did
 * two LRU lookups (flow, limiter) at 23-33 ns each on the machines this runs on, which put the
 * all-features passing path at 2.4x xdp-filter's. An array lookup is inlined by the JIT
 * (bounds check + address computation, ~1-2 ns), so a table made of array slots costs a hash
 * (independent multiplies) and up to FW_WAYS slot compares.
 *
 * Layout: one BPF_MAP_TYPE_ARRAY (BPF_F_MMAPABLE) per table, FW_WAYS consecutive slots form a
 * bucket; bucket = top bits of a keyed hash of the key (seed drawn at load by user space, so a
 * spoofed flood cannot aim at one bucket); tag = bits 16..47 | 1, compared before the key.
 * A key lives in at most one slot of its bucket (see "duplicates" below).
 *
 * Replacement is LRU within the bucket: a new key takes an EMPTY slot of its bucket, else the
 * USED slot seen least recently (smallest last_seen_ns), and that eviction is counted
 * (fw_stats.flows_evicted, fw_stats.rl_sources_evicted). So a table is an LRU cache with
 * 4-way associativity instead of a global LRU list: with 2^16 buckets it behaves like LRU for
 * any occupancy short of full, and its pressure is measured exactly instead of estimated.
 *
 * Concurrency (any number of CPUs writing, user space writing through the mmap):
 *  - slot state EMPTY -> BUSY -> USED: a writer claims a slot with a compare-and-swap of state
 *    (EMPTY or the USED it chose as victim -> BUSY), writes tag, key and value, then stores
 *    USED with a second compare-and-swap (BUSY -> USED; a locked instruction on x86-64, a
 *    full barrier on arm64, so tag, key and value are visible before USED). A CPU that loses
 *    the claim does not insert (the flow is created by its next packet; the limiter fails
 *    open for that one packet). Readers use only USED slots whose tag and key match. Readers
 *    use plain loads: on x86-64 (TSO) a reader that sees USED sees the key written before it;
 *    on a weakly ordered CPU it could pair USED with a stale key of the previous tenant for
 *    that instant, which at worst counts one packet to the new tenant.
 *  - flow counters are plain increments (a flow is on one RX queue; see bpf/lib/fw_flow.h),
 *    token buckets and flow credits compare-and-swap; a reader that matched a slot an instant
 *    before it was evicted may add one packet to its next tenant's counters.
 *  - user space expires a slot with a 64-bit CAS {USED, tag} -> {EMPTY, tag}, so it frees
 *    the entry it judged idle and not a new tenant that took the slot meanwhile; it flips
 *    trust flags with atomic or/and and re-checks the key afterwards, undoing the change if the
 *    slot changed hands in between.
 *  - duplicates: two CPUs creating the same new flow at the same instant can both insert it;
 *    lookups then always find the first, the other ages out as the bucket's LRU victim.
 *    User-space listings merge such twins (summing their counters). */
#ifndef FW_FLOWTABLE_SHARED_H
#define FW_FLOWTABLE_SHARED_H
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "flywall/abi.h"

#define FW_WAYS 4 /* slots per bucket */
#define FW_FLOW_BUCKET_BITS 16
#define FW_RL_BUCKET_BITS   16
#if (FW_WAYS << FW_FLOW_BUCKET_BITS) != FW_FLOW_MAX || (FW_WAYS << FW_RL_BUCKET_BITS) != FW_RATE_MAX
#error "FW_FLOW_MAX / FW_RATE_MAX must be FW_WAYS buckets of 2^bits"
#endif

enum fw_slot_state {
	FW_SLOT_EMPTY = 0,
	FW_SLOT_BUSY  = 1, /* claimed by a writer, not yet complete */
	FW_SLOT_USED  = 2,
};

struct fw_flow_slot {
	__u32 state;              /* fw_slot_state */
	__u32 tag;                /* (__u32)hash | 1 */
	struct fw_flow_key key;   /* 48 bytes, 8-aligned */
	struct fw_flow_value v;   /* 48 bytes */
};

struct fw_rl_slot {
	__u32 state;
	__u32 tag;
	struct fw_rl_key key;     /* 24 bytes, 8-aligned */
	struct fw_rl_state st;    /* 64 bytes */
};

/* In the program's .bss (mmapped by the skeleton); written by user space at load only. */
struct fw_tbl_config {
	__u64 flow_seed[2];
	__u64 rl_seed[2];
};

/* Keys are read as u64 words although they are written through narrower fields: a may_alias
 * type keeps that defined under strict aliasing (BPF clang and the C++ build both use it). */
typedef __u64 __attribute__((__may_alias__)) fw_u64a;

#define FW_TBL_K1 0x9E3779B97F4A7C15ULL
#define FW_TBL_K2 0xC2B2AE3D27D4EB4FULL
#define FW_TBL_K3 0x165667B19E3779F9ULL
#define FW_TBL_K4 0xD6E8FEB86659FD93ULL
#define FW_TBL_K5 0xFF51AFD7ED558CCDULL
#define FW_TBL_K6 0xC4CEB9FE1A85EC53ULL

/* Independent multiplies of the seeded words (they issue in parallel), summed. Bit i of a
 * product depends on every input bit at or below i (the constants are odd), so the top bits,
 * the bucket, depend on the whole key; the tag takes bits 16..47. No final mixing round: it
 * cost ~1.5 ns on the trusted-flow path, and a weak tag only means a key compare more (a tag
 * is a quick reject, never a match by itself). The seeds are secret, so a flood cannot aim
 * its keys at one bucket. */
/* Words of the flow key: 0 saddr[0..8), 1 saddr[8..16), 2 daddr[0..8), 3 daddr[8..16),
 * 4 {sport, dport, proto, family, pad}, 5 {ifindex, pad2}. An IPv4 key has words 1 and 3 zero
 * (the addresses take the first 4 bytes), so IPv4 keys hash and compare words 0, 2, 4 and 5
 * only: two multiplies and four loads fewer on every tracked IPv4 packet. Word 4 holds the
 * family, so an IPv4 and an IPv6 key never compare equal. */
static inline __u64 fw_flow_hash(const struct fw_flow_key *k, const __u64 *seed)
{
	const fw_u64a *w = (const fw_u64a *)k;
	__u64 x = (w[0] ^ seed[0]) * FW_TBL_K1 + (w[2] ^ seed[0]) * FW_TBL_K3 +
		  (w[4] ^ seed[1]) * FW_TBL_K6 + (w[5] ^ seed[0]);

	if (k->family != 4)
		x += (w[1] ^ seed[1]) * FW_TBL_K2 + (w[3] ^ seed[1]) * FW_TBL_K5;
	return x;
}

/* Key equality as the table sees it (see fw_flow_hash for the IPv4 words). */
static inline int fw_flow_key_eq(const struct fw_flow_key *a, const struct fw_flow_key *b)
{
	const fw_u64a *x = (const fw_u64a *)a, *y = (const fw_u64a *)b;
	__u64 d = (x[0] ^ y[0]) | (x[2] ^ y[2]) | (x[4] ^ y[4]) | (x[5] ^ y[5]);

	if (b->family != 4)
		d |= (x[1] ^ y[1]) | (x[3] ^ y[3]);
	return d == 0;
}

static inline __u64 fw_rl_hash(const struct fw_rl_key *k, const __u64 *seed)
{
	const fw_u64a *w = (const fw_u64a *)k;
	__u64 x = (w[0] ^ seed[0]) * FW_TBL_K1 + (w[1] ^ seed[1]) * FW_TBL_K2 +
		  (w[2] ^ seed[0]) * FW_TBL_K3;
	return x;
}

/* First slot index of the key's bucket; tag to store/compare. */
static inline __u32 fw_flow_bucket(__u64 h)
{
	return (__u32)(h >> (64 - FW_FLOW_BUCKET_BITS)) * FW_WAYS;
}
static inline __u32 fw_rl_bucket(__u64 h)
{
	return (__u32)(h >> (64 - FW_RL_BUCKET_BITS)) * FW_WAYS;
}
static inline __u32 fw_tbl_tag(__u64 h)
{
	return (__u32)(h >> 16) | 1u;
}

#endif /* FW_FLOWTABLE_SHARED_H */
