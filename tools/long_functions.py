#!/usr/bin/env python3
"""Functions over a line budget and files over a size budget in src/ (issue #15's limits).

Usage: tools/long_functions.py [--max-function 120] [--max-file 600] [ROOT=src]

A function is found the way this codebase is written (clang-format, Google-based style): a line at
the namespace's indentation (column 0) that opens a body with `{` after a parameter list, up to the
`}` back at column 0. Lambdas and class members defined inside classes count with their enclosing
definition. A file whose first lines say why it is over 600 lines, or a function with a comment just
above it saying why it is over 120 ("on purpose", "600 lines", "120 lines"), is listed as excused
and not counted as a failure.
Exit status 1 when anything is over budget.
"""
import argparse
import pathlib
import re
import sys



def functions(lines):
    """(first line, length, head) of every definition that starts at column 0."""
    i = 0
    while i < len(lines):
        line = lines[i]
        head_ok = (line[:1].isalpha() or line[:1] == "_") and "(" in line and not line.rstrip().endswith(";")
        one_liner = "{" in line and line.count("{") == line.count("}")
        if head_ok and not one_liner and not line.startswith(("namespace", "struct", "class", "enum", "union", "extern", "using", "template", "#")):
            # The body opens on this line or a continuation line (parameters, an initializer list).
            open_at = None
            for k in range(i, min(i + 8, len(lines))):
                if lines[k].rstrip().endswith(";") and "{" not in lines[k]:
                    break
                if lines[k].rstrip().endswith("{"):
                    open_at = k
                    break
            if open_at is not None:
                depth = 0
                for j in range(open_at, len(lines)):
                    depth += lines[j].count("{") - lines[j].count("}")
                    if depth <= 0:
                        yield i + 1, j - i + 1, line.strip()[:90]
                        i = j
                        break
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-function", type=int, default=120)
    ap.add_argument("--max-file", type=int, default=600)
    ap.add_argument("root", nargs="?", default="src")
    a = ap.parse_args()
    bad = 0
    for path in sorted(pathlib.Path(a.root).rglob("*")):
        if path.suffix not in (".cpp", ".h", ".cu", ".cuh", ".inc"):
            continue
        text = path.read_text(errors="replace").splitlines()
        says_why = lambda lines: any(w in l for l in lines for w in ("on purpose", "600 lines", "120 lines", "long by design"))
        excused = says_why(text[:6])
        if len(text) > a.max_file:
            print(f"{path}: {len(text)} lines{' (long by design)' if excused else ''}")
            bad += 0 if excused else 1
        for line_no, n, head in functions(text):
            if n > a.max_function:
                why = says_why(text[max(0, line_no - 8):line_no - 1])
                print(f"{path}:{line_no}: function of {n} lines{' (long on purpose)' if why else ''}: {head}")
                bad += 0 if why else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
