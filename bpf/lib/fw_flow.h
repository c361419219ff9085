/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Flow tracking and trusted-flow offload. The flow table is a set-associative table of array
 * slots with LRU replacement per bucket (flywall/flowtable.h; it replaced an LRU hash whose
 * lookup alone cost 33 ns of the passing path). Flows are directional 5-tuples plus the ingress
 * ifindex (IPv4 and IPv6; ICMP echo id / type-code take the port slots, non-first fragments and
 * unknown protocols have ports 0). A flow user space (or trusted_after_packets) marks trusted
 * skips the IP lists, rate limiting and DNS on later packets, as long as no list, feature or
 * limiter changed since it last passed them (trust_gen == fw_cfg.policy_gen; a stale stamp costs
 * the flow one full check, which stamps it again if it still passes).
 * New flows are sampled (1 of 2^flow_sample_shift); existing flows are always updated.
 *
 * Cost choices (measured with flywall_bench; this runs for every tracked packet):
 *  - Timestamps come from fw_fast_now() (fw_gcra.h): CLOCK_MONOTONIC as a BPF timer stored it
 *    at most ~1 ms ago, one load; bpf_ktime_get_ns() costs ~30 ns here and even
 *    bpf_jiffies64() ~5 ns. Idle expiry works in seconds, so a millisecond is far below what
 *    matters. last_seen is stored only when it changed, so most packets write only counters.
 *  - packets/bytes are plain increments, not atomic adds (those cost ~1.5 ns each on the
 *    trusted path, whose whole budget is ~25 ns above the floor): a flow arrives on one RX
 *    queue (RSS hashes the 5-tuple), so one CPU updates it at a time. Were one flow processed
 *    by two CPUs at the same instant, an increment could be lost; these are statistics (and
 *    the auto-trust threshold, which would then trip one packet late), never a verdict.
 *  - tcp_flags_seen and flags are plain stores (a lost race loses at most one OR of TCP flags
 *    or repeats an auto-trust, both harmless). */
#ifndef FW_FLOW_H
#define FW_FLOW_H

#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_parse.h"
#include "fw_events.h"
#include "fw_iplist.h" /* fw_clock */
#include "fw_table.h"

FW_DEFINE_TABLE(fw_flows, struct fw_flow_slot, FW_FLOW_MAX);

static __always_inline void fw_flow_key_fill(struct fw_flow_key *k, const struct fw_pkt *p,
					     __u32 ifindex)
{
	if (p->family == 4) {
		__builtin_memcpy(k->saddr, &p->saddr4, 4);
		__builtin_memcpy(k->daddr, &p->daddr4, 4);
	} else {
		__builtin_memcpy(k->saddr, &p->saddr6, 16);
		__builtin_memcpy(k->daddr, &p->daddr6, 16);
	}
	if (p->has_l4) {
		k->sport = p->sport;
		k->dport = p->dport;
	}
	k->proto = p->l4_proto;
	k->family = p->family;
	k->ifindex = ifindex;
}

/* Slot index of the flow, or FW_TBL_NONE. */
static __always_inline __u32 fw_flow_find_idx(const struct fw_flow_key *k, __u64 h)
{
	if (!k)
		return FW_TBL_NONE;
	FW_TBL_FIND(fw_flows, struct fw_flow_slot, fw_flow_bucket, h,
		    fw_flow_key_eq(&s->key, k));
}

/* A slot of the flow's bucket moved to BUSY for a new flow (see FW_TBL_CLAIM). */
__noinline __u32 fw_flow_claim_idx(__u64 h)
{
	FW_TBL_CLAIM(fw_flows, struct fw_flow_slot, fw_flow_bucket, h, s->v.last_seen_ns);
}

static __always_inline struct fw_flow_slot *fw_flow_find(const struct fw_flow_key *k, __u64 h)
{
	__u32 idx = fw_flow_find_idx(k, h);

	if (idx == FW_TBL_NONE)
		return NULL;
	return bpf_map_lookup_elem(&fw_flows, &idx);
}

/* Flow timestamps: CLOCK_MONOTONIC_COARSE (see the top of this file), read cheaply. */
static __always_inline __u64 fw_flow_now(void)
{
	return fw_fast_now();
}

