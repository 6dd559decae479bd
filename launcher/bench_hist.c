/*
 * The benchmark's latency histogram (HdrHistogram's idea, much smaller):
 * a value's bucket is its top BENCH_HIST_SUB_BITS + 1 significant bits, so
 * bucket width grows with the value and relative error stays bounded. No
 * I/O, no allocation. The last file of raftctl.
 */
#include "launcher/bench_hist.h"

#include <string.h>

#include "common/invariant.h"

#define SUB_COUNT (1u << BENCH_HIST_SUB_BITS) /* 64 */
#define EXACT_COUNT (2u * SUB_COUNT)          /* 128 */

/* Position of the highest set bit of v (v > 0). */
static unsigned top_bit(uint64_t v)
{
    ASSERT(v > 0);
    return 63u - (unsigned)__builtin_clzll(v);
}

/* The bucket of v (already clamped to BENCH_HIST_MAX_US). */
static uint32_t bucket_of(uint64_t v)
{
    if (v < EXACT_COUNT) {
        return (uint32_t)v;
    }
    unsigned k = top_bit(v); /* 7..39 */
    unsigned shift = k - BENCH_HIST_SUB_BITS;
    uint64_t sub = (v >> shift) - SUB_COUNT; /* 0..63 */
    uint32_t i = EXACT_COUNT + (k - 7) * SUB_COUNT + (uint32_t)sub;
    ASSERT(i < BENCH_HIST_BUCKETS);
    return i;
}

/* The largest value that falls into bucket i. */
static uint64_t bucket_high(uint32_t i)
{
    ASSERT(i < BENCH_HIST_BUCKETS);
    if (i < EXACT_COUNT) {
        return i;
    }
    uint32_t octave = (i - EXACT_COUNT) / SUB_COUNT; /* k - 7 */
    uint64_t sub = (i - EXACT_COUNT) % SUB_COUNT;
    unsigned shift = octave + 7 - BENCH_HIST_SUB_BITS;
    return ((SUB_COUNT + sub + 1) << shift) - 1;
}

void bench_hist_init(struct bench_hist *h)
{
    ASSERT(h != NULL);
    memset(h, 0, sizeof(*h));
}

void bench_hist_add(struct bench_hist *h, uint64_t us)
{
    ASSERT(h != NULL);
    if (us > BENCH_HIST_MAX_US) {
        us = BENCH_HIST_MAX_US;
    }
    h->counts[bucket_of(us)]++;
    h->n++;
    h->sum_us += us;
    if (us > h->max_us) {
        h->max_us = us;
    }
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    ASSERT(dst != NULL);
    ASSERT(src != NULL);
    for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        dst->counts[i] += src->counts[i];
    }
    dst->n += src->n;
    dst->sum_us += src->sum_us;
    if (src->max_us > dst->max_us) {
        dst->max_us = src->max_us;
    }
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double q)
{
    ASSERT(h != NULL);
    ASSERT(q > 0.0 && q <= 1.0);
    if (h->n == 0) {
        return 0;
    }
    double want = q * (double)h->n;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) {
        rank++; /* The ceiling, without libm. */
    }
    if (rank < 1) {
        rank = 1;
    }
    if (rank > h->n) {
        rank = h->n;
    }
    uint64_t seen = 0;
    for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t high = bucket_high(i);
            return high < h->max_us ? high : h->max_us;
        }
    }
    UNREACHABLE();
}

uint64_t bench_hist_mean(const struct bench_hist *h)
{
    ASSERT(h != NULL);
    return h->n == 0 ? 0 : h->sum_us / h->n;
}
