/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The floor for TC benchmarks: a classifier that does nothing but pass. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
