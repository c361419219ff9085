/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Per-source rate limiting: GCRA token buckets (fw_gcra.h) for packets/s, bytes/s and optional
 * separate limits for TCP SYN (without ACK), ICMP/ICMPv6 and UDP. Sources are IPv4 addresses and
 * IPv6 prefixes (rl_ipv6_prefix_len, default /64). State lives in its own table (set-associative,
 * LRU replacement per bucket: flywall/flowtable.h) so a flood of spoofed sources evicts only
 * limiter state, never list entries; an evicted source starts again with full buckets.
 * Buckets are charged in order protocol -> packets -> bytes; a packet rejected by a later
 * bucket has already been charged to the earlier ones (it did arrive). */
#ifndef FW_RATELIMIT_H
#define FW_RATELIMIT_H

#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_parse.h"
#include "fw_gcra.h"
#include "fw_events.h"
#include "fw_iplist.h" /* fw_clock */
#include "fw_table.h"

FW_DEFINE_TABLE(fw_rl_map, struct fw_rl_slot, FW_RATE_MAX);

/* Per-CPU cache of the buckets' derived parameters (fw_gcra.h). */
struct fw_rl_params {
	struct fw_bucket_params pkt, byte, syn, icmp, udp;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_rl_params);
} fw_rl_params_map SEC(".maps");

static __always_inline __u32 fw_rl_find_idx(const struct fw_rl_key *k, __u64 h)
{
	if (!k)
		return FW_TBL_NONE;
	FW_TBL_FIND(fw_rl_map, struct fw_rl_slot, fw_rl_bucket, h,
		    fw_words_eq((const fw_u64a *)&s->key, (const fw_u64a *)k, 3));
}

__noinline __u32 fw_rl_claim_idx(__u64 h)
{
	FW_TBL_CLAIM(fw_rl_map, struct fw_rl_slot, fw_rl_bucket, h, s->st.last_seen_ns);
}

/* The source's state, inserted (full buckets) when new; NULL when a concurrent insert into the
 * same bucket won the slot (the caller fails open for this one packet). */
static __always_inline struct fw_rl_state *fw_rl_get(const struct fw_rl_key *k, struct fw_stats *s,
						     __u64 now)
{
	__u64 h = fw_rl_hash(k, fw_tbl.rl_seed);
	struct fw_rl_slot *slot;
	__u32 idx = fw_rl_find_idx(k, h);

	if (idx != FW_TBL_NONE) {
		slot = bpf_map_lookup_elem(&fw_rl_map, &idx);
		if (!slot)
			return NULL;
		if (slot->st.last_seen_ns != now)
			slot->st.last_seen_ns = now;
		return &slot->st;
	}
	idx = fw_rl_claim_idx(h);
	if (idx == FW_TBL_NONE || idx == FW_TBL_LOST)
		return NULL;
	if (idx & FW_TBL_EVICTED) {
		FW_STAT_INC(s, rl_sources_evicted);
		idx &= ~FW_TBL_EVICTED;
	}
	slot = bpf_map_lookup_elem(&fw_rl_map, &idx);
	if (!slot)
		return NULL;
	slot->tag = fw_tbl_tag(h);
	__builtin_memcpy(&slot->key, k, sizeof(*k));
	__builtin_memset(&slot->st, 0, sizeof(slot->st));
	slot->st.last_seen_ns = now;
	fw_tbl_cas_state(&slot->state, FW_SLOT_BUSY, FW_SLOT_USED); /* publish (see flowtable.h) */
	FW_STAT_INC(s, rl_sources_new);
	return &slot->st;
}

#define FW_TCP_SYN 0x02
#define FW_TCP_ACK 0x10

static __always_inline __u64 fw_prefix_mask64(__u32 bits)
{
	if (bits >= 64)
		return ~0ULL;
	if (bits == 0)
		return 0;
	return ~0ULL << (64 - bits);
}

