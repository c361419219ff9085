/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Flow tracking and trusted-flow offload. Flows are directional 5-tuples plus the ingress
 * ifindex (IPv4 and IPv6; ICMP echo id / type-code take the port slots, non-first fragments and
 * unknown protocols have ports 0). A flow user space (or trusted_after_packets) marks trusted
 * skips the IP lists, rate limiting and DNS on later packets.
 * New flows are sampled (1 of 2^flow_sample_shift); existing flows are always updated.
 *
 * Cost choices (measured with flywall_bench; this runs for every tracked packet):
 *  - Timestamps are CLOCK_MONOTONIC_COARSE through fw_coarse_now() (fw_gcra.h): the monotonic
 *    clock as of the last timer tick, extrapolated from jiffies (resolution 1/HZ, 4 ms at
 *    HZ=250; it lags CLOCK_MONOTONIC by about one tick at most). Idle expiry works in
 *    seconds, so a tick is far below what matters, and the read costs ~1 ns where
 *    bpf_ktime_get_ns() costs ~30 ns here. last_seen is stored only when it changed (once a
 *    tick per busy flow), so most packets write only the counters.
 *  - packets/bytes stay atomic adds: measured at ~1 ns each here (uncontended; a flow is
 *    normally steered to one CPU), so exact counters cost next to nothing.
 *  - tcp_flags_seen and flags are plain stores (a lost race loses at most one OR of TCP flags
 *    or repeats an auto-trust, both harmless). */
#ifndef FW_FLOW_H
#define FW_FLOW_H

#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_parse.h"
#include "fw_events.h"
#include "fw_iplist.h" /* fw_clock */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FW_FLOW_MAX);
	__type(key, struct fw_flow_key);
	__type(value, struct fw_flow_value);
} fw_flows SEC(".maps");

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

/* Flow timestamps: CLOCK_MONOTONIC_COARSE (see the top of this file), read cheaply. */
static __always_inline __u64 fw_flow_now(void)
{
	return fw_coarse_now();
}

static __always_inline void fw_flow_touch(struct fw_flow_value *v, const struct fw_pkt *p,
					  struct fw_stats *s)
{
	__u32 after = fw_cfg.trusted_after_packets;
	__u64 now = fw_flow_now();
	__u64 packets;

	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, p->len);
	packets = v->packets;
	if (v->last_seen_ns != now)
		v->last_seen_ns = now;
	if (p->l4_proto == IPPROTO_TCP && (v->tcp_flags_seen | p->tcp_flags) != v->tcp_flags_seen)
		v->tcp_flags_seen |= p->tcp_flags;
	if (after && !(v->flags & FW_FLOW_TRUSTED) && packets >= after) {
		v->flags |= FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED;
		FW_STAT_INC(s, flows_auto_trusted);
	}
}

/* A flow seen for the first time (after the checks passed): sample, insert, announce. */
static __always_inline void fw_flow_create(struct fw_flow_key *k, const struct fw_pkt *p,
					   struct fw_stats *s, struct fw_clock *clock)
{
	__u32 shift = fw_cfg.flow_sample_shift & 31;
	struct fw_flow_value v = {};
	__u64 now;

	if (shift && (bpf_get_prandom_u32() & ((1u << shift) - 1))) {
		FW_STAT_INC(s, flows_sampled_out);
		return;
	}
	now = fw_flow_now();
	v.first_seen_ns = now;
	v.last_seen_ns = now;
	v.packets = 1;
	v.bytes = p->len;
	if (p->l4_proto == IPPROTO_TCP)
		v.tcp_flags_seen = p->tcp_flags;
	if (fw_cfg.trusted_after_packets == 1) {
		v.flags = FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED;
		FW_STAT_INC(s, flows_auto_trusted);
	}
	if (bpf_map_update_elem(&fw_flows, k, &v, BPF_NOEXIST) != 0)
		return; /* another CPU created it first */
	FW_STAT_INC(s, flows_new);
	if ((fw_cfg.features & (FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS)) ==
	    (FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS))
		fw_event_emit(s, p, FW_EV_NEW_FLOW, k->ifindex, 0, fw_now(clock));
}

#endif /* FW_FLOW_H */
