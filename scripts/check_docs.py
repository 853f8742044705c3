#!/usr/bin/env python3
"""Checks that the paths the docs and the code's comments name exist.

Looks for repository paths (src/..., include/..., docs/..., test/...,
scripts/..., bench/..., conf/..., cmake/...) in README.md, docs/*.md and
the sources under src/ and include/, and for relative markdown links in the
docs; prints each one that does not resolve as file:line: path and exits 1
if there is any. A path may also be written relative to src/ or
include/tessera/ (route/run.c, persist/aof.h), as the code's comments do.
Usage: scripts/check_docs.py [repo root]
"""
import os
import re
import sys

TOP = r"(?:src|include|docs|test|scripts|bench|conf|cmake)"
PATH = re.compile(r"(?<![\w./-])(" + TOP + r"/[\w./-]*\w\.(?:c|h|py|sh|md|inc|conf|cmake|txt|supp))\b")
SHORT = re.compile(r"(?<![\w./-])((?:util|proto|config|types|store|route|persist|cmd|net)/[\w-]+\.[ch])\b")
LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


def exists(root, p):
    return any(os.path.exists(os.path.join(root, base, p)) for base in ("", "src", "include/tessera"))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    files = [os.path.join(root, "README.md")]
    for top in ("docs", "src", "include"):
        for d, _, names in os.walk(os.path.join(root, top)):
            files += [os.path.join(d, n) for n in names if n.endswith((".md", ".c", ".h"))]
    bad = []
    for f in sorted(files):
        rel = os.path.relpath(f, root)
        with open(f, encoding="utf-8", errors="replace") as fh:
            for no, line in enumerate(fh, 1):
                for m in PATH.finditer(line):
                    if not exists(root, m.group(1)):
                        bad.append(f"{rel}:{no}: {m.group(1)}")
                for m in SHORT.finditer(line):
                    if not exists(root, m.group(1)):
                        bad.append(f"{rel}:{no}: {m.group(1)}")
                if f.endswith(".md"):
                    for m in LINK.finditer(line):
                        target = os.path.normpath(os.path.join(os.path.dirname(f), m.group(1)))
                        if not os.path.exists(target):
                            bad.append(f"{rel}:{no}: link {m.group(1)}")
    for b in bad:
        print(b)
    print(f"docs: {len(bad)} paths that do not resolve")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