static __always_inline void fw_rl_key_fill(struct fw_rl_key *k, const struct fw_pkt *p)
{
	if (p->family == 4) {
		k->family = 4;
		__builtin_memcpy(k->addr, &p->saddr4, 4);
	} else {
		__u32 plen = fw_cfg.rl_ipv6_prefix_len;
		__u64 hi, lo;

		if (plen > 128)
			plen = 128;
		__builtin_memcpy(&hi, &p->saddr6, 8);
		__builtin_memcpy(&lo, (__u8 *)&p->saddr6 + 8, 8);
		hi &= bpf_cpu_to_be64(fw_prefix_mask64(plen));
		lo &= bpf_cpu_to_be64(fw_prefix_mask64(plen > 64 ? plen - 64 : 0));
		k->family = 6;
		__builtin_memcpy(k->addr, &hi, 8);
		__builtin_memcpy(k->addr + 8, &lo, 8);
	}
}

static __always_inline int fw_rl_any_limit(void)
{
	return fw_cfg.rl_pps || fw_cfg.rl_bps || fw_cfg.rl_syn_pps || fw_cfg.rl_icmp_pps ||
	       fw_cfg.rl_udp_pps;
}

/* fw_flow_value.rl_credit: bits 0..21 bytes, 22..27 packets (a batch is at most 64, so at
 * most 63 are left as credit, of at most 63 x 65535 < 2^22 bytes), 28..63 the expiry in
 * units of 2^20 ns of the fast clock (36 bits: wraps after 2.3 years; compared modulo). */
#define FW_CR_BYTES_MASK ((1ULL << 22) - 1)
#define FW_CR_PKTS_SHIFT 22
#define FW_CR_PKTS_MASK  63ULL
#define FW_CR_EXP_SHIFT  28
#define FW_CR_EXP_MASK   ((1ULL << 36) - 1)
#define FW_CR_TIME_SHIFT 20

/* Credit with packets left that has not expired at `now` (fast clock). */
static __always_inline int fw_credit_live(__u64 c, __u64 now)
{
	__u64 left = ((c >> FW_CR_EXP_SHIFT) - (now >> FW_CR_TIME_SHIFT)) & FW_CR_EXP_MASK;

	return ((c >> FW_CR_PKTS_SHIFT) & FW_CR_PKTS_MASK) && left && left < (FW_CR_EXP_MASK >> 1);
}

/* Charges `n` units (a batch) to a bucket, falling back to one unit when the batch does not
 * fit; *n becomes what was charged, 0 when even one unit did not fit (over the limit). */
#define FW_RL_CHARGE(tat_p, n, unit_len, bp, coarse, clock)                                     \
	({                                                                                      \
		if (!fw_bucket_take_p((tat_p), (n) * (unit_len), (bp), (coarse), fw_now(clock))) \
			(n) = (n) > 1 && fw_bucket_take_p((tat_p), (unit_len), (bp), (coarse),  \
							  fw_now(clock)) ? 1 : 0;       \
		(n);                                                                            \
	})

/* Returns 1 when the packet is over a limit (caller drops it). Clocks: buckets with a window
 * of at least FW_COARSE_MIN_WINDOW_TICKS ticks use the cheap coarse clock, shorter ones the
 * exact one (read at most once per packet, through `clock`); see fw_gcra.h.
 *
 * Batched charging for tracked flows (`flow` non-NULL): instead of charging the source's
 * buckets one packet at a time, a flow charges a batch of packets at once and keeps the rest
 * as credit in its slot (fw_flow_value.rl_credit); its next packets pass on that credit with
 * one compare-and-swap instead of the limiter's lookups and bucket updates.
 *  - batch = min(64, burst/16 of every bucket that applies (bytes/s: in packets of this
 *    size), packets the flow has had so far): the last term ramps a new flow up 1, 2, 4, ...
 *    so short flows (one request, one answer) do not charge tokens they never use;
 *  - credit expires window/16 after it was charged (the shortest window of those buckets),
 *    so flows cannot bank tokens while they are idle: in any interval W a source passes at
 *    most what its buckets allow over W plus that expiry, i.e. burst + rate x (W + window/16)
 *    instead of burst + rate x W; windows under 16 ms (expiry under 1 ms) are never batched;
 *  - tokens are charged before they are used, so credit a flow does not use (it ended, its
 *    packets grew, or a batch fitted one bucket but only one packet fitted the next) is lost:
 *    a source can be held somewhat below its rate, by at most one batch per flow, never
 *    above it; credit two CPUs store at once is merged (capped at 63 packets);
 *  - a reader that matched a flow slot an instant before it was replaced can spend or store
 *    credit in the new tenant's slot (at most one batch per such race).
 * TCP SYNs are never batched (their bucket counts connection attempts). */
