"""What the driver says of noise: a bootstrap interval for the ratio of two
medians of rounds, the spread of a set of rounds, and how many rounds a
difference of a given size takes to resolve. Plain Python, no numpy."""
import math
import random
import statistics


def ratio_interval(xs, ys, level=0.95, resamples=2000, seed=20261201):
    """(low, high): the bootstrap interval of median(xs) / median(ys), the
    rounds of each side resampled with replacement on their own (the
    rounds are interleaved, not paired). None with fewer than 2 rounds on a
    side or a non-positive median."""
    xs = [x for x in xs if x is not None]
    ys = [y for y in ys if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        mx = statistics.median(rng.choices(xs, k=len(xs)))
        my = statistics.median(rng.choices(ys, k=len(ys)))
        if my > 0:
            ratios.append(mx / my)
    if len(ratios) < resamples // 2:
        return None
    ratios.sort()
    tail = (1 - level) / 2
    lo = ratios[int(math.floor(tail * (len(ratios) - 1)))]
    hi = ratios[int(math.ceil((1 - tail) * (len(ratios) - 1)))]
    return lo, hi


def within_noise(interval):
    return interval is not None and interval[0] <= 1 <= interval[1]


def spread(xs):
    """Robust coefficient of variation: 1.4826 * MAD / median."""
    xs = [x for x in xs if x is not None]
    if len(xs) < 3:
        return None
    m = statistics.median(xs)
    if m <= 0:
        return None
    return 1.4826 * statistics.median(abs(x - m) for x in xs) / m


def rounds_to_resolve(cv, diff=0.03, z=1.96):
    """Rounds per side for a ratio of medians of two runs of spread cv to
    tell a difference of diff from none at about 95%: the median's standard
    error is 1.2533 sigma / sqrt(n), and the ratio carries two of them."""
    if not cv:
        return None
    return max(2, math.ceil(2 * (z * 1.2533 * cv / diff) ** 2))
