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

/* ---- a cheap coarse clock ----
 * Measured on the KVM guests this runs on: bpf_ktime_get_ns() costs ~30 ns per call,
 * bpf_ktime_get_coarse_ns() ~14 ns, bpf_jiffies64() ~0 (the verifier inlines it as a load).
 * fw_coarse_now() returns CLOCK_MONOTONIC_COARSE extrapolated from jiffies: each CPU keeps a
 * calibration pair {coarse ns, jiffies} that it renews every FW_TICK_RECAL ticks (1 s at
 * HZ=250), and in between returns base + (jiffies - base_jiffies) * tick. Per-CPU, so no
 * other CPU can tear the pair. Resolution one tick (1/HZ); the value lags CLOCK_MONOTONIC by
 * at most about one tick (plus NTP slewing over one recalibration period, <= 0.5 ms). Without
 * CONFIG_HZ (kernel config unreadable) it is bpf_ktime_get_coarse_ns() itself. */
extern unsigned int CONFIG_HZ __kconfig __weak;

#define FW_TICK_RECAL 256

struct fw_tick_clock {
	__u64 base_ns;
	__u64 base_jiffies;
	__u64 tick_ns;      /* 1e9 / CONFIG_HZ, computed once: a 64-bit division costs ~10 ns */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_tick_clock);
} fw_tick_clock_map SEC(".maps");

static __always_inline __u64 fw_tick_ns(void)
{
	__u32 hz = CONFIG_HZ;

	return hz ? FW_NSEC_PER_SEC / hz : 0;
}

static __always_inline __u64 fw_coarse_now(void)
{
	struct fw_tick_clock *tc;
	__u32 zero = 0;
	__u64 j;

	if (!CONFIG_HZ)
		return bpf_ktime_get_coarse_ns();
	tc = bpf_map_lookup_elem(&fw_tick_clock_map, &zero);
	if (!tc)
		return bpf_ktime_get_coarse_ns();
	j = bpf_jiffies64();
	if (!tc->base_ns || j - tc->base_jiffies >= FW_TICK_RECAL) {
		/* coarse first, jiffies second: a tick landing in between makes the pair lag
		 * (by that tick), never run ahead of the clock. */
		tc->base_ns = bpf_ktime_get_coarse_ns();
		tc->base_jiffies = bpf_jiffies64();
		tc->tick_ns = fw_tick_ns();
		return tc->base_ns;
	}
	return tc->base_ns + (j - tc->base_jiffies) * tc->tick_ns;
}

/* ---- the fast clock: a .bss word a BPF timer refreshes every FW_CLOCK_PERIOD_NS ----
 * Measured here: bpf_jiffies64() costs ~5 ns and fw_coarse_now() ~6 ns per call, more than
 * the whole trusted-flow path may spend on time. fw_fast_now() is one load of fw_clock_ns,
 * which a bpf_timer callback sets to bpf_ktime_get_ns() every millisecond (so it lags
 * CLOCK_MONOTONIC by at most about 1 ms plus timer slack). The first packet stores the exact
 * time and arms the timer (one CPU wins a compare-and-swap on the zero word). The timer lives
 * as long as the program's maps and re-arms itself; should it ever stop, user space (the
 * daemon's tick, XdpFastPath::watch_fast_clock) sees the word lag and zeroes it, and the next
 * packet arms it again. 1,000 callbacks a second cost nothing measurable. */
#define FW_CLOCK_PERIOD_NS 1000000ULL
#define FW_CLOCK_MONOTONIC 1

struct fw_clock_timer {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_clock_timer);
} fw_clock_timer_map SEC(".maps");

__u64 fw_clock_ns;

static int fw_clock_tick(void *map, int *key, struct fw_clock_timer *v)
{
	*(volatile __u64 *)&fw_clock_ns = bpf_ktime_get_ns();
	bpf_timer_start(&v->t, FW_CLOCK_PERIOD_NS, 0);
	return 0;
}

/* Arms the timer. The caller has just stored a non-zero fw_clock_ns, so no other packet calls
 * this meanwhile: re-arming on every packet would push the expiry forward forever and the
 * callback would never run (a first version did exactly that under continuous traffic). */
static __noinline int fw_clock_arm(void)
{
	struct fw_clock_timer *v;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&fw_clock_timer_map, &zero);
	if (!v)
		return -1;
	bpf_timer_init(&v->t, &fw_clock_timer_map, FW_CLOCK_MONOTONIC); /* EBUSY after the first */
	if (bpf_timer_set_callback(&v->t, fw_clock_tick))
		return -1;
	return bpf_timer_start(&v->t, FW_CLOCK_PERIOD_NS, 0) ? -1 : 0;
}

