/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Token bucket in GCRA form (generic cell rate algorithm), lock-free.
 *
 * Why not {tokens, last_ns}: refilling and spending touch two words, which two CPUs cannot
 * update together without a lock; a lost race either loses a refill or spends a token twice.
 * GCRA keeps one word, the theoretical arrival time TAT: a bucket with rate r and burst b has
 * a window of b/r seconds, a packet of cost c (in units of 1/r seconds) is allowed when
 *   max(TAT, now) + c - now <= window,
 * and then TAT := max(TAT, now) + c. Refill is implicit in `now` moving on, so nothing can be
 * lost; a rejected packet does not write, so tokens never go negative. The write is one
 * compare-and-swap on the u64: if another CPU changed TAT in between, we recompute from its
 * value (bounded retries; on exhaustion the packet is treated as over the limit, which only
 * happens when this very source is hammering several CPUs at once).
 * Equivalence with the token bucket: tokens(now) = (window - max(0, TAT - now)) / c_per_token. */
#ifndef FW_GCRA_H
#define FW_GCRA_H

#include "fw_common.h"

#define FW_NSEC_PER_SEC 1000000000ULL
#define FW_GCRA_RETRIES 4

/* cost_ns = units * 1e9 / rate; window_ns = burst * 1e9 / rate. Returns 1 when allowed. */
static __always_inline int fw_gcra_take(__u64 *tat_p, __u64 now, __u64 cost_ns, __u64 window_ns)
{
	int i;

	for (i = 0; i < FW_GCRA_RETRIES; i++) {
		__u64 old = *(volatile __u64 *)tat_p;
		__u64 tat = old > now ? old : now;
		__u64 next = tat + cost_ns;

		if (next - now > window_ns)
			return 0;
		if (__sync_val_compare_and_swap(tat_p, old, next) == old)
			return 1;
	}
	return 0;
}

/* A bucket given as rate (units/s) and burst (units, 0 = one second's worth). */
static __always_inline int fw_bucket_take(__u64 *tat_p, __u64 now, __u64 units, __u64 rate,
					  __u64 burst)
{
	if (!burst)
		burst = rate;
	return fw_gcra_take(tat_p, now, units * FW_NSEC_PER_SEC / rate,
			    burst * FW_NSEC_PER_SEC / rate);
}

#endif /* FW_GCRA_H */
