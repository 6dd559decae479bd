/*
 * A latency histogram for `raftctl bench`: log-linear buckets (exact below
 * 128 us, then 64 buckets per power of two, so a reported percentile is
 * within 1.6% of the true value), the exact maximum, and percentiles by
 * rank. Fixed size, no allocation. Read launcher/bench_hist.c next.
 */
#ifndef RAFT_LAUNCHER_BENCH_HIST_H
#define RAFT_LAUNCHER_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_MAX_US ((UINT64_C(1) << 40) - 1) /* Larger is clamped. */
/* 128 exact buckets, then 64 per octave for octaves 7..39. */
#define BENCH_HIST_BUCKETS (128 + (40 - 7) * 64)

struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t n;
    uint64_t max_us;
    uint64_t sum_us;
};

void bench_hist_init(struct bench_hist *h);

/* Records one latency in microseconds. */
void bench_hist_add(struct bench_hist *h, uint64_t us);

/* Adds every sample of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* The value at or below which a fraction q (0 < q <= 1) of the samples
 * lie: the upper edge of the bucket holding the ceil(q * n)-th smallest
 * sample, never above the exact maximum. 0 for an empty histogram. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double q);

/* Mean in microseconds; 0 when empty. */
uint64_t bench_hist_mean(const struct bench_hist *h);

#endif
