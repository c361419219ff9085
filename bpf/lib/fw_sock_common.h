/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Shared by the socket filters (SOCKET_FILTER on AF_PACKET). Socket filters may not access
 * packet data directly, so everything is read with bpf_skb_load_bytes_relative relative to
 * the network header: that works both on a packet socket (data starts at the MAC header) and
 * under BPF_PROG_TEST_RUN (data starts at the network header). */
#ifndef FW_SOCK_COMMON_H
#define FW_SOCK_COMMON_H

#include "fw_common.h"
#include "flywall/abi_sock.h"

/* Monitors never queue the frame to the socket: returning 0 drops it from the socket only. */
#define FW_SOCK_NO_COPY 0

struct fw_sock_pkt {
	__u8 family;       /* 4 or 6 */
	__u8 proto;        /* IPPROTO_TCP / IPPROTO_UDP */
	__u16 l4_off;      /* from the network header */
	__u32 l3_len;      /* IP total length (excludes link-layer padding) */
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u16 net_off;     /* network header offset from skb->data, when abs_ok */
	__u8 abs_ok;       /* 1: payload reads use bpf_skb_load_bytes (reaches paged data) */
	__u8 pad;
};

/* Masks in a way the compiler cannot drop, so the verifier sees the bound. */
static __always_inline __u64 fw_sock_bound(__u64 v, const __u64 mask)
{
	asm volatile("%0 &= %1" : "+r"(v) : "i"(mask));
	return v;
}

static __always_inline int fw_sock_load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
}

/* Payload read relative to the network header. bpf_skb_load_bytes_relative reads only the
 * linear part of the skb, but on a packet socket a TCP segment's payload is often in page
 * fragments; bpf_skb_load_bytes (absolute offset from skb->data) reaches those. */
static __always_inline int fw_sock_load_l3(struct __sk_buff *skb, const struct fw_sock_pkt *p, __u32 off,
					   void *to, __u32 len)
{
	if (p->abs_ok)
		return bpf_skb_load_bytes(skb, (__u32)p->net_off + off, to, len);
	return fw_sock_load(skb, off, to, len);
}

/* Finds where the network header starts relative to skb->data: 0 under BPF_PROG_TEST_RUN, the
 * link-layer header length on a packet socket. skb->len - IP total length is exact unless the
 * frame carries link-layer padding, so the guess is confirmed by comparing the first IP header
 * word read both ways; otherwise reads stay relative (short padded frames are linear anyway). */
static __always_inline void fw_sock_find_net_off(struct __sk_buff *skb, struct fw_sock_pkt *p)
{
	__u32 len = skb->len, guess, a, b;

	p->abs_ok = 0;
	p->net_off = 0;
	if (len < p->l3_len)
		return;
	guess = len - p->l3_len;
	if (guess > 64)
		return;
	if (fw_sock_load(skb, 0, &a, 4) || bpf_skb_load_bytes(skb, guess, &b, 4) || a != b)
		return;
	p->net_off = guess;
	p->abs_ok = 1;
}

/* Parses IPv4 (options allowed, first fragments only) or IPv6 (no extension headers) and the
 * TCP/UDP ports. Returns 0 when the packet is TCP or UDP over IP. */
static __always_inline int fw_sock_parse(struct __sk_buff *skb, struct fw_sock_pkt *p)
{
	__u16 eth_proto = bpf_ntohs(skb->protocol);
	__be16 ports[2];

	if (eth_proto == ETH_P_IP) {
		struct iphdr ip;

		if (fw_sock_load(skb, 0, &ip, sizeof(ip)))
			return -1;
		if (ip.version != 4 || ip.ihl < 5)
			return -1;
		if (ip.frag_off & bpf_htons(FW_IP_OFFSET))
			return -1; /* not the first fragment: no L4 header */
		p->family = 4;
		p->proto = ip.protocol;
		p->l4_off = ip.ihl * 4;
		p->l3_len = bpf_ntohs(ip.tot_len);
		__builtin_memset(p->saddr, 0, 16);
		__builtin_memset(p->daddr, 0, 16);
		__builtin_memcpy(p->saddr, &ip.saddr, 4);
		__builtin_memcpy(p->daddr, &ip.daddr, 4);
	} else if (eth_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (fw_sock_load(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		p->family = 6;
		p->proto = ip6.nexthdr;
		p->l4_off = sizeof(ip6);
		p->l3_len = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	} else {
		return -1;
	}
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return -1;
	if (p->l3_len < p->l4_off + 8)
		return -1;
	if (fw_sock_load(skb, p->l4_off, ports, sizeof(ports)))
		return -1;
	fw_sock_find_net_off(skb, p);
	p->sport = ports[0];
	p->dport = ports[1];
	return 0;
}

#endif /* FW_SOCK_COMMON_H */
