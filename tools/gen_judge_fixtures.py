#!/usr/bin/python3
"""gen_judge_fixtures.py - writes tests/unit/judge_fixtures.h, the reference
values that tests/unit/test_judge.c holds the canary judge's statistics to.

For each case (two samples and a confidence level) it records:
  - U of x and the two-sided p-value from scipy.stats.mannwhitneyu
    (method="asymptotic", use_continuity=True), the reference the judge
    claims to match;
  - the Hodges-Lehmann estimate, numpy's median of all the differences
    x_i - y_j (formed here in full: the C code must not need to);
  - the confidence interval by an independent implementation of R's
    wilcox.test(conf.int=TRUE, exact=FALSE, correct=TRUE): a root finder
    (scipy.optimize.brentq) on the standardised rank-sum statistic of
    (x - d, y), with its tie correction recomputed at every d, as R and
    Kayenta's port do. The C code instead selects order statistics of the
    differences; this script also checks that the two agree, so a case where
    they would not is caught here, before the C test.

Run it with Debian's python3 (numpy, scipy) from the repository root:
    /usr/bin/python3 tools/gen_judge_fixtures.py
The build never needs scipy: the header is committed.
"""
import math
import os
import sys

import numpy as np
from scipy import optimize, stats

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "unit",
                   "judge_fixtures.h")


def r_wilcox_ci(x, y, confidence):
    """R's asymptotic two-sample interval, by root finding (as R and Kayenta)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    nx, ny = len(x), len(y)
    mumin = x.min() - y.max()
    mumax = x.max() - y.min()
    if mumin == mumax:
        #  Every difference is the same: R stops ("all observations are
        #  tied"), Kayenta adds noise; the limit of both is this point.
        return mumin, mumax

    def wdiff(d, zq):
        dr = np.concatenate([x - d, y])
        ranks = stats.rankdata(dr)
        _, ties = np.unique(dr, return_counts=True)
        ties = ties.astype(float)
        dz = ranks[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
        correction = np.sign(dz) * 0.5
        sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1)
                          - (ties ** 3 - ties).sum() / ((nx + ny) * (nx + ny - 1))))
        if sigma == 0:
            raise ValueError("all observations are tied")
        return (dz - correction) / sigma - zq

    scale = max(abs(mumin), abs(mumax), 1e-300)

    def root(zq):
        f_lower = wdiff(mumin, zq)
        f_upper = wdiff(mumax, zq)
        if f_lower <= 0:
            return mumin
        if f_upper >= 0:
            return mumax
        return optimize.brentq(wdiff, mumin, mumax, args=(zq,), xtol=scale * 1e-13,
                               rtol=1e-15, maxiter=2000)

    zq = stats.norm.isf((1 - confidence) / 2)
    return root(zq), root(-zq)


def order_statistic_ci(x, y, confidence):
    """The judge's method, computed by brute force, to cross-check."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    m, n = len(x), len(y)
    d = np.sort(np.subtract.outer(x, y).ravel())
    big_n = m + n

    def tie_term(v):
        _, t = np.unique(v, return_counts=True)
        t = t.astype(float)
        return (t ** 3 - t).sum()

    s = math.sqrt(m * n / 12 * ((big_n + 1) - (tie_term(x) + tie_term(y)) / (big_n * (big_n - 1))))
    z = stats.norm.isf((1 - confidence) / 2)
    k = math.floor(m * n / 2 - z * s - 0.5) + 1
    k = min(max(k, 1), m * n)
    return d[k - 1], d[m * n - k]


def case(name, x, y, confidence=0.98):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    res = stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided",
                             method="asymptotic")
    estimate = float(np.median(np.subtract.outer(np.array(x), np.array(y))))
    lo, hi = r_wilcox_ci(x, y, confidence)
    blo, bhi = order_statistic_ci(x, y, confidence)
    scale = max(max(abs(v) for v in x), max(abs(v) for v in y), 1e-300)
    if abs(lo - blo) > 1e-9 * scale or abs(hi - bhi) > 1e-9 * scale:
        sys.exit("%s: R-style interval %r..%r differs from the order statistics %r..%r"
                 % (name, lo, hi, blo, bhi))
    p = float(res.pvalue)
    return dict(name=name, x=x, y=y, confidence=confidence, u=float(res.statistic), p=p,
                estimate=estimate, ci_low=float(lo), ci_high=float(hi), scale=scale)


