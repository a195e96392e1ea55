def median(values):
    """Median of a non-empty list of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return ordered[middle]  # bug: an even count needs the mean of the two middle values
    return ordered[middle]


def count_primes(limit):
    """Number of primes below limit (slow: trial division by every smaller number)."""
    count = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, n)):
            count += 1
    return count


if __name__ == "__main__":
    print(median([3, 1, 4, 1]), count_primes(2000))
