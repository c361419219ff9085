/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Packet parsing shared by XDP and TC: works on [data, data_end) so both contexts use it.
 * Ethernet, up to two VLAN tags (802.1Q / 802.1ad), IPv4 with options (IHL), IPv6 with up to
 * FW_MAX_IPV6_EXT_HDR extension headers (hop-by-hop, routing, destination options, fragment),
 * then TCP, UDP, ICMP, ICMPv6. Non-first fragments are judged by addresses only (no L4).
 *
 * Addresses are known before the packet is fully parsed: p->family is set, with the addresses,
 * as soon as the IPv4 fixed header (version 4, IHL >= 5) or the IPv6 fixed header is in the
 * packet, and stays set when a later part (IPv4 options, an extension header, the L4 header)
 * turns out malformed. Callers check the address lists on that before judging the packet
 * malformed (fail closed: a blocked source cannot escape by adding headers or cutting the
 * packet short). p->family == 0 after a failure means the addresses are unknown. */
#ifndef FW_PARSE_H
#define FW_PARSE_H

#include "fw_common.h"

struct fw_pkt {
	void *data;
	void *data_end;
	__u32 len;
	__u16 l3_off;        /* offset of the IP header */
	__u16 l4_off;        /* offset of the L4 header (valid when has_l4) */
	__u16 eth_proto;     /* host order: ETH_P_IP, ETH_P_IPV6, or other */
	__u8 family;         /* 4, 6, or 0 for non-IP */
	__u8 l4_proto;       /* IPPROTO_* after extension headers */
	__u8 vlan_depth;
	__u8 fragment;       /* 1 when this is a fragment (first or not) */
	__u8 has_l4;         /* 0 for non-first fragments and unknown protocols */
	__u8 tcp_flags;
	__be16 sport;        /* TCP/UDP ports; ICMP: echo id in sport, type<<8|code in dport */
	__be16 dport;
	__be32 saddr4;
	__be32 daddr4;
	struct in6_addr saddr6;
	struct in6_addr daddr6;
};

/* Returns 0 on success or (1 + fw_malformed_reason) when the packet is malformed; see the file
 * comment for which fields are valid then. */
#define FW_PARSE_OK 0
#define FW_PARSE_BAD(reason) (1 + (reason))

static __always_inline int fw_parse_l4(struct fw_pkt *p, void *l4)
{
	void *end = p->data_end;

	p->l4_off = (__u16)(l4 - p->data);
	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return FW_PARSE_BAD(FW_MAL_L4);
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->has_l4 = 1;
		return FW_PARSE_OK;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return FW_PARSE_BAD(FW_MAL_L4);
		p->sport = uh->source;
		p->dport = uh->dest;
		p->has_l4 = 1;
		return FW_PARSE_OK;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *ic = l4;
		if ((void *)(ic + 8) > end)
			return FW_PARSE_BAD(FW_MAL_L4);
		p->sport = *(__be16 *)(ic + 4);                       /* identifier */
		p->dport = bpf_htons(((__u16)ic[0] << 8) | ic[1]);    /* type, code */
		p->has_l4 = 1;
		return FW_PARSE_OK;
	}
	default:
		return FW_PARSE_OK;
	}
}

static __always_inline int fw_parse_ipv4(struct fw_pkt *p, void *l3)
{
	struct iphdr *iph = l3;
	__u32 ihl_len;

	if ((void *)(iph + 1) > p->data_end)
		return FW_PARSE_BAD(FW_MAL_IPV4);
	if (iph->version != 4 || iph->ihl < 5)
		return FW_PARSE_BAD(FW_MAL_IPV4); /* not an IPv4 header: addresses unknown */
	p->family = 4;
	p->saddr4 = iph->saddr;
	p->daddr4 = iph->daddr;
	p->l4_proto = iph->protocol;
	ihl_len = (__u32)iph->ihl * 4;
	if (l3 + ihl_len > p->data_end)
		return FW_PARSE_BAD(FW_MAL_IPV4); /* options cut short: addresses known */

	if (iph->frag_off & bpf_htons(FW_IP_MF | FW_IP_OFFSET)) {
		p->fragment = 1;
		if (iph->frag_off & bpf_htons(FW_IP_OFFSET))
			return FW_PARSE_OK; /* non-first fragment: addresses only */
	}
	return fw_parse_l4(p, l3 + ihl_len);
}

static __always_inline int fw_parse_ipv6(struct fw_pkt *p, void *l3)
{
	struct ipv6hdr *ip6 = l3;
	void *cur;
	__u8 next;
	int i;

	if ((void *)(ip6 + 1) > p->data_end)
		return FW_PARSE_BAD(FW_MAL_IPV6);
	p->family = 6;
	__builtin_memcpy(&p->saddr6, &ip6->saddr, sizeof(p->saddr6));
	__builtin_memcpy(&p->daddr6, &ip6->daddr, sizeof(p->daddr6));
	next = ip6->nexthdr;
	cur = ip6 + 1;

#pragma unroll
	for (i = 0; i < FW_MAX_IPV6_EXT_HDR; i++) {
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
			__u8 *eh = cur;
			if ((void *)(eh + 2) > p->data_end)
				return FW_PARSE_BAD(FW_MAL_IPV6_EXT);
			next = eh[0];
			cur = eh + ((__u32)eh[1] + 1) * 8;
			if (cur > p->data_end)
				return FW_PARSE_BAD(FW_MAL_IPV6_EXT);
		} else if (next == IPPROTO_FRAGMENT) {
			__u8 *fh = cur;
			if ((void *)(fh + 8) > p->data_end)
				return FW_PARSE_BAD(FW_MAL_IPV6_EXT);
			next = fh[0];
			p->fragment = 1;
			/* fragment offset: 13 bits in bytes 2-3, above the 3 flag bits */
			if ((*(__be16 *)(fh + 2)) & bpf_htons(0xFFF8)) {
				p->l4_proto = next;
				return FW_PARSE_OK; /* non-first fragment: addresses only */
			}
			cur = fh + 8;
		} else {
			break;
		}
	}
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS ||
	    next == IPPROTO_FRAGMENT)
		return FW_PARSE_BAD(FW_MAL_IPV6_EXT); /* more extension headers than we follow */
	p->l4_proto = next;
	return fw_parse_l4(p, cur);
}

/* Parse from the Ethernet header. */
static __always_inline int fw_parse(struct fw_pkt *p, void *data, void *data_end)
{
	struct ethhdr *eth = data;
	void *cur;
	__u16 proto;
	int i;

	p->data = data;
	p->data_end = data_end;
	p->len = (__u32)(data_end - data);
	if ((void *)(eth + 1) > data_end)
		return FW_PARSE_BAD(FW_MAL_ETH);
	proto = bpf_ntohs(eth->h_proto);
	cur = eth + 1;

#pragma unroll
	for (i = 0; i < FW_MAX_VLAN_DEPTH; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		struct vlan_hdr *vh = cur;
		if ((void *)(vh + 1) > data_end)
			return FW_PARSE_BAD(FW_MAL_VLAN);
		proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
		cur = vh + 1;
		p->vlan_depth++;
	}
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD)
		return FW_PARSE_BAD(FW_MAL_VLAN_DEPTH);

	p->eth_proto = proto;
	p->l3_off = (__u16)(cur - data);
	if (proto == ETH_P_IP)
		return fw_parse_ipv4(p, cur);
	if (proto == ETH_P_IPV6)
		return fw_parse_ipv6(p, cur);
	return FW_PARSE_OK; /* not IP: nothing more to parse */
}

#endif /* FW_PARSE_H */