def cases():
    rng = np.random.default_rng(20240611)
    out = []
    #  Small samples, sizes 1..10, no ties, shifts of both signs.
    for m, n, shift in [(1, 1, 0.5), (1, 2, -0.3), (2, 1, 1.0), (2, 2, 0.0), (3, 3, 2.0),
                        (3, 4, -1.5), (4, 4, 0.1), (5, 5, 1.0), (5, 6, -0.7), (6, 6, 0.0),
                        (7, 7, 3.0), (8, 8, -2.0), (9, 9, 0.4), (10, 10, 1.2),
                        (10, 10, -0.25), (1, 10, 0.8), (10, 1, -0.8)]:
        x = rng.normal(10 + shift, 1, m)
        y = rng.normal(10, 1, n)
        out.append(case("small_%dx%d_shift_%g" % (m, n, shift), x, y))
    #  Ties: integer-valued data, heavy ties, tied across sides.
    out.append(case("ties_small_ints", [1, 2, 2, 3, 3, 3], [2, 2, 3, 4]))
    out.append(case("ties_counts", rng.poisson(3, 12), rng.poisson(4, 15)))
    out.append(case("ties_counts_shifted", rng.poisson(8, 30), rng.poisson(5, 30)))
    out.append(case("ties_two_values", [0, 0, 0, 1, 1, 0, 1, 0], [0, 0, 0, 0, 1, 0, 0, 0, 0]))
    out.append(case("ties_rounded_latency", np.round(rng.lognormal(-1.6, 0.3, 40), 2),
                    np.round(rng.lognormal(-1.7, 0.3, 40), 2)))
    out.append(case("ties_within_x_only", [5, 5, 5, 6, 6, 7], [4.5, 5.5, 6.5, 7.5, 8.5]))
    #  All ties, and each side constant.
    out.append(case("all_ties", [3, 3, 3, 3], [3, 3, 3]))
    out.append(case("all_ties_size_1", [7], [7]))
    out.append(case("each_side_constant_up", [2, 2, 2, 2, 2], [1, 1, 1, 1, 1]))
    out.append(case("each_side_constant_down", [0.5, 0.5, 0.5], [0.75, 0.75, 0.75, 0.75]))
    #  Unequal sizes.
    out.append(case("unequal_3x17", rng.normal(1, 0.2, 3), rng.normal(1.1, 0.2, 17)))
    out.append(case("unequal_1x50", [0.3], rng.normal(0.2, 0.05, 50)))
    out.append(case("unequal_60x7", rng.normal(50, 10, 60), rng.normal(40, 10, 7)))
    out.append(case("unequal_150x40", rng.exponential(2.0, 150), rng.exponential(2.5, 40)))
    #  Confidence levels.
    for conf in (0.80, 0.90, 0.95, 0.99, 0.999):
        out.append(case("conf_%g" % conf, rng.normal(0.5, 1, 25), rng.normal(0, 1, 20), conf))
    #  Scales and signs.
    out.append(case("tiny_scale", rng.normal(1e-3, 1e-4, 30), rng.normal(1.1e-3, 1e-4, 30)))
    out.append(case("huge_scale", rng.normal(5e6, 4e5, 30), rng.normal(4.8e6, 4e5, 30)))
    out.append(case("negative_values", rng.normal(-20, 3, 25), rng.normal(-18, 3, 25)))
    #  Large samples, shifts of both signs, lognormal latencies.
    out.append(case("large_200_equal", rng.lognormal(-1.6, 0.4, 200), rng.lognormal(-1.6, 0.4, 200)))
    out.append(case("large_200_up", rng.lognormal(-1.5, 0.4, 200), rng.lognormal(-1.6, 0.4, 200)))
    out.append(case("large_500_down", rng.normal(95, 10, 500), rng.normal(100, 10, 500)))
    out.append(case("large_800x300", rng.normal(0.02, 0.01, 800), rng.normal(0.021, 0.01, 300)))
    out.append(case("large_1000_up", rng.lognormal(0.1, 0.5, 1000), rng.lognormal(0.0, 0.5, 1000)))
    out.append(case("large_2000_down", rng.lognormal(-0.05, 0.3, 2000), rng.lognormal(0.0, 0.3, 2000)))
    out.append(case("large_2000_ties", rng.poisson(20, 2000), rng.poisson(21, 2000), 0.95))
    out.append(case("large_2000x1500_equal", rng.normal(3, 1, 2000), rng.normal(3, 1, 1500)))
    return out


def c_array(values):
    lines = []
    for i in range(0, len(values), 4):
        lines.append("    " + ", ".join(repr(v) for v in values[i:i + 4]) + ",")
    return "\n".join(lines)


def main():
    all_cases = cases()
    parts = ["/*  judge_fixtures.h - reference values for test_judge.c, GENERATED by",
             "    tools/gen_judge_fixtures.py (scipy %s, numpy %s): do not edit."
             % (__import__("scipy").__version__, np.__version__),
             "",
             "    u, p: scipy.stats.mannwhitneyu(x, y, method=\"asymptotic\",",
             "    use_continuity=True, alternative=\"two-sided\"); estimate: numpy's",
             "    median of every x_i - y_j; ci_low, ci_high: R's wilcox.test interval by",
             "    root finding (an independent implementation); scale: the largest |value|,",
             "    for tolerances.  */",
             "#ifndef JUDGE_FIXTURES_H_INCLUDED",
             "#define JUDGE_FIXTURES_H_INCLUDED",
             "",
             "#include <stddef.h>",
             "",
             "typedef struct {",
             "    const char *name;",
             "    double confidence;",
             "    const double *x;",
             "    size_t nx;",
             "    const double *y;",
             "    size_t ny;",
             "    double u, p, estimate, ci_low, ci_high, scale;",
             "} judge_fixture_t;",
             ""]
    for i, c in enumerate(all_cases):
        parts.append("static const double s_fixture_%d_x [] = {  /*  %s  */" % (i, c["name"]))
        parts.append(c_array(c["x"]))
        parts.append("};")
        parts.append("static const double s_fixture_%d_y [] = {" % i)
        parts.append(c_array(c["y"]))
        parts.append("};")
    parts.append("")
    parts.append("static const judge_fixture_t s_judge_fixtures [] = {")
    for i, c in enumerate(all_cases):
        parts.append("    { \"%s\", %r, s_fixture_%d_x, %d, s_fixture_%d_y, %d,"
                     % (c["name"], c["confidence"], i, len(c["x"]), i, len(c["y"])))
        parts.append("      %r, %r, %r, %r, %r, %r },"
                     % (c["u"], c["p"], c["estimate"], c["ci_low"], c["ci_high"], c["scale"]))
    parts.append("};")
    parts.append("#define JUDGE_FIXTURE_COUNT (sizeof (s_judge_fixtures) / sizeof (s_judge_fixtures [0]))")
    parts.append("")
    parts.append("#endif")
    with open(OUT, "w") as f:
        f.write("\n".join(parts) + "\n")
    print("%d cases written to %s" % (len(all_cases), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
