#!/usr/bin/env python3
"""repetition.py — how much a text repeats itself, in words.

    bench/repetition.py TEXT [TEXT ...]     (a file, or - for standard input)
    bench/repetition.py --json TEXT         one JSON object per text

A word is a run of characters between whitespace, compared exactly (case and punctuation
included): "verbatim" means what a reader of the wall would see twice.

  longest repeated span  the most words in a row that appear, in the same order, at two
                         different places in the text (the places may overlap, as in a
                         loop: "a b a b a" repeats "a b a" at words 1 and 3)
  distinct n-grams       of all the n-word sequences in the text, the share that are
                         different, for n = 1..4 (100% for 4: no four words in a row
                         appear twice; a paragraph said twelve times drives it down)

tests/test_reflect.c computes the same two figures in C (the CI guard on stories260K);
keep the definitions in step.
"""
import json
import sys


def words_of(text):
    return text.split()


def occurs_twice(ids, length):
    """True when some `length` consecutive words appear at two different places."""
    seen = set()
    for i in range(len(ids) - length + 1):
        key = tuple(ids[i:i + length])
        if key in seen:
            return True
        seen.add(key)
    return False


def longest_repeated_span(words):
    """The longest run of words found twice, with where its two copies start.

    A span that repeats contains shorter spans that repeat, so the longest length is found
    by bisection over lengths, each tested with a set of word tuples."""
    index = {}
    ids = [index.setdefault(w, len(index)) for w in words]
    lo, hi = 0, max(len(ids) - 1, 0)  # lo repeats (0 trivially), hi + 1 does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if occurs_twice(ids, mid):
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return 0, -1, -1
    first = {}
    for i in range(len(ids) - lo + 1):
        key = tuple(ids[i:i + lo])
        if key in first:
            return lo, first[key], i
        first[key] = i
    return lo, -1, -1  # unreachable: lo was found repeated


def distinct_share(words, n):
    total = len(words) - n + 1
    if total <= 0:
        return 100.0
    return 100.0 * len({tuple(words[i:i + n]) for i in range(total)}) / total


def measure(words):
    span, a, b = longest_repeated_span(words)
    return {
        "words": len(words),
        "longest_repeated_span": span,
        "span_starts": [a, b],
        "span_text": " ".join(words[a:a + span]) if span else "",
        "distinct_1": distinct_share(words, 1),
        "distinct_2": distinct_share(words, 2),
        "distinct_3": distinct_share(words, 3),
        "distinct_4": distinct_share(words, 4),
    }


def read(path):
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def report(name, m):
    text = m["span_text"]
    if len(text) > 160:
        text = text[:157] + "..."
    print(f"{name}: {m['words']} words")
    print(f"  longest repeated span  {m['longest_repeated_span']} words"
          + (f" (words {m['span_starts'][0]} and {m['span_starts'][1]}): {text}" if text else ""))
    print("  distinct n-grams       " + "  ".join(
        f"{n}: {m[f'distinct_{n}']:.1f}%" for n in range(1, 5)))


def main(argv):
    as_json = "--json" in argv
    paths = [a for a in argv if a != "--json"]
    if not paths or any(a in ("-h", "--help") for a in paths):
        print(__doc__.strip())
        return 0 if paths else 2
    for path in paths:
        try:
            text = read(path)
        except OSError as e:
            print(f"repetition.py: {path}: {e.strerror}", file=sys.stderr)
            return 1
        m = measure(words_of(text))
        if as_json:
            m["file"] = path
            print(json.dumps(m))
        else:
            report(path, m)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
