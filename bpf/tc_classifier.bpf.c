/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* TC classifier (clsact ingress/egress, direct action): flow state, QoS classification and
 * inline IPS with a per-flow verdict cache. Logic lives in bpf/lib/fw_tc_*.h. The entry function
 * times 1 packet in 2^fw_tc_cfg.time_sample_shift around the body (fw_tc_stats.timed_*). */
#include "fw_common.h"
#include "fw_parse.h"
#include "fw_tc_maps.h"
#include "fw_tc_flow.h"
#include "fw_tc_qos.h"
#include "fw_tc_ips.h"
#include "fw_selftime.h"

static __always_inline int fw_tc_pass(struct fw_tc_stats *s)
{
	FW_TC_STAT_INC(s, passed);
	return fw_tc_cfg.pass_unspec ? TC_ACT_UNSPEC : TC_ACT_OK;
}

static __always_inline int fw_tc_shot(struct fw_tc_stats *s)
{
	FW_TC_STAT_INC(s, shot);
	return TC_ACT_SHOT;
}

static __always_inline void fw_tc_emit(const struct fw_pkt *p, const struct fw_ips_result *sc,
				       __u32 type, __u32 ifindex, __u64 now, struct fw_tc_stats *s)
{
	struct fw_tc_event *e = bpf_ringbuf_reserve(&tc_events, sizeof(*e), 0);

	if (!e) {
		FW_TC_STAT_INC(s, events_ring_full);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->type = type;
	e->pattern_id = sc->pattern_id;
	e->ifindex = ifindex;
	e->payload_offset = sc->offset;
	e->family = p->family;
	e->proto = p->l4_proto;
	e->sport = p->sport;
	e->dport = p->dport;
	if (p->family == 4) {
		__builtin_memcpy(e->saddr, &p->saddr4, 4);
		__builtin_memcpy(e->daddr, &p->daddr4, 4);
	} else {
		__builtin_memcpy(e->saddr, &p->saddr6, 16);
		__builtin_memcpy(e->daddr, &p->daddr6, 16);
	}
	bpf_ringbuf_submit(e, 0);
	FW_TC_STAT_INC(s, events_emitted);
}

/* Applies the class of rule `idx` to the packet. Returns 1 when packet pointers were
 * invalidated (DSCP rewritten). */
static __always_inline int fw_tc_apply_qos(struct __sk_buff *skb, const struct fw_pkt *p,
					   __u32 idx, __u8 dscp, struct fw_tc_flow *f,
					   struct fw_tc_stats *s)
{
	struct fw_qos_rule *r = bpf_map_lookup_elem(&tc_qos_rules, &idx);
	struct fw_qos_class_stats *cs;
	__u32 prio;

	if (!r)
		return 0;
	prio = r->priority ? r->priority : r->classid;
	skb->tc_classid = r->classid;
	skb->priority = prio;
	FW_TC_STAT_INC(s, qos_classified);
	cs = bpf_map_lookup_elem(&tc_qos_stats, &idx);
	if (cs) {
		cs->packets++;
		cs->bytes += skb->len;
	}
	if (f) {
		f->qos_classid = r->classid;
		f->qos_priority = prio;
	}
	if ((r->flags & FW_QOS_SET_DSCP) && r->set_dscp != dscp) {
		if (fw_qos_set_dscp(skb, p, r->set_dscp) == 0)
			FW_TC_STAT_INC(s, qos_dscp_rewritten);
		else
			FW_TC_STAT_INC(s, qos_rewrite_failed);
		return 1;
	}
	return 0;
}

/* Everything after the stats lookup and the `packets` count: the part that is timed. */
static __always_inline int fw_tc_body(struct __sk_buff *skb, struct fw_tc_stats *s, __u32 features)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct fw_tc_flow *f = NULL;
	struct fw_pkt pkt = {};
	__u64 now;

	FW_TC_STAT_ADD(s, bytes, skb->len);

	if (fw_parse(&pkt, data, data_end) != FW_PARSE_OK) {
		FW_TC_STAT_INC(s, malformed);
		return fw_tc_pass(s);
	}
	if (pkt.family != 4 && pkt.family != 6) {
		FW_TC_STAT_INC(s, non_ip);
		return fw_tc_pass(s);
	}
	if (!(features & (FW_TC_F_FLOWS | FW_TC_F_QOS | FW_TC_F_IPS)))
		return fw_tc_pass(s);
	now = bpf_ktime_get_ns();

	if (features & FW_TC_F_FLOWS) {
		f = fw_tc_flow_track(&pkt, skb->ifindex, skb->len, now, s);
		if (f && f->verdict == FW_TC_VERDICT_DROP) {
			if (fw_ips_verdict_holds(f, features)) {
				FW_TC_STAT_INC(s, ips_cached_drops);
				return fw_tc_shot(s);
			}
			f->verdict = FW_TC_VERDICT_NONE; /* its pattern is gone, changed, or IPS is off */
		}
	}

	if ((features & FW_TC_F_IPS) && fw_tc_cfg.ips_pattern_count) {
		struct fw_ips_result sc = {};
		__u32 scanned = fw_ips_scan(skb, &pkt, &sc, fw_tc_cfg.ips_scan_bytes,
					    fw_tc_cfg.ips_pattern_count);
		if (scanned) {
			FW_TC_STAT_INC(s, ips_scanned);
			FW_TC_STAT_ADD(s, ips_bytes_scanned, scanned);
		}
		if (sc.action == FW_IPS_DROP) {
			FW_TC_STAT_INC(s, ips_drops);
			if (f) {
				f->verdict = FW_TC_VERDICT_DROP;
				f->ips_pattern_id = sc.pattern_id;
				f->ips_pattern_slot = sc.slot;
			}
			if (features & FW_TC_F_EVENTS)
				fw_tc_emit(&pkt, &sc, FW_TC_EV_IPS_DROP, skb->ifindex, now, s);
			return fw_tc_shot(s);
		}
		if (sc.action == FW_IPS_ALERT) {
			FW_TC_STAT_INC(s, ips_alerts);
			if (f)
				__sync_fetch_and_add(&f->ips_alerts, 1);
			if (features & FW_TC_F_EVENTS)
				fw_tc_emit(&pkt, &sc, FW_TC_EV_IPS_ALERT, skb->ifindex, now, s);
		}
	}

	/* last: a DSCP rewrite invalidates the packet pointers */
	if ((features & FW_TC_F_QOS) && fw_tc_cfg.qos_rule_count) {
		__u32 gen = fw_tc_cfg.qos_generation;
		__u8 dscp = fw_pkt_dscp(&pkt);
		__s32 idx;

		if (f && f->qos_generation == gen && gen != 0) {
			FW_TC_STAT_INC(s, qos_cache_hits);
			idx = (__s32)f->qos_rule - 1;
		} else {
			idx = fw_qos_classify(&pkt, dscp, fw_tc_cfg.qos_rule_count);
			if (f) {
				f->qos_rule = (__u16)(idx + 1);
				f->qos_generation = gen;
				if (idx < 0) {
					f->qos_classid = 0;
					f->qos_priority = 0;
				}
			}
		}
		if (idx >= 0 && idx < FW_QOS_RULES_MAX)
			fw_tc_apply_qos(skb, &pkt, (__u32)idx, dscp, f, s);
	}
	return fw_tc_pass(s);
}

SEC("tc")
int tc_classifier(struct __sk_buff *skb)
{
	__u32 features = fw_tc_cfg.features;
	struct fw_tc_stats *s = NULL;
	__u32 zero = 0;
	__u64 t0 = 0;
	int action;

	if (features & FW_TC_F_STATS)
		s = bpf_map_lookup_elem(&tc_stats, &zero);
	/* Self-timing (bpf/lib/fw_selftime.h); one call of the body, as in xdp_blocklist. */
	if (s) {
		s->packets++;
		if (fw_time_this_packet(s->packets, fw_tc_cfg.time_sample_shift))
			t0 = bpf_ktime_get_ns();
	}
	action = fw_tc_body(skb, s, features);
	if (t0 && s)
		FW_TIME_ACCOUNT(s, bpf_ktime_get_ns() - t0);
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
