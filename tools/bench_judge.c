/*  bench_judge.c - flot_bench_judge: what one judgement of the canary judge
    costs, against sorting the same samples.

    For 1,000 and 10,000 samples per side (lognormal latencies, the canary
    10% slower, fixed seed), times flot_judge_metric (copying, sorting, the
    Mann-Whitney test, the Hodges-Lehmann estimate and its interval: three
    order statistics of the m*n differences and the neighbour of the middle
    one, selected without forming them,
    then the verdict) in each mode, and, in the same run, qsort of the same
    2m doubles: the floor any rank-based judgement pays. Prints the time per
    judgement, the qsort time and their ratio (best of several rounds).

    Usage: flot_bench_judge [rounds]   (default 7). Exit status 0, or 1 if
    the judge fails, 2 for a usage error.
*/
#include "flotilla/judge.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint64_t
s_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
s_uniform (uint64_t *state)
{
    return ((double) (s_next (state) >> 11) + 0.5) / 9007199254740992.0;
}

static void
s_lognormal (uint64_t seed, double *v, size_t n, double median, double sigma)
{
    for (size_t i = 0; i < n; i++) {
        double z = sqrt (-2 * log (s_uniform (&seed))) * cos (2 * M_PI * s_uniform (&seed));
        v [i] = median * exp (sigma * z);
    }
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

//  Best time of rounds of qsort over a fresh copy of both sides.
static double
s_time_qsort (const double *canary, const double *baseline, size_t n, int rounds)
{
    double *all = malloc (2 * n * sizeof (double));
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        memcpy (all, canary, n * sizeof (double));
        memcpy (all + n, baseline, n * sizeof (double));
        double start = s_now ();
        qsort (all, 2 * n, sizeof (double), s_compare);
        double took = s_now () - start;
        if (took < best)
            best = took;
    }
    free (all);
    return best;
}

static int
s_time_judge (flot_judge_mode_t mode, const double *canary, const double *baseline,
              size_t n, int rounds, double *best_p, flot_judge_verdict_t *verdict)
{
    flot_judge_metric_t metric;
    flot_judge_metric_defaults (&metric);
    metric.name = "latency";
    metric.mode = mode;
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double start = s_now ();
        if (flot_judge_metric (&metric, canary, n, baseline, n, verdict))
            return -1;
        double took = s_now () - start;
        if (took < best)
            best = took;
    }
    *best_p = best;
    return 0;
}

int
main (int argc, char **argv)
{
    int rounds = 7;
    if (argc > 2 || (argc == 2 && (rounds = atoi (argv [1])) < 1)) {
        fprintf (stderr, "usage: flot_bench_judge [rounds >= 1]\n");
        return 2;
    }
    static const size_t sizes [] = { 1000, 10000 };
    printf ("%-8s %-15s %12s %12s %8s  %s\n", "samples", "mode", "judge ms", "qsort ms",
            "ratio", "verdict");
    for (size_t s = 0; s < sizeof (sizes) / sizeof (sizes [0]); s++) {
        size_t n = sizes [s];
        double *canary = malloc (n * sizeof (double));
        double *baseline = malloc (n * sizeof (double));
        s_lognormal (1000 + n, baseline, n, 0.200, 0.4);
        s_lognormal (2000 + n, canary, n, 0.220, 0.4);
        double sort_time = s_time_qsort (canary, baseline, n, rounds);
        for (int mode = 0; mode < 2; mode++) {
            double judge_time;
            flot_judge_verdict_t verdict;
            if (s_time_judge ((flot_judge_mode_t) mode, canary, baseline, n, rounds,
                              &judge_time, &verdict)) {
                fprintf (stderr, "flot_bench_judge: %s\n", verdict.reason);
                return 1;
            }
            printf ("%-8zu %-15s %12.3f %12.3f %8.1f  %s\n", n,
                    flot_judge_mode_name ((flot_judge_mode_t) mode), judge_time * 1e3,
                    sort_time * 1e3, judge_time / sort_time,
                    flot_judge_class_name (verdict.cls));
        }
        free (canary);
        free (baseline);
    }
    printf ("(per side; qsort sorts both sides' 2 x samples doubles; best of %d rounds;\n"
            " the judge sorts each side, then selects 3 of the samples^2 differences\n and the neighbour of the middle one)\n", rounds);
    return 0;
}
