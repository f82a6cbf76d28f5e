/*  mann_whitney.c - the Mann-Whitney U test, the Hodges-Lehmann shift and its
    confidence interval, for the canary judge (include/flotilla/judge.h says
    exactly what is computed and why).

    Pure computation. The order statistics of the m*n pairwise differences
    are selected without forming them: the differences of two sorted arrays
    form a matrix sorted along rows and columns. Each row keeps a window of
    candidate columns; every round draws a sample of candidates, takes two
    pivots around where the k-th should fall (Floyd-Rivest), counts the
    differences below each pivot with one merge-like pass (O(m + n)), and
    keeps the window that holds the k-th: about eight times fewer
    candidates a round, so some six rounds for 10^8 differences. The
    sampling uses a fixed seed, so the work never depends on the run (and
    the selected value is unique anyway).
*/
#include "flotilla/judge.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  Below this many candidates left, gather them and finish with qsort.
#define SELECT_GATHER_MIN 512

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

//  Phi^-1 (p) for 0 < p < 1: Acklam's rational approximation, polished by one
//  Halley step on erfc, which brings it to double precision.
static double
s_normal_quantile (double p)
{
    static const double a [] = {
        -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
        1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
    static const double b [] = {
        -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
        6.680131188771972e+01, -1.328068155288572e+01 };
    static const double c [] = {
        -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
        -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
    static const double d [] = {
        7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
        3.754408661907416e+00 };
    const double p_low = 0.02425;
    double x;
    if (p < p_low) {
        double q = sqrt (-2 * log (p));
        x = (((((c [0] * q + c [1]) * q + c [2]) * q + c [3]) * q + c [4]) * q + c [5])
          / ((((d [0] * q + d [1]) * q + d [2]) * q + d [3]) * q + 1);
    }
    else
    if (p <= 1 - p_low) {
        double q = p - 0.5, r = q * q;
        x = (((((a [0] * r + a [1]) * r + a [2]) * r + a [3]) * r + a [4]) * r + a [5]) * q
          / (((((b [0] * r + b [1]) * r + b [2]) * r + b [3]) * r + b [4]) * r + 1);
    }
    else {
        double q = sqrt (-2 * log (1 - p));
        x = -(((((c [0] * q + c [1]) * q + c [2]) * q + c [3]) * q + c [4]) * q + c [5])
          / ((((d [0] * q + d [1]) * q + d [2]) * q + d [3]) * q + 1);
    }
    double e = 0.5 * erfc (-x / sqrt (2)) - p;
    double u = e * sqrt (2 * M_PI) * exp (x * x / 2);
    return x - u / (1 + x * u / 2);
}

//  Sum of t^3 - t over the runs of equal values of a sorted array.
static double
s_tie_term (const double *v, size_t n)
{
    double term = 0;
    for (size_t i = 0; i < n; ) {
        size_t j = i + 1;
        while (j < n && v [j] == v [i])
            j++;
        double t = (double) (j - i);
        term += t * t * t - t;
        i = j;
    }
    return term;
}

//  The U of x (average ranks for ties) and the tie term of the pooled
//  sample, in one merge of the two sorted arrays.
static void
s_rank_sum (const double *x, size_t m, const double *y, size_t n,
            double *u_x, double *tie_term)
{
    double rank_sum = 0, ties = 0;
    size_t i = 0, j = 0, position = 0;     //  0-based rank of the next value
    while (i < m || j < n) {
        double v = (j >= n || (i < m && x [i] <= y [j])) ? x [i] : y [j];
        size_t from_x = 0, from_y = 0;
        while (i < m && x [i] == v) {
            i++;
            from_x++;
        }
        while (j < n && y [j] == v) {
            j++;
            from_y++;
        }
        double t = (double) (from_x + from_y);
        double average_rank = (double) position + (t + 1) / 2;
        rank_sum += (double) from_x * average_rank;
        ties += t * t * t - t;
        position += from_x + from_y;
    }
    *u_x = rank_sum - (double) m * ((double) m + 1) / 2;
    *tie_term = ties;
}

//  A small deterministic generator for the pivots (xorshift64*).
static uint64_t
s_next_random (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

//  Row i of the difference matrix, column c (0 <= c < n), ascending in c:
//  x[i] - y[n - 1 - c]. Ascending in i too, since rounding is monotone.
#define CELL(i, c) (x [i] - y [n - 1 - (c)])

//  For each row, the number of values < pivot (below) and <= pivot (upto),
//  and their totals. Both fall as the row (x[i]) grows, so two columns walk
//  down once: O(m + n).
static void
s_count (const double *x, size_t m, const double *y, size_t n, double pivot,
         size_t *below, size_t *upto, uint64_t *total_below, uint64_t *total_upto)
{
    size_t lt = n, le = n;
    uint64_t count_lt = 0, count_le = 0;
    for (size_t i = 0; i < m; i++) {
        while (lt > 0 && !(CELL (i, lt - 1) < pivot))
            lt--;
        while (le > 0 && !(CELL (i, le - 1) <= pivot))
            le--;
        below [i] = lt;
        upto [i] = le;
        count_lt += lt;
        count_le += le;
    }
    *total_below = count_lt;
    *total_upto = count_le;
}

//  Each round draws this many candidates and takes two pivots around where
//  the answer should fall among them (Floyd and Rivest's idea), so the
//  window shrinks about eightfold a round instead of twofold.
#define SELECT_SAMPLE   255
#define SELECT_SPREAD   16

int
flot_pairwise_difference_select (const double *x, size_t m,
                                 const double *y, size_t n,
                                 uint64_t k, double *out)
{
    if (m == 0 || n == 0 || (uint64_t) m > UINT64_MAX / (uint64_t) n)
        return -1;
    uint64_t total = (uint64_t) m * (uint64_t) n;
    if (k < 1 || k > total)
        return -1;

    //  Candidates of row i are columns lo[i] .. hi[i]-1; the columns before
    //  lo[i] hold values below the answer, those from hi[i] on values above.
    size_t *lo = calloc (m, sizeof (size_t));
    size_t *hi = malloc (m * sizeof (size_t));
    size_t *counts = malloc (4 * m * sizeof (size_t));
    uint64_t *prefix = malloc ((m + 1) * sizeof (uint64_t));
    double *sample = malloc (SELECT_SAMPLE * sizeof (double));
    if (!lo || !hi || !counts || !prefix || !sample) {
        free (lo); free (hi); free (counts); free (prefix); free (sample);
        return -1;
    }
    size_t *below_a = counts, *upto_a = counts + m;
    size_t *below_b = counts + 2 * m, *upto_b = counts + 3 * m;
    for (size_t i = 0; i < m; i++)
        hi [i] = n;
    uint64_t excluded_below = 0;        //  sum of lo[i]
    uint64_t candidates = total;
    uint64_t seed = 0x9E3779B97F4A7C15ULL ^ (k * 0xD1B54A32D192ED03ULL) ^ total;
    if (seed == 0)
        seed = 1;
    int rc = -1;
    double answer = 0;

    while (candidates > SELECT_GATHER_MIN) {
        //  Draw candidates uniformly (a binary search in the row prefix
        //  sums), sort them, and take two pivots a around and b above
        //  where rank k should fall.
        prefix [0] = 0;
        for (size_t i = 0; i < m; i++)
            prefix [i + 1] = prefix [i] + (hi [i] - lo [i]);
        for (size_t s = 0; s < SELECT_SAMPLE; s++) {
            uint64_t r = s_next_random (&seed) % candidates;
            size_t low = 0, high = m;       //  row: prefix[row] <= r < prefix[row+1]
            while (high - low > 1) {
                size_t mid = low + (high - low) / 2;
                if (prefix [mid] <= r)
                    low = mid;
                else
                    high = mid;
            }
            sample [s] = CELL (low, lo [low] + (size_t) (r - prefix [low]));
        }
        qsort (sample, SELECT_SAMPLE, sizeof (double), s_compare_double);
        double where = (double) (k - excluded_below) / (double) candidates * SELECT_SAMPLE;
        long ia = (long) where - SELECT_SPREAD, ib = (long) where + SELECT_SPREAD;
        double pivot_a = sample [ia < 0 ? 0 : ia];
        double pivot_b = sample [ib >= SELECT_SAMPLE ? SELECT_SAMPLE - 1 : ib];

        uint64_t lt_a, le_a, lt_b, le_b;
        s_count (x, m, y, n, pivot_a, below_a, upto_a, &lt_a, &le_a);
        if (k > lt_a && k <= le_a) {
            answer = pivot_a;
            rc = 0;
            break;
        }
        s_count (x, m, y, n, pivot_b, below_b, upto_b, &lt_b, &le_b);
        if (k > lt_b && k <= le_b) {
            answer = pivot_b;
            rc = 0;
            break;
        }
        //  The answer is below a, between a and b, or above b: keep that
        //  window (every round drops at least a pivot, so this ends).
        candidates = 0;
        excluded_below = 0;
        for (size_t i = 0; i < m; i++) {
            if (k <= lt_a) {
                if (hi [i] > below_a [i])
                    hi [i] = below_a [i];
            }
            else
            if (k <= lt_b) {
                if (lo [i] < upto_a [i])
                    lo [i] = upto_a [i];
                if (hi [i] > below_b [i])
                    hi [i] = below_b [i];
            }
            else
            if (lo [i] < upto_b [i])
                lo [i] = upto_b [i];
            if (hi [i] < lo [i])
                hi [i] = lo [i];        //  cannot happen; keeps the window sane
            candidates += hi [i] - lo [i];
            excluded_below += lo [i];
        }
    }
    if (rc != 0) {
        //  Few candidates left: gather and sort them.
        double *values = candidates ? malloc ((size_t) candidates * sizeof (double)) : NULL;
        uint64_t rank = k - excluded_below;
        if (values && rank >= 1 && rank <= candidates) {
            size_t used = 0;
            for (size_t i = 0; i < m; i++)
                for (size_t c = lo [i]; c < hi [i]; c++)
                    values [used++] = CELL (i, c);
            qsort (values, used, sizeof (double), s_compare_double);
            answer = values [rank - 1];
            rc = 0;
        }
        free (values);
    }
    free (lo);
    free (hi);
    free (counts);
    free (prefix);
    free (sample);
    if (rc == 0)
        *out = answer;
    return rc;
}

//  The (k+1)-th smallest difference, given that the k-th is v (k < m*n):
//  v again if more than k differences are <= v, else the least difference
//  above v, which starts some row's part above v. One pass, O(m + n).
static double
s_next_difference (const double *x, size_t m, const double *y, size_t n, double v, uint64_t k)
{
    size_t le = n;
    uint64_t count_le = 0;
    double next = INFINITY;
    for (size_t i = 0; i < m; i++) {
        while (le > 0 && !(CELL (i, le - 1) <= v))
            le--;
        count_le += le;
        if (le < n && CELL (i, le) < next)
            next = CELL (i, le);
    }
    return count_le > k ? v : next;
}

#undef CELL

int
flot_mann_whitney_sorted (const double *x, size_t m, const double *y, size_t n,
                          double confidence, flot_mann_whitney_t *out)
{
    assert (out);
    if (m == 0 || n == 0 || !(confidence > 0 && confidence < 1))
        return -1;
    if ((uint64_t) m > UINT64_MAX / (uint64_t) n)
        return -1;
    double dm = (double) m, dn = (double) n, mn = dm * dn, big_n = dm + dn;

    //  U and the two-sided asymptotic p-value, as scipy's mannwhitneyu.
    double u_x, ties;
    s_rank_sum (x, m, y, n, &u_x, &ties);
    double s = sqrt (mn / 12 * ((big_n + 1) - ties / (big_n * (big_n - 1))));
    double u = u_x > mn - u_x ? u_x : mn - u_x;
    double p_value = 1;
    if (s > 0) {
        double z = (u - mn / 2 - 0.5) / s;
        p_value = erfc (z / sqrt (2));      //  2 * (1 - Phi (z))
        if (p_value > 1)
            p_value = 1;
    }

    //  Hodges-Lehmann: the median of the differences.
    uint64_t total = (uint64_t) m * (uint64_t) n;
    double estimate, second;
    if (flot_pairwise_difference_select (x, m, y, n, (total + 1) / 2, &estimate))
        return -1;
    if (total % 2 == 0) {
        second = s_next_difference (x, m, y, n, estimate, total / 2);
        estimate = (estimate + second) / 2;
    }

    //  The interval: R's wilcox.test roots, as order statistics. Between two
    //  differences only the ties inside x and inside y remain.
    double persistent = s_tie_term (x, m) + s_tie_term (y, n);
    double s_ci = sqrt (mn / 12 * ((big_n + 1) - persistent / (big_n * (big_n - 1))));
    double z = s_normal_quantile (1 - (1 - confidence) / 2);
    double k_real = floor (mn / 2 - z * s_ci - 0.5) + 1;
    uint64_t k = k_real < 1 ? 1 : k_real > mn ? total : (uint64_t) k_real;
    double ci_low, ci_high;
    if (flot_pairwise_difference_select (x, m, y, n, k, &ci_low)
    ||  flot_pairwise_difference_select (x, m, y, n, total + 1 - k, &ci_high))
        return -1;

    out->u = u_x;
    out->p_value = p_value;
    out->estimate = estimate;
    out->ci_low = ci_low;
    out->ci_high = ci_high;
    out->ci_reached = k_real >= 1;
    return 0;
}

//  A sorted copy of values, or NULL if one is not finite (or no memory).
static double *
s_sorted_copy (const double *values, size_t count)
{
    double *copy = malloc (count * sizeof (double));
    if (!copy)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite (values [i])) {
            free (copy);
            return NULL;
        }
        copy [i] = values [i];
    }
    qsort (copy, count, sizeof (double), s_compare_double);
    return copy;
}

int
flot_mann_whitney (const double *x, size_t nx, const double *y, size_t ny,
                   double confidence, flot_mann_whitney_t *out)
{
    assert (out);
    if (nx == 0 || ny == 0 || !x || !y)
        return -1;
    double *xs = s_sorted_copy (x, nx);
    double *ys = xs ? s_sorted_copy (y, ny) : NULL;
    int rc = -1;
    if (xs && ys)
        rc = flot_mann_whitney_sorted (xs, nx, ys, ny, confidence, out);
    free (xs);
    free (ys);
    return rc;
}
