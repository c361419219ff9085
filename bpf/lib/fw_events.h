/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Ring-buffer events (blocked IPs, blocked domains, rate-limit trips, new flows).
 * Every event that is not delivered is counted in fw_stats, by cause:
 *   events_sampled_out          1 of 2^event_sample_shift is kept
 *   events_suppressed_rate      the global cap (max_events_per_sec, event_burst; GCRA bucket)
 *   events_suppressed_ring_full bpf_ringbuf_reserve failed (the reader is behind)
 *   events_emitted              submitted to the ring */
#ifndef FW_EVENTS_H
#define FW_EVENTS_H

#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_gcra.h"
#include "fw_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FW_EVENTS_RING_BYTES);
} fw_events SEC(".maps");

/* State of the global event cap (theoretical arrival time); user space may reset it to 0. */
__u64 fw_event_tat;

static __always_inline struct fw_event *fw_event_reserve(struct fw_stats *s, __u64 now)
{
	__u32 shift = fw_cfg.event_sample_shift & 31;
	__u64 rate = fw_cfg.max_events_per_sec;
	struct fw_event *e;

	if (shift && (bpf_get_prandom_u32() & ((1u << shift) - 1))) {
		FW_STAT_INC(s, events_sampled_out);
		return NULL;
	}
	if (rate && !fw_bucket_take(&fw_event_tat, now, 1, rate, fw_cfg.event_burst)) {
		FW_STAT_INC(s, events_suppressed_rate);
		return NULL;
	}
	e = bpf_ringbuf_reserve(&fw_events, sizeof(*e), 0);
	if (!e) {
		FW_STAT_INC(s, events_suppressed_ring_full);
		return NULL;
	}
	return e;
}

/* Fills the packet fields of a reserved event (name empty). */
static __always_inline void fw_event_fill(struct fw_event *e, const struct fw_pkt *p, __u32 type,
					  __u32 ifindex, __u32 reason, __u64 now)
{
	e->ts_ns = now;
	e->type = type;
	e->ifindex = ifindex;
	e->family = p->family;
	e->proto = p->l4_proto;
	e->sport = p->sport;
	e->dport = p->dport;
	e->name_len = 0;
	e->reason = reason;
	e->pad = 0;
	e->name[0] = 0;
	if (p->family == 4) {
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		__builtin_memcpy(e->saddr, &p->saddr4, 4);
		__builtin_memcpy(e->daddr, &p->daddr4, 4);
	} else {
		__builtin_memcpy(e->saddr, &p->saddr6, 16);
		__builtin_memcpy(e->daddr, &p->daddr6, 16);
	}
}

static __always_inline void fw_event_submit(struct fw_event *e, struct fw_stats *s)
{
	bpf_ringbuf_submit(e, 0);
	FW_STAT_INC(s, events_emitted);
}

/* An event without a name, in one call. */
static __always_inline void fw_event_emit(struct fw_stats *s, const struct fw_pkt *p, __u32 type,
					  __u32 ifindex, __u32 reason, __u64 now)
{
	struct fw_event *e = fw_event_reserve(s, now);

	if (!e)
		return;
	fw_event_fill(e, p, type, ifindex, reason, now);
	fw_event_submit(e, s);
}

#endif /* FW_EVENTS_H */
