#!/usr/bin/env python3
"""Checks that #include lines follow Tessera's one-way layers.

The layers, lowest first (docs/architecture.md, "Layers"):

    util <- proto, config <- types <- store <- route <- persist <- cmd <- script <- net <- main

A file may include headers of its own layer and of lower layers only; proto
and config sit side by side and do not include each other. Only net/ and
main may include <uv.h>; only script/ includes Lua's headers. A file's layer is its folder: src/<layer>/x.c,
src/<layer>/x.h (a header private to that folder),
include/tessera/<layer>/x.h (a header other folders may use); src/main.c
and src/tools/ are `main`. A header under include/tessera/ must be used by
some folder other than its own (else it belongs in src/<layer>/).

Prints every offending #include line as file:line: text, then the counts;
exits 1 when there is any upward include, folder cycle, misplaced header,
libuv outside net/ and main, or unresolvable include.
Usage: scripts/check_layers.py [repo root]
"""
import os
import re
import sys

ORDER = ["util", "proto", "config", "types", "store", "route", "persist", "cmd", "script", "net", "main"]
RANK = {"util": 0, "proto": 1, "config": 1, "types": 2, "store": 3, "route": 4,
        "persist": 5, "cmd": 6, "script": 7, "net": 8, "main": 9}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s+<([^>]+)>')
# libuv is the network layer's: below it nothing knows there is an event loop.
LIBUV_LAYERS = {"net", "main"}
# Lua is the scripting layer's.
LUA_HEADERS = {"lua.h", "lauxlib.h", "lualib.h", "lua-cjson.h", "lua-bitop.h"}


def layer_of(path):
    """The layer of a repository-relative path, or None (not layered)."""
    parts = path.split("/")
    if parts[0] == "src":
        if len(parts) == 2 or parts[1] == "tools":
            return "main"
        return parts[1] if parts[1] in RANK else None
    if parts[:2] == ["include", "tessera"] and len(parts) == 4 and parts[2] in RANK:
        return parts[2]
    return None


def resolve(root, src, inc):
    """The repository-relative path an include names, or None."""
    here = os.path.dirname(src)
    for base in (here, "include", "src"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def main():
    args = sys.argv[1:]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    files = []
    for top in ("src", "include"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".c", ".h", ".inc")):
                    files.append(os.path.relpath(os.path.join(d, n), root))
    files.sort()
    problems = []
    upward = 0
    edges = {}          # (from layer, to layer) -> first "file:line"
    users = {}          # public header -> set of layers including it
    for f in files:
        lf = layer_of(f)
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            for no, line in enumerate(fh, 1):
                sm = SYSTEM_INCLUDE.match(line)
                if sm and sm.group(1) == "uv.h" and lf not in LIBUV_LAYERS:
                    problems.append(f"{f}:{no}: libuv outside net/ and main: {line.strip()}")
                if sm and sm.group(1).split("/")[-1] in LUA_HEADERS and lf != "script":
                    problems.append(f"{f}:{no}: Lua outside script/: {line.strip()}")
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = resolve(root, f, m.group(1))
                if target is None:
                    problems.append(f"{f}:{no}: unresolved include: {line.strip()}")
                    continue
                lt = layer_of(target)
                if lf is None or lt is None:
                    if target.startswith("include/") or target.startswith("src/"):
                        problems.append(f"{f}:{no}: outside any layer: {line.strip()}")
                    continue
                if target.startswith("include/"):
                    users.setdefault(target, set()).add(lf)
                if target.startswith("src/") and os.path.dirname(target) != os.path.dirname(f) \
                        and not target.endswith(".inc"):
                    problems.append(f"{f}:{no}: private header of another folder: {line.strip()}")
                if lf == lt:
                    continue
                edges.setdefault((lf, lt), f"{f}:{no}")
                if RANK[lt] >= RANK[lf]:
                    upward += 1
                    problems.append(f"{f}:{no}: {lf} includes {lt} (upward): {line.strip()}")
    # Folder cycles: pairs of layers that include each other.
    cycles = sorted({tuple(sorted(p)) for p in edges if (p[1], p[0]) in edges})
    for a, b in cycles:
        problems.append(f"folder cycle {a} <-> {b}: {edges[(a, b)]} and {edges[(b, a)]}")
    for h in sorted(users):
        if users[h] == {layer_of(h)}:
            problems.append(f"{h}: public header used only by its own folder (move it to src/{layer_of(h)}/)")
    for p in problems:
        print(p)
    other = len(problems) - upward - len(cycles)
    print(f"layers: {upward} upward include lines, {len(cycles)} folder cycles, {other} other problems")
    if problems:
        print("layer check failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
