/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Kernel/user ABI of the socket monitors (socket_dns, socket_tls, socket_dhcp): the records
 * they push to their ring buffers, their statistics and the ARP table. Every record starts
 * with the same header (ts_ns, type, ifindex) so one reader can tell them apart. Layout is
 * static_asserted in src/runtime/abi_check_tc.cpp. */
#ifndef FLYWALL_ABI_SOCK_H
#define FLYWALL_ABI_SOCK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FW_SOCK_RING_BYTES (1 << 20)

enum fw_sock_record_type {
	FW_REC_DNS       = 1,
	FW_REC_TLS_HELLO = 2,
	FW_REC_DHCP      = 3,
	FW_REC_ARP       = 4,
};

struct fw_sock_record_hdr {
	__u64 ts_ns;
	__u32 type;        /* fw_sock_record_type */
	__u32 ifindex;
};

/* ---- DNS (UDP port 53, IPv4 and IPv6) ---- */
#define FW_DNS_QNAME_MAX 256   /* dotted name incl. NUL; names up to 253 characters */
#define FW_DNS_QTYPE_SLOTS 256 /* per-qtype counters; qtypes >= 256 share slot 0 */
#define FW_DNS_RCODE_SLOTS 16

enum fw_dns_name_flag {
	FW_DNS_NAME_COMPRESSED = 1u << 0, /* compression pointer in the question: name cut there */
	FW_DNS_NAME_TRUNCATED  = 1u << 1, /* packet ended inside the name */
};

struct fw_dns_record {
	__u64 ts_ns;
	__u32 type;          /* FW_REC_DNS */
	__u32 ifindex;
	__u8 family;         /* 4 or 6 */
	__u8 is_response;
	__u8 rcode;          /* responses */
	__u8 opcode;
	__u16 qtype;         /* host order */
	__u16 qclass;
	__u16 id;            /* host order */
	__u16 flags;         /* the DNS header flags word, host order */
	__u16 answers;       /* ANCOUNT */
	__u16 name_len;      /* strlen(name) */
	__be16 client_port;
	__be16 server_port;
	__u8 client[16];     /* the querier: source of a query, destination of a response */
	__u8 server[16];
	__u32 name_flags;    /* fw_dns_name_flag */
	char name[FW_DNS_QNAME_MAX]; /* dotted, as on the wire (case kept), NUL-terminated */
};

struct fw_dns_stats {
	__u64 packets;       /* frames the filter saw */
	__u64 dns_packets;   /* UDP port 53 */
	__u64 queries;
	__u64 responses;
	__u64 malformed;
	__u64 names_compressed;
	__u64 names_truncated;
	__u64 records;
	__u64 ring_full;
};

/* ---- TLS ClientHello (TCP, any port) ---- */
#define FW_TLS_MAX_CIPHERS 64
#define FW_TLS_MAX_EXTS    48
#define FW_TLS_MAX_GROUPS  32
#define FW_TLS_MAX_PF      8
#define FW_TLS_SNI_MAX     256  /* incl. NUL */

enum fw_tls_flag {
	FW_TLS_TRUNC_CIPHERS = 1u << 0, /* more than FW_TLS_MAX_CIPHERS */
	FW_TLS_TRUNC_EXTS    = 1u << 1,
	FW_TLS_TRUNC_GROUPS  = 1u << 2,
	FW_TLS_TRUNC_PF      = 1u << 3,
	FW_TLS_TRUNC_SNI     = 1u << 4,
	FW_TLS_PARTIAL       = 1u << 5, /* the hello continues past the captured bytes */
};

/* Raw JA3 fields, GREASE values (RFC 8701) already removed. */
struct fw_tls_hello {
	__u64 ts_ns;
	__u32 type;          /* FW_REC_TLS_HELLO */
	__u32 ifindex;
	__u8 family;
	__u8 flags;          /* fw_tls_flag */
	__u16 record_version;
	__u16 client_version;/* ClientHello.legacy_version: the JA3 version field */
	__u16 n_ciphers;
	__u16 n_exts;
	__u16 n_groups;
	__u8 n_pf;
	__u8 pad;
	__u16 sni_len;
	__be16 sport;
	__be16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 ciphers[FW_TLS_MAX_CIPHERS];
	__u16 exts[FW_TLS_MAX_EXTS];
	__u16 groups[FW_TLS_MAX_GROUPS];
	__u8 pf[FW_TLS_MAX_PF];
	char sni[FW_TLS_SNI_MAX];   /* server_name (host_name), NUL-terminated */
};

struct fw_tls_stats {
	__u64 packets;
	__u64 tcp_payload;   /* TCP segments with payload */
	__u64 hellos;
	__u64 malformed;     /* looked like a ClientHello, did not parse */
	__u64 partial;
	__u64 ring_full;
};

/* ---- DHCP (UDP 67/68) and ARP ---- */
#define FW_DHCP_STR_MAX 64
#define FW_DHCP_PRL_MAX 64
#define FW_ARP_MAX      16384

enum fw_dhcp_flag {
	FW_DHCP_TRUNC_HOSTNAME = 1u << 0,
	FW_DHCP_TRUNC_VENDOR   = 1u << 1,
	FW_DHCP_TRUNC_PRL      = 1u << 2,
	FW_DHCP_HAS_REQ_IP     = 1u << 3,
};

struct fw_dhcp_record {
	__u64 ts_ns;
	__u32 type;          /* FW_REC_DHCP */
	__u32 ifindex;
	__u8 msg_type;       /* option 53: 1 DISCOVER, 3 REQUEST, 8 INFORM, ... */
	__u8 op;             /* BOOTP op: 1 request, 2 reply */
	__u8 hostname_len;
	__u8 vendor_len;
	__u8 prl_len;
	__u8 flags;          /* fw_dhcp_flag */
	__u8 mac[6];         /* chaddr */
	__be32 xid;
	__be32 ciaddr;
	__be32 requested_ip; /* option 50 */
	__be32 src_ip;
	char hostname[FW_DHCP_STR_MAX]; /* option 12, not NUL-terminated: use hostname_len */
	char vendor[FW_DHCP_STR_MAX];   /* option 60 */
	__u8 prl[FW_DHCP_PRL_MAX];      /* option 55, in the client's order */
	__u32 pad;
};

struct fw_arp_key {
	__u32 ifindex;
	__be32 ip;
};

struct fw_arp_entry {
	__u64 first_seen_ns;
	__u64 last_seen_ns;
	__u64 packets;       /* ARP frames that carried this binding */
	__u8 mac[6];
	__u16 last_op;       /* 1 request, 2 reply */
	__u32 mac_changes;   /* times the MAC for this IP changed */
	__u32 pad;
};

enum fw_arp_change {
	FW_ARP_NEW     = 1,
	FW_ARP_CHANGED = 2,  /* the IP moved to another MAC (spoofing or a replaced device) */
};

struct fw_arp_record {
	__u64 ts_ns;
	__u32 type;          /* FW_REC_ARP */
	__u32 ifindex;
	__be32 ip;
	__u16 op;
	__u8 mac[6];
	__u8 old_mac[6];
	__u16 change;        /* fw_arp_change */
	__u32 pad;
};

struct fw_dhcp_stats {
	__u64 packets;
	__u64 dhcp_packets;
	__u64 dhcp_records;
	__u64 malformed;
	__u64 arp_packets;
	__u64 arp_new;
	__u64 arp_changed;
	__u64 ring_full;
};

#endif /* FLYWALL_ABI_SOCK_H */
