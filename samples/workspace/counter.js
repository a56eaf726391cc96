// Counts the words of a text, most frequent first.
function countWords(text) {
  const counts = new Map();
  for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) {
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

module.exports = { countWords };
