// "did you mean …?" for a mistyped command, subcommand or option: the one known word a typo is nearest to,
// or none. Small on purpose: the candidates are a few dozen words, and the client loads this at every start.

/**
 * The optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions): the fewest
 * insertions, deletions, substitutions and swaps of two neighbours that turn `a` into `b`.
 */
export function editDistance(a: string, b: string): number {
  // Three rows suffice: the one before the previous is what a transposition looks back to.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, before[j - 2]! + 1);
      row.push(best);
    }
    before = previous;
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The candidate `word` most likely means: the only one it begins (at least two letters typed), else the one
 * nearest by editDistance, within 1 for a word of up to three letters and 2 for a longer one, when no other
 * is as near. Undefined for a word near none (garbage), or near two alike (`pusl`: push or pull?).
 * Case is ignored; the candidate comes back as declared.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const typed = word.toLowerCase();
  if (typed === '') return undefined;
  const known = [...new Set(candidates)];
  const exact = known.find((c) => c.toLowerCase() === typed);
  if (exact !== undefined) return exact;
  if (typed.length >= 2) {
    const begun = known.filter((c) => c.toLowerCase().startsWith(typed));
    if (begun.length === 1) return begun[0];
  }
  const limit = typed.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  let tied = false;
  for (const candidate of known) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      tied = false;
    } else if (distance === bestDistance) {
      tied = true;
    }
  }
  return best === undefined || tied ? undefined : best;
}
