#!/usr/bin/env python3
"""Build the synthetic-prompt corpus of aiperf-rs from real ShareGPT prompts.

Provenance and licence of the input
-----------------------------------
Input: ``sharegpt/sample.json`` of the shared test data (1,000 real ShareGPT-V3
first-turn user prompts), taken unchanged from the public repository
ml-energy/leaderboard-v2 @ 30c001fb0faba5bd7970b44f92336778bd3280be :
``sharegpt/ShareGPT_V3_filtered_1000.json`` (repository licence Apache-2.0; the text
comes from the Hugging Face dataset ``anon8231489123/ShareGPT_Vicuna_unfiltered``,
listed there as Apache-2.0; it is user-shared ChatGPT conversations).

AIPerf itself samples prompts from Shakespeare; no copy of that file was available,
so aiperf-rs uses real English prose from ShareGPT instead. Only the token
statistics of the corpus matter for benchmarking (the prompts are random windows).

What it does
------------
* reads every first human turn;
* drops prompts that are mostly code or markup (share of code punctuation,
  indented lines, code fences) or mostly non-ASCII;
* maps typographic quotes, dashes, ellipses and no-break spaces to ASCII;
* splits each kept prompt into lines, normalises whitespace inside each line
  (runs of spaces/tabs -> one space, strip), drops empty lines and lines that still
  contain non-ASCII characters, and drops exact duplicate lines;
* writes one paragraph per line to ``services/dataset-manager/assets/corpus.txt``.

Python 3 standard library only. Usage (from the repository root)::

    python3 scripts/build-corpus.py [--input PATH] [--output PATH]

The output is deterministic for a given input file.
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_INPUT = os.path.join(REPO, "..", "shared", "data", "sharegpt", "sample.json")
DEFAULT_OUTPUT = os.path.join(REPO, "services", "dataset-manager", "assets", "corpus.txt")

CODE_CHARS = set("{}[]();=<>_\\|$#`*/&^~@")
CODE_WORDS = re.compile(
    r"^\s*(def \w+\(|class \w+[:(]|import \w|from \w+ import|#include|const \w+ =|"
    r"let \w+ =|var \w+ =|function\s*\w*\(|public |private |return\b.*;|SELECT |"
    r"console\.log|System\.out|print\(|elif |for \(|if \()"
)


# Typographic characters mapped to ASCII before filtering.
ASCII_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " ",
    "\u2022": "-", "\u200b": "",
})


def non_ascii_share(text: str) -> float:
    """Fraction of characters outside printable ASCII (plus newline/tab)."""
    if not text:
        return 1.0
    bad = sum(1 for c in text if not (32 <= ord(c) < 127 or c in "\n\t\r"))
    return bad / len(text)


def looks_like_code(text: str) -> bool:
    """Heuristic: code fences, many code symbols, or many indented/keyword lines."""
    if "```" in text:
        return True
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return True
    symbol_share = sum(1 for c in chars if c in CODE_CHARS) / len(chars)
    if symbol_share > 0.04:
        return True
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return True
    indented = sum(1 for line in lines if line.startswith(("  ", "\t")))
    keyword = sum(1 for line in lines if CODE_WORDS.search(line))
    semicolon = sum(1 for line in lines if line.rstrip().endswith((";", "{", "}")))
    return (indented + keyword + semicolon) / len(lines) > 0.2


def clean_line(line: str) -> str:
    """Collapse whitespace runs and strip."""
    return re.sub(r"\s+", " ", line).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", default=DEFAULT_INPUT)
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    with open(args.input, encoding="utf-8") as f:
        entries = json.load(f)

    kept_prompts = 0
    seen = set()
    out_lines = []
    for entry in entries:
        turns = entry.get("conversations") or []
        if not turns or turns[0].get("from") != "human":
            continue
        text = (turns[0].get("value") or "").translate(ASCII_MAP)
        if non_ascii_share(text) > 0.02 or looks_like_code(text):
            continue
        kept_prompts += 1
        for raw in text.splitlines():
            line = clean_line(raw)
            if len(line) < 2 or non_ascii_share(line) > 0.0 or line in seen:
                continue
            seen.add(line)
            out_lines.append(line)

    body = "\n".join(out_lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write(body)
    print(
        f"kept {kept_prompts} of {len(entries)} prompts, {len(out_lines)} lines, "
        f"{len(body.encode('utf-8'))} bytes -> {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
