/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Domain keys of the DNS blocklist, shared by the BPF program and user space (plain C, no BPF
 * helpers) so both sides compute the same key and bloom hash by construction.
 *
 * A blocked domain is stored as its lower-cased wire-format name (length-prefixed labels, no
 * root label) written BACKWARDS: "ads.example.com" -> wire "\3ads\7example\3com" -> reversed
 * "moc\3elpmaxe\7sda\3". Reversal turns "is a suffix at a label boundary" into "is a prefix",
 * so the XDP program builds every candidate key in one right-to-left pass over the query name
 * without copying: the key of a shorter suffix is a prefix of the key of a longer one. */
#ifndef FW_DNS_HASH_H
#define FW_DNS_HASH_H
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FW_DNS_FNV_OFFSET 0xcbf29ce484222325ULL
#define FW_DNS_FNV_PRIME  0x100000001b3ULL

/* One step of FNV-1a 64; the bloom filter's value is the hash of the reversed key bytes. */
static inline __u64 fw_dns_hash_step(__u64 h, __u8 c)
{
	return (h ^ c) * FW_DNS_FNV_PRIME;
}

static inline __u8 fw_dns_lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? (__u8)(c | 0x20) : c;
}

#endif /* FW_DNS_HASH_H */
