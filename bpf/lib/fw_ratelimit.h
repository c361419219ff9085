/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Per-source rate limiting: GCRA token buckets (fw_gcra.h) for packets/s, bytes/s and optional
 * separate limits for TCP SYN (without ACK), ICMP/ICMPv6 and UDP. Sources are IPv4 addresses and
 * IPv6 prefixes (rl_ipv6_prefix_len, default /64). State lives in its own LRU map so a flood of
 * spoofed sources evicts only limiter state, never list entries.
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FW_RATE_MAX);
	__type(key, struct fw_rl_key);
	__type(value, struct fw_rl_state);
} fw_rl_map SEC(".maps");

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

/* Returns 1 when the packet is over a limit (caller drops it). Clocks: buckets with a window
 * of at least FW_COARSE_MIN_WINDOW_TICKS ticks use the cheap coarse clock, shorter ones the
 * exact one (read at most once per packet, through `clock`); see fw_gcra.h. */
static __always_inline int fw_ratelimit(const struct fw_pkt *p, struct fw_stats *s,
					struct fw_clock *clock, __u32 ifindex)
{
	struct fw_rl_key key = {};
	struct fw_rl_state *st;
	__u64 coarse, now;
	__u32 reason;
	int over = 0;

	if (!fw_rl_any_limit())
		return 0;
	fw_rl_key_fill(&key, p);
	st = bpf_map_lookup_elem(&fw_rl_map, &key);
	if (!st) {
		struct fw_rl_state zero = {};
		/* NOEXIST: if another CPU inserted it first, keep its state. */
		if (bpf_map_update_elem(&fw_rl_map, &key, &zero, BPF_NOEXIST) == 0)
			FW_STAT_INC(s, rl_sources_new);
		st = bpf_map_lookup_elem(&fw_rl_map, &key);
		if (!st)
			return 0; /* map full of in-flight inserts: fail open */
	}
	coarse = fw_coarse_now();

	if (p->l4_proto == IPPROTO_TCP && p->has_l4 &&
	    (p->tcp_flags & (FW_TCP_SYN | FW_TCP_ACK)) == FW_TCP_SYN && fw_cfg.rl_syn_pps) {
		if (!fw_bucket_take_auto(&st->syn.tat_ns, 1, fw_cfg.rl_syn_pps, fw_cfg.rl_syn_burst, coarse,
					 fw_now(clock))) {
			FW_STAT_INC(s, rl_limited_syn);
			reason = FW_RL_SYN;
			over = 1;
		}
	} else if ((p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6) &&
		   fw_cfg.rl_icmp_pps) {
		if (!fw_bucket_take_auto(&st->icmp.tat_ns, 1, fw_cfg.rl_icmp_pps,
					 fw_cfg.rl_icmp_burst, coarse, fw_now(clock))) {
			FW_STAT_INC(s, rl_limited_icmp);
			reason = FW_RL_ICMP;
			over = 1;
		}
	} else if (p->l4_proto == IPPROTO_UDP && fw_cfg.rl_udp_pps) {
		if (!fw_bucket_take_auto(&st->udp.tat_ns, 1, fw_cfg.rl_udp_pps, fw_cfg.rl_udp_burst, coarse,
					 fw_now(clock))) {
			FW_STAT_INC(s, rl_limited_udp);
			reason = FW_RL_UDP;
			over = 1;
		}
	}
	if (!over && fw_cfg.rl_pps &&
	    !fw_bucket_take_auto(&st->pkt.tat_ns, 1, fw_cfg.rl_pps, fw_cfg.rl_burst_packets, coarse,
				 fw_now(clock))) {
		reason = FW_RL_PACKETS;
		over = 1;
	}
	if (!over && fw_cfg.rl_bps &&
	    !fw_bucket_take_auto(&st->byte.tat_ns, p->len, fw_cfg.rl_bps, fw_cfg.rl_burst_bytes, coarse,
				 fw_now(clock))) {
		reason = FW_RL_BYTES;
		over = 1;
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
