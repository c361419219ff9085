/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* DNS monitor (socket filter on AF_PACKET): UDP port 53 queries and responses, IPv4 and IPv6,
 * reported to a ring buffer and counted by query type and response code. A pure monitor:
 * it never queues a frame to its socket. */
#include "fw_sock_common.h"
#include "fw_sock_dns.h"

SEC("socket")
int socket_dns(struct __sk_buff *skb)
{
	struct fw_dns_stats *st;
	struct fw_sock_pkt p;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&dns_stats, &zero);
	if (st)
		st->packets++;
	if (fw_sock_parse(skb, &p) || p.proto != IPPROTO_UDP)
		return FW_SOCK_NO_COPY;
	if (p.sport != bpf_htons(53) && p.dport != bpf_htons(53))
		return FW_SOCK_NO_COPY;
	if (st)
		st->dns_packets++;
	fw_dns_handle(skb, &p, st);
	return FW_SOCK_NO_COPY;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
