/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Flow table of the TC classifier: one entry per connection for both directions, packet and
 * byte counters per direction, and a TCP state machine driven by the flags seen. */
#ifndef FW_TC_FLOW_H
#define FW_TC_FLOW_H

#include "fw_tc_maps.h"
#include "fw_parse.h"

#define FW_TCP_FIN 0x01
#define FW_TCP_SYN 0x02
#define FW_TCP_RST 0x04
#define FW_TCP_ACK 0x10

/* Orders two endpoints; returns <0, 0, >0 like memcmp over (address words, port). IPv4
 * addresses occupy word 0 with the other words zero on both sides. */
static __always_inline int fw_endpoint_cmp(const __u32 *a, __u16 pa, const __u32 *b, __u16 pb)
{
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	if (a[1] != b[1])
		return a[1] < b[1] ? -1 : 1;
	if (a[2] != b[2])
		return a[2] < b[2] ? -1 : 1;
	if (a[3] != b[3])
		return a[3] < b[3] ? -1 : 1;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return 0;
}

/* Canonical key: the lower endpoint first. *src_is_lo tells which side the packet came from. */
static __always_inline void fw_tc_flow_key_make(const struct fw_pkt *p, struct fw_tc_flow_key *k,
						__u8 *src_is_lo)
{
	__u32 s[4] = {}, d[4] = {};

	if (p->family == 4) {
		s[0] = p->saddr4;
		d[0] = p->daddr4;
	} else {
		__builtin_memcpy(s, &p->saddr6, 16);
		__builtin_memcpy(d, &p->daddr6, 16);
	}
	k->proto = p->l4_proto;
	k->family = p->family;
	k->pad = 0;
	if (fw_endpoint_cmp(s, p->sport, d, p->dport) <= 0) {
		__builtin_memcpy(k->addr_lo, s, 16);
		__builtin_memcpy(k->addr_hi, d, 16);
		k->port_lo = p->sport;
		k->port_hi = p->dport;
		*src_is_lo = 1;
	} else {
		__builtin_memcpy(k->addr_lo, d, 16);
		__builtin_memcpy(k->addr_hi, s, 16);
		k->port_lo = p->dport;
		k->port_hi = p->sport;
		*src_is_lo = 0;
	}
}

static __always_inline void fw_tcp_advance(struct fw_tc_flow *f, __u8 flags, __u32 dir,
					   __u8 src_is_lo, struct fw_tc_stats *s)
{
	__u8 state = f->tcp_state;
	__u8 next = state;
	__u8 syn_only = (flags & (FW_TCP_SYN | FW_TCP_ACK)) == FW_TCP_SYN;

	if (flags & FW_TCP_RST) {
		next = FW_TCP_CLOSED;
	} else if (syn_only && (state == FW_TCP_CLOSED || state == FW_TCP_NEW)) {
		/* a new connection on this tuple (or a pickup that turns out to be an opening):
		 * whoever sent the SYN is the originator from now on */
		f->orig_is_lo = src_is_lo;
		f->tcp_flags_seen[0] = flags;
		f->tcp_flags_seen[1] = 0;
		next = FW_TCP_SYN_SENT;
	} else {
		switch (state) {
		case FW_TCP_NEW:
			if (flags & FW_TCP_ACK)
				next = FW_TCP_ESTABLISHED;
			break;
		case FW_TCP_SYN_SENT:
			if (dir == FW_DIR_REPLY && (flags & FW_TCP_SYN) && (flags & FW_TCP_ACK))
				next = FW_TCP_SYN_RECV;
			break;
		case FW_TCP_SYN_RECV:
			if (dir == FW_DIR_ORIG && (flags & FW_TCP_ACK) && !(flags & FW_TCP_SYN))
				next = FW_TCP_ESTABLISHED;
			break;
		default:
			break;
		}
		if ((flags & FW_TCP_FIN) && next != FW_TCP_CLOSED) {
			if ((f->tcp_flags_seen[0] & FW_TCP_FIN) && (f->tcp_flags_seen[1] & FW_TCP_FIN))
				next = FW_TCP_CLOSED;
			else
				next = FW_TCP_FIN_WAIT;
		}
	}
	if (next == FW_TCP_CLOSED && state != FW_TCP_CLOSED)
		FW_TC_STAT_INC(s, flows_closed);
	f->tcp_state = next;
}

/* Finds or creates the packet's flow and accounts the packet. Returns NULL when the table
 * refused the entry (counted). */
static __always_inline struct fw_tc_flow *fw_tc_flow_track(const struct fw_pkt *p, __u32 ifindex,
							   __u32 bytes, __u64 now,
							   struct fw_tc_stats *s)
{
	struct fw_tc_flow_key key;
	struct fw_tc_flow *f;
	__u8 src_is_lo;
	__u32 dir;

	fw_tc_flow_key_make(p, &key, &src_is_lo);
	f = bpf_map_lookup_elem(&tc_flows, &key);
	if (!f) {
		struct fw_tc_flow nf = {};

		nf.first_seen_ns = now;
		nf.orig_is_lo = src_is_lo;
		nf.tcp_state = FW_TCP_NEW;
		/* BPF_NOEXIST: when another CPU created it first, use theirs */
		if (bpf_map_update_elem(&tc_flows, &key, &nf, BPF_NOEXIST) == 0)
			FW_TC_STAT_INC(s, flows_new);
		f = bpf_map_lookup_elem(&tc_flows, &key);
		if (!f) {
			FW_TC_STAT_INC(s, flow_update_failed);
			return NULL;
		}
	}
	dir = (src_is_lo == f->orig_is_lo) ? FW_DIR_ORIG : FW_DIR_REPLY;
	if (p->l4_proto == IPPROTO_TCP && p->has_l4) {
		f->tcp_flags_seen[dir & 1] |= p->tcp_flags;
		fw_tcp_advance(f, p->tcp_flags, dir, src_is_lo, s);
		/* a restarted connection may have swapped the originator */
		dir = (src_is_lo == f->orig_is_lo) ? FW_DIR_ORIG : FW_DIR_REPLY;
	}
	__sync_fetch_and_add(&f->packets[dir & 1], 1);
	__sync_fetch_and_add(&f->bytes[dir & 1], bytes);
	f->last_seen_ns = now;
	f->ifindex = ifindex;
	return f;
}

#endif /* FW_TC_FLOW_H */
