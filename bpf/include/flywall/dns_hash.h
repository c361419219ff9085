/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Domain keys of the DNS blocklist, shared by the BPF program and user space (plain C, no BPF
 * helpers) so both sides compute the same key and bloom hash by construction.
 *
 * A blocked domain is identified by its lower-cased wire-format name (length-prefixed labels,
 * no root label). Its key (struct fw_dns_key) is {hash, len}: len = wire bytes, hash = a 64-bit
 * hash taken over the labels from RIGHT TO LEFT, so the hash of every suffix at a label
 * boundary is an intermediate value of the hash of the full name: "x.y.ads.example.com" yields,
 * in one right-to-left pass, the keys of com, example.com, ads.example.com, y.ads... and never
 * of "badads.example.com"'s non-boundary tail. Per label:
 *     h = word(h, label length)
 *     h = word(h, w) for each 8-byte word w of the label's lower-cased bytes (little-endian
 *         load, the last word masked to the label's remaining bytes)
 * starting from FW_DNS_HASH_SEED. The bloom filter holds the hash; the exact map is keyed by
 * {hash, len} and its value stores the name, which the program compares before acting, so a
 * 64-bit collision (or a crafted query) can never block a name that is not listed. */
#ifndef FW_DNS_HASH_H
#define FW_DNS_HASH_H
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FW_DNS_HASH_SEED 0x6a09e667f3bcc909ULL
#define FW_DNS_HASH_MUL  0x9e3779b97f4a7c15ULL

/* One 64-bit word into the running hash (multiply, then fold the high half down). */
static inline __u64 fw_dns_hash_word(__u64 h, __u64 w)
{
	h = (h ^ w) * FW_DNS_HASH_MUL;
	return h ^ (h >> 32);
}

static inline __u8 fw_dns_lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? (__u8)(c | 0x20) : c;
}

/* fw_dns_lower on each byte of a word at once: a byte is upper case when its low 7 bits are
 * >= 'A' and < 'Z' + 1 and its top bit is clear; adding 0x3f / 0x25 to the 7-bit values sets
 * bit 7 exactly for >= 0x41 / >= 0x5b without carrying into the next byte. */
static inline __u64 fw_dns_lower8(__u64 w)
{
	__u64 t = w & 0x7f7f7f7f7f7f7f7fULL;
	__u64 upper = (t + 0x3f3f3f3f3f3f3f3fULL) & ~(t + 0x2525252525252525ULL) & ~w &
		      0x8080808080808080ULL;

	return w | (upper >> 2);
}

/* Bytes [0, n) of a little-endian word (n >= 8: all of it). */
static inline __u64 fw_dns_word_mask(__u32 n)
{
	return n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
}

#define FW_DNS_MAX_WIRE_LABELS 128

/* User-space reference: the key hash of a lower- or mixed-case wire name (no root label) of
 * `len` bytes. Returns 0 when the bytes are not a well-formed sequence of labels 1..63. */
static inline __u64 fw_dns_name_hash(const __u8 *wire, __u32 len)
{
	__u32 starts[FW_DNS_MAX_WIRE_LABELS];
	__u32 n = 0, pos = 0;
	__u64 h = FW_DNS_HASH_SEED;

	while (pos < len) {
		__u32 l = wire[pos];
		if (l == 0 || l > 63 || pos + 1 + l > len || n == FW_DNS_MAX_WIRE_LABELS)
			return 0;
		starts[n++] = pos;
		pos += 1 + l;
	}
	while (n > 0) {
		__u32 s = starts[--n], l = wire[s], k, i;

		h = fw_dns_hash_word(h, l);
		for (k = 0; k < l; k += 8) {
			__u64 w = 0;
			for (i = 0; i < 8 && k + i < l; i++)
				w |= (__u64)wire[s + 1 + k + i] << (8 * i);
			h = fw_dns_hash_word(h, fw_dns_lower8(w));
		}
	}
	return h;
}

#endif /* FW_DNS_HASH_H */
