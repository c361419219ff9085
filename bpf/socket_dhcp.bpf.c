/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Device discovery monitor (socket filter on AF_PACKET): DHCP client messages on UDP 67/68
 * and ARP bindings. A pure monitor: it never queues a frame to its socket. */
#include "fw_sock_common.h"
#include "fw_sock_dhcp.h"

SEC("socket")
int socket_dhcp(struct __sk_buff *skb)
{
	struct fw_dhcp_stats *st;
	struct fw_sock_pkt p;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&dhcp_stats, &zero);
	if (st)
		st->packets++;
	if (skb->protocol == bpf_htons(ETH_P_ARP)) {
		fw_arp_handle(skb, st);
		return FW_SOCK_NO_COPY;
	}
	if (fw_sock_parse(skb, &p) || p.proto != IPPROTO_UDP || p.family != 4)
		return FW_SOCK_NO_COPY;
	if (!((p.sport == bpf_htons(68) && p.dport == bpf_htons(67)) ||
	      (p.sport == bpf_htons(67) && p.dport == bpf_htons(68)) ||
	      (p.sport == bpf_htons(67) && p.dport == bpf_htons(67))))  /* relayed */
		return FW_SOCK_NO_COPY;
	if (st)
		st->dhcp_packets++;
	fw_dhcp_handle(skb, &p, st);
	return FW_SOCK_NO_COPY;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