static __always_inline int fw_ratelimit(const struct fw_pkt *p, struct fw_stats *s,
					struct fw_clock *clock, __u32 ifindex,
					struct fw_flow_value *flow)
{
	struct fw_rl_key key = {};
	struct fw_rl_state *st;
	struct fw_rl_params *pr;
	__u32 zero = 0;
	__u64 coarse, now, n = 1, len = p->len, ttl = ~0ULL;
	__u32 reason = 0;
	int over = 0;
	int syn = p->l4_proto == IPPROTO_TCP && p->has_l4 &&
		  (p->tcp_flags & (FW_TCP_SYN | FW_TCP_ACK)) == FW_TCP_SYN;

	if (!fw_rl_any_limit())
		return 0;
	coarse = fw_fast_now();
	if (flow && !syn) {
		/* two tries: another CPU spending from the same flow makes the first CAS fail */
		_Pragma("unroll")
		for (int i = 0; i < 2; i++) {
			__u64 c = FW_TBL_LOAD(flow->rl_credit);

			if (!fw_credit_live(c, coarse) || (c & FW_CR_BYTES_MASK) < len)
				break;
			if (__sync_val_compare_and_swap(&flow->rl_credit, c,
							c - (1ULL << FW_CR_PKTS_SHIFT) - len) == c) {
				FW_STAT_INC(s, rl_batched);
				return 0;
			}
		}
	}
	fw_rl_key_fill(&key, p);
	st = fw_rl_get(&key, s, coarse);
	if (!st)
		return 0; /* lost an insert race for this source's slot: fail open, once */
	pr = bpf_map_lookup_elem(&fw_rl_params_map, &zero);
	if (!pr)
		return 0;

	if (flow && !syn && len) {
		n = flow->packets < FW_RL_BATCH_MAX ? flow->packets : FW_RL_BATCH_MAX;
		if ((p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6) && fw_cfg.rl_icmp_pps) {
			fw_bucket_params_refresh(&pr->icmp, fw_cfg.rl_icmp_pps, fw_cfg.rl_icmp_burst);
			n = pr->icmp.batch < n ? pr->icmp.batch : n;
			ttl = pr->icmp.window_ns < ttl ? pr->icmp.window_ns : ttl;
		} else if (p->l4_proto == IPPROTO_UDP && fw_cfg.rl_udp_pps) {
			fw_bucket_params_refresh(&pr->udp, fw_cfg.rl_udp_pps, fw_cfg.rl_udp_burst);
			n = pr->udp.batch < n ? pr->udp.batch : n;
			ttl = pr->udp.window_ns < ttl ? pr->udp.window_ns : ttl;
		}
		if (fw_cfg.rl_pps) {
			fw_bucket_params_refresh(&pr->pkt, fw_cfg.rl_pps, fw_cfg.rl_burst_packets);
			n = pr->pkt.batch < n ? pr->pkt.batch : n;
			ttl = pr->pkt.window_ns < ttl ? pr->pkt.window_ns : ttl;
		}
		if (fw_cfg.rl_bps && n > 1) {
			__u64 nb;

			fw_bucket_params_refresh(&pr->byte, fw_cfg.rl_bps, fw_cfg.rl_burst_bytes);
			nb = pr->byte.batch / len;
			n = nb < n ? nb : n;
			ttl = pr->byte.window_ns < ttl ? pr->byte.window_ns : ttl;
		}
		ttl = (ttl / FW_RL_BATCH_DIV) >> FW_CR_TIME_SHIFT; /* in 2^20 ns units */
		if (!n || !ttl)
			n = 1;
	}

