/** The largest number of timestamps inside any half-open window [t, t + width): the rate limit's contract. */
export function maxInWindow(times: number[], width: number): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= width) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}