/* The policy generation a packet is judged under: read once, before any list is consulted, so a
 * stamp never claims a newer policy than the checks saw (fw_xdp_config.policy_gen). */
static __always_inline __u32 fw_policy_gen(void)
{
	return *(volatile __u32 *)&fw_cfg.policy_gen;
}

/* Whether the flow may skip the checks: trusted, and trusted under the current policy. */
static __always_inline int fw_flow_trusted(const struct fw_flow_value *v, __u32 gen)
{
	return (v->flags & FW_FLOW_TRUSTED) && v->trust_gen == gen;
}

/* A packet of the flow passed every check under policy generation `gen` (or is on the trusted
 * path, where trust_gen already equals gen). */
static __always_inline void fw_flow_touch(struct fw_flow_value *v, const struct fw_pkt *p,
					  struct fw_stats *s, __u32 gen)
{
	__u32 after = fw_cfg.trusted_after_packets;
	__u64 now = fw_flow_now();
	__u64 packets;

	packets = v->packets + 1;
	v->packets = packets;
	v->bytes += p->len;
	if (v->last_seen_ns != now)
		v->last_seen_ns = now;
	if (p->l4_proto == IPPROTO_TCP && (v->tcp_flags_seen | p->tcp_flags) != v->tcp_flags_seen)
		v->tcp_flags_seen |= p->tcp_flags;
	if (v->trust_gen != gen)
		v->trust_gen = gen; /* plain store: a lost race only costs one more full check */
	if (after && !(v->flags & FW_FLOW_TRUSTED) && packets >= after) {
		/* atomic: user space may be flipping the trusted bit of this flow right now */
		/* 64-bit or on {flags, tcp_flags_seen, pad} (8-aligned): no 32-bit atomics in
		 * clang 14's BPF v1; the upper half is or-ed with 0 */
		__sync_fetch_and_or((__u64 *)(fw_u64a *)&v->flags, FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED);
		FW_STAT_INC(s, flows_auto_trusted);
	}
}

/* A flow seen for the first time (after the checks passed): sample, insert, announce. */
static __always_inline void fw_flow_create(struct fw_flow_key *k, __u64 h, const struct fw_pkt *p,
					   struct fw_stats *s, struct fw_clock *clock, __u32 gen)
{
	__u32 shift = fw_cfg.flow_sample_shift & 31;
	struct fw_flow_slot *slot;
	__u32 idx;
	__u64 now;

	if (shift && (bpf_get_prandom_u32() & ((1u << shift) - 1))) {
		FW_STAT_INC(s, flows_sampled_out);
		return;
	}
	idx = fw_flow_claim_idx(h);
	if (idx == FW_TBL_LOST || idx == FW_TBL_NONE) {
		FW_STAT_INC(s, flows_insert_lost);
		return;
	}
	if (idx & FW_TBL_EVICTED) {
		FW_STAT_INC(s, flows_evicted);
		idx &= ~FW_TBL_EVICTED;
	}
	slot = bpf_map_lookup_elem(&fw_flows, &idx);
	if (!slot)
		return;
	now = fw_flow_now();
	slot->tag = fw_tbl_tag(h);
	__builtin_memcpy(&slot->key, k, sizeof(*k));
	slot->v.first_seen_ns = now;
	slot->v.last_seen_ns = now;
	slot->v.packets = 1;
	slot->v.bytes = p->len;
	slot->v.tcp_flags_seen = p->l4_proto == IPPROTO_TCP ? p->tcp_flags : 0;
	slot->v.flags = 0;
	slot->v.trust_gen = gen;
	slot->v.rl_credit = 0;
	if (fw_cfg.trusted_after_packets == 1) {
		slot->v.flags = FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED;
		FW_STAT_INC(s, flows_auto_trusted);
	}
	fw_tbl_cas_state(&slot->state, FW_SLOT_BUSY, FW_SLOT_USED); /* publish (see flowtable.h) */
	FW_STAT_INC(s, flows_new);
	if ((fw_cfg.features & (FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS)) ==
	    (FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS))
		fw_event_emit(s, p, FW_EV_NEW_FLOW, k->ifindex, 0, fw_now(clock));
}

#endif /* FW_FLOW_H */
