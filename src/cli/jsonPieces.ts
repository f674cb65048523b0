// JSON.stringify(value, null, 2), in pieces: one element of a large array
// at a time. A busy host's summary has a row per uffd (a thousand rows are
// ~5 MB of text); made whole, that string and its UTF-8 copy were most of
// stat's peak memory at exit (bench/README.md: busy host, peak RSS).

/** The text of JSON.stringify(value, null, 2), byte for byte, as a sequence
 *  of strings: the array at value[key] comes one element per piece. */
export function* jsonPieces(value: Record<string, unknown>, key: string): Generator<string> {
  const rows = value[key];
  if (!Array.isArray(rows) || rows.length === 0) {
    yield JSON.stringify(value, null, 2);
    return;
  }
  // a marker no real value can produce: a string holding a NUL
  const marker = `"\\u0000${key}"`;
  const [head, tail] = JSON.stringify({ ...value, [key]: '\u0000' + key }, null, 2).split(marker);
  yield head + '[';
  for (let i = 0; i < rows.length; i++) {
    // an element of an array two levels deep: every line indented 4 more
    yield (i ? ',\n    ' : '\n    ') + JSON.stringify(rows[i] ?? null, null, 2).replace(/\n/g, '\n    ');
  }
  yield '\n  ]' + tail;
}