static __always_inline __u64 fw_fast_now(void)
{
	__u64 t = *(volatile __u64 *)&fw_clock_ns;

	if (likely(t))
		return t;
	t = bpf_ktime_get_ns();
	/* one CPU wins the start; the others see a non-zero clock from now on */
	/* If arming fails (the timer's allocation is atomic and can fail), the word goes back to 0:
	 * packets then read the exact clock and retry, slower but never frozen. */
	if (__sync_val_compare_and_swap(&fw_clock_ns, 0, t) == 0 && fw_clock_arm())
		__sync_val_compare_and_swap(&fw_clock_ns, t, 0);
	return t;
}

/* Buckets whose window is at least this many ticks use fw_coarse_now(): time then advances in
 * steps of one tick, so the tokens a bucket sees are off by at most rate * tick = window / 64
 * (1/64 of the burst); shorter windows (a burst under 256 ms at HZ=250) read the exact clock. */
#define FW_COARSE_MIN_WINDOW_TICKS 64

/* ---- buckets with precomputed parameters ----
 * cost and window as fw_bucket_take computes them, but without its two 64-bit divisions per
 * packet: each CPU caches {rate, burst} -> {ns per unit in 1/2^20 ns, window, clock choice}
 * and recomputes only when user space changed the rate or the burst. */
#define FW_GCRA_FRAC 16 /* units (<= 2^16 bytes) x unit_ns_q (<= 1e9 x 2^16) fits in a u64 */

struct fw_bucket_params {
	__u64 rate;
	__u64 burst;
	__u64 unit_ns_q;   /* (1e9 << FW_GCRA_FRAC) / rate */
	__u64 window_ns;   /* burst (0 = rate) * 1e9 / rate */
	__u64 coarse_ok;   /* window >= FW_COARSE_MIN_WINDOW_TICKS ticks: the coarse clock will do */
	__u64 batch;       /* units a tracked flow may charge at once: burst / 16, at most 64 */
};

#define FW_RL_BATCH_MAX 64
#define FW_RL_BATCH_DIV 16

static __always_inline void fw_bucket_params_refresh(struct fw_bucket_params *bp, __u64 rate,
						     __u64 burst)
{
	if (bp->rate == rate && bp->burst == burst)
		return;
	bp->rate = rate;
	bp->burst = burst;
	bp->unit_ns_q = rate ? (FW_NSEC_PER_SEC << FW_GCRA_FRAC) / rate : 0;
	bp->window_ns = rate ? (burst ? burst : rate) * FW_NSEC_PER_SEC / rate : 0;
	bp->coarse_ok = fw_tick_ns() && bp->window_ns >= FW_COARSE_MIN_WINDOW_TICKS * fw_tick_ns();
	bp->batch = (burst ? burst : rate) / FW_RL_BATCH_DIV;
}

/* Like fw_bucket_take_auto below with cached parameters; `exact_expr` is evaluated only when
 * the window is too short for the coarse clock. */
#define fw_bucket_take_p(tat_p, units, bp, coarse, exact_expr)                                 \
	fw_gcra_take((tat_p), (bp)->coarse_ok ? (coarse) : (exact_expr),                       \
		     fw_units_ns((units), (bp)->unit_ns_q), (bp)->window_ns)

/* units x unit_ns_q >> FW_GCRA_FRAC without overflow for batched charges (units < 2^32). */
static __always_inline __u64 fw_units_ns(__u64 units, __u64 q)
{
	return units * (q >> FW_GCRA_FRAC) +
	       ((units * (q & ((1ULL << FW_GCRA_FRAC) - 1))) >> FW_GCRA_FRAC);
}


/* fw_bucket_take choosing its clock: `coarse` is fw_coarse_now() (read once per packet by the
 * caller), `exact` the lazily read bpf_ktime_get_ns() of the packet. */
#define fw_bucket_take_auto(tat_p, units, rate, burst, coarse, exact_expr)                     \
	({                                                                                     \
		__u64 __b = (burst) ? (burst) : (rate);                                        \
		__u64 __w = __b * FW_NSEC_PER_SEC / (rate);                                    \
		__u64 __now = __w >= FW_COARSE_MIN_WINDOW_TICKS * fw_tick_ns() && fw_tick_ns() \
				      ? (coarse)                                               \
				      : (exact_expr);                                          \
		fw_gcra_take((tat_p), __now, (units) * FW_NSEC_PER_SEC / (rate), __w);         \
	})

#endif /* FW_GCRA_H */
