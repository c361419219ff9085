/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* QoS classification: the first matching rule (proto, port ranges, DSCP) gives the packet a
 * class: skb->tc_classid (read by a cls_bpf filter in direct-action mode on HTB) and
 * skb->priority (read by HTB when the program runs on clsact egress), and optionally rewrites
 * the DSCP (IPv4 header checksum fixed incrementally). The result is cached per flow and
 * invalidated by fw_tc_config.qos_generation. */
#ifndef FW_TC_QOS_H
#define FW_TC_QOS_H

#include "fw_tc_maps.h"
#include "fw_parse.h"

/* Ethernet + two VLAN tags is 22 bytes; anything beyond this is not a frame we parsed. */
#define FW_L3_OFF_MAX 64

struct fw_qos_match_ctx {
	__u32 count;
	__u16 sport;   /* host order */
	__u16 dport;
	__u8 proto;
	__u8 dscp;
	__u8 has_ports;
	__u8 pad;
	__s32 found;   /* rule index, -1 when none */
};

static __always_inline int fw_in_range(__u16 v, __u16 lo, __u16 hi)
{
	return v >= lo && v <= hi;
}

static long fw_qos_match_one(__u32 i, struct fw_qos_match_ctx *c)
{
	struct fw_qos_rule *r;
	__u32 flags;

	if (i >= c->count)
		return 1;
	r = bpf_map_lookup_elem(&tc_qos_rules, &i);
	if (!r)
		return 1;
	flags = r->flags;
	if (!(flags & FW_QOS_ENABLED))
		return 0;
	if ((flags & FW_QOS_MATCH_PROTO) && r->proto != c->proto)
		return 0;
	if ((flags & FW_QOS_MATCH_DSCP) && r->dscp != c->dscp)
		return 0;
	if (flags & (FW_QOS_MATCH_SPORT | FW_QOS_MATCH_DPORT)) {
		if (!c->has_ports)
			return 0;
		if ((flags & FW_QOS_MATCH_SPORT) && !fw_in_range(c->sport, r->sport_lo, r->sport_hi))
			return 0;
		if (flags & FW_QOS_MATCH_DPORT) {
			int hit = fw_in_range(c->dport, r->dport_lo, r->dport_hi);
			if (!hit && (flags & FW_QOS_MATCH_PORT_EITHER))
				hit = fw_in_range(c->sport, r->dport_lo, r->dport_hi);
			if (!hit)
				return 0;
		}
	}
	c->found = (__s32)i;
	return 1;
}

/* DSCP of the packet (upper six bits of IPv4 TOS / IPv6 traffic class). */
static __always_inline __u8 fw_pkt_dscp(const struct fw_pkt *p)
{
	__u32 off = p->l3_off;
	__u8 *l3;

	/* a bounded offset lets the verifier accept the range check below */
	if (off > FW_L3_OFF_MAX)
		return 0;
	l3 = p->data + off;
	if ((void *)(l3 + 2) > p->data_end)
		return 0;
	if (p->family == 4)
		return l3[1] >> 2;
	/* IPv6: version(4) | traffic class(8) | flow label(20) */
	return (__u8)((((l3[0] & 0x0f) << 4) | (l3[1] >> 4)) >> 2);
}

/* Index of the first matching rule, or -1. */
static __always_inline __s32 fw_qos_classify(const struct fw_pkt *p, __u8 dscp, __u32 count)
{
	struct fw_qos_match_ctx c = {
		.count = count,
		.sport = bpf_ntohs(p->sport),
		.dport = bpf_ntohs(p->dport),
		.proto = p->l4_proto,
		.dscp = dscp,
		.has_ports = p->has_l4 && (p->l4_proto == IPPROTO_TCP || p->l4_proto == IPPROTO_UDP),
		.found = -1,
	};

	if (count == 0)
		return -1;
	if (count > FW_QOS_RULES_MAX)
		c.count = FW_QOS_RULES_MAX;
	bpf_loop(FW_QOS_RULES_MAX, fw_qos_match_one, &c, 0);
	return c.found;
}

/* Rewrites the DSCP bits; packet pointers are invalid afterwards. Returns 0 on success. */
static __always_inline int fw_qos_set_dscp(struct __sk_buff *skb, const struct fw_pkt *p, __u8 dscp)
{
	__u32 off = p->l3_off;
	__be16 old_word, new_word;
	__u8 *l3;

	if (off > FW_L3_OFF_MAX)
		return -1;
	l3 = p->data + off;
	if ((void *)(l3 + 2) > p->data_end)
		return -1;
	old_word = *(__be16 *)l3;
	if (p->family == 4) {
		/* bytes: version/IHL, TOS (DSCP << 2 | ECN) */
		__u16 h = bpf_ntohs(old_word);
		h = (h & 0xff03) | ((__u16)(dscp & 0x3f) << 2);
		new_word = bpf_htons(h);
		if (new_word == old_word)
			return 0;
		if (bpf_l3_csum_replace(skb, off + 10, old_word, new_word, 2))
			return -1;
	} else {
		/* bits 4..9 of the first 16: version(4) DSCP(6) ECN(2) flow label high(4) */
		__u16 h = bpf_ntohs(old_word);
		h = (h & 0xf03f) | ((__u16)(dscp & 0x3f) << 6);
		new_word = bpf_htons(h);
		if (new_word == old_word)
			return 0;
	}
	return bpf_skb_store_bytes(skb, off, &new_word, 2, 0) ? -1 : 0;
}

#endif /* FW_TC_QOS_H */