	if (syn && fw_cfg.rl_syn_pps) {
		fw_bucket_params_refresh(&pr->syn, fw_cfg.rl_syn_pps, fw_cfg.rl_syn_burst);
		if (!fw_bucket_take_p(&st->syn.tat_ns, 1, &pr->syn, coarse, fw_now(clock))) {
			FW_STAT_INC(s, rl_limited_syn);
			reason = FW_RL_SYN;
			over = 1;
		}
	} else if ((p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6) &&
		   fw_cfg.rl_icmp_pps) {
		fw_bucket_params_refresh(&pr->icmp, fw_cfg.rl_icmp_pps, fw_cfg.rl_icmp_burst);
		if (!FW_RL_CHARGE(&st->icmp.tat_ns, n, 1, &pr->icmp, coarse, clock)) {
			FW_STAT_INC(s, rl_limited_icmp);
			reason = FW_RL_ICMP;
			over = 1;
		}
	} else if (p->l4_proto == IPPROTO_UDP && fw_cfg.rl_udp_pps) {
		fw_bucket_params_refresh(&pr->udp, fw_cfg.rl_udp_pps, fw_cfg.rl_udp_burst);
		if (!FW_RL_CHARGE(&st->udp.tat_ns, n, 1, &pr->udp, coarse, clock)) {
			FW_STAT_INC(s, rl_limited_udp);
			reason = FW_RL_UDP;
			over = 1;
		}
	}
	if (!over && fw_cfg.rl_pps) {
		fw_bucket_params_refresh(&pr->pkt, fw_cfg.rl_pps, fw_cfg.rl_burst_packets);
		if (!FW_RL_CHARGE(&st->pkt.tat_ns, n, 1, &pr->pkt, coarse, clock)) {
			reason = FW_RL_PACKETS;
			over = 1;
		}
	}
	if (!over && fw_cfg.rl_bps) {
		fw_bucket_params_refresh(&pr->byte, fw_cfg.rl_bps, fw_cfg.rl_burst_bytes);
		if (!FW_RL_CHARGE(&st->byte.tat_ns, n, len, &pr->byte, coarse, clock)) {
			reason = FW_RL_BYTES;
			over = 1;
		}
	}
	if (!over && n > 1 && flow) {
		/* Store the new credit, merged with live credit another CPU stored meanwhile (capped
		 * at the field sizes; the merged credit takes the later expiry). Two tries, then the
		 * new credit is given up (lost, never double-counted). */
		__u64 exp = ((coarse >> FW_CR_TIME_SHIFT) + ttl) & FW_CR_EXP_MASK;

		_Pragma("unroll")
		for (int i = 0; i < 2; i++) {
			__u64 old = FW_TBL_LOAD(flow->rl_credit);
			__u64 pk = n - 1, by = (n - 1) * len;

			if (fw_credit_live(old, coarse)) {
				pk += (old >> FW_CR_PKTS_SHIFT) & FW_CR_PKTS_MASK;
				by += old & FW_CR_BYTES_MASK;
				pk = pk > FW_CR_PKTS_MASK ? FW_CR_PKTS_MASK : pk;
				by = by > FW_CR_BYTES_MASK ? FW_CR_BYTES_MASK : by;
			}
			if (__sync_val_compare_and_swap(&flow->rl_credit, old,
							(exp << FW_CR_EXP_SHIFT) |
								(pk << FW_CR_PKTS_SHIFT) | by) == old)
				break;
		}
	}
	if (!over)
		return 0;

	__sync_fetch_and_add(&st->limited, 1);
	FW_STAT_INC(s, rl_limited);
	/* One event per source per second: a flood must not spend the whole event budget. */
	now = coarse;
	if ((fw_cfg.features & FW_F_EVENTS) && now - st->last_event_ns >= FW_NSEC_PER_SEC) {
		st->last_event_ns = now;
		fw_event_emit(s, p, FW_EV_RATE_LIMITED, ifindex, reason, fw_now(clock));
	}
	return 1;
}

#endif /* FW_RATELIMIT_H */
