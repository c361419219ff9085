/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* TLS monitor (socket filter on AF_PACKET): reports every TLS ClientHello seen on TCP, any
 * port, with its SNI and raw JA3 fields; user space (src/runtime/ja3.*) builds JA3. A pure
 * monitor: it never queues a frame to its socket. */
#include "fw_sock_common.h"
#include "fw_sock_tls.h"

SEC("socket")
int socket_tls(struct __sk_buff *skb)
{
	struct fw_tls_stats *st;
	struct fw_sock_pkt p;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&tls_stats, &zero);
	if (st)
		st->packets++;
	if (fw_sock_parse(skb, &p) || p.proto != IPPROTO_TCP)
		return FW_SOCK_NO_COPY;
	fw_tls_handle(skb, &p, st);
	return FW_SOCK_NO_COPY;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
