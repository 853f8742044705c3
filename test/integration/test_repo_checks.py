"""The repository checks the test command runs: scripts/check_layers.py
(one-way layers) and scripts/check_docs.py (paths named in docs and
comments exist). Each is run on the real tree (it must pass) and on small
trees built here with one fault each (it must fail and name the line)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = os.path.join(ROOT, "scripts", "check_layers.py")
DOCS = os.path.join(ROOT, "scripts", "check_docs.py")


def run(script, root):
    p = subprocess.run([sys.executable, script, str(root)], capture_output=True, text=True)
    return p.returncode, p.stdout


def write(root, rel, text=""):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def tree(root):
    """A minimal tree that follows the layers."""
    write(root, "include/tessera/util/buf.h", "/* buf */\n")
    write(root, "include/tessera/store/db.h", '#include "tessera/util/buf.h"\n')
    write(root, "src/util/buf.c", '#include "tessera/util/buf.h"\n')
    write(root, "src/store/db.c", '#include "tessera/store/db.h"\n#include "private.h"\n')
    write(root, "src/store/private.h", "/* private to store */\n")
    write(root, "src/cmd/x.c", '#include "tessera/store/db.h"\n')
    write(root, "src/main.c", '#include "tessera/store/db.h"\n')
    write(root, "README.md", "See `src/store/db.c` and [the notes](docs/notes.md).\n")
    write(root, "docs/notes.md", "The store: `store/db.c`, `include/tessera/util/buf.h`.\n")


def test_real_tree_passes():
    assert run(LAYERS, ROOT)[0] == 0
    assert run(DOCS, ROOT)[0] == 0


def test_clean_tree_passes(tmp_path):
    tree(tmp_path)
    rc, out = run(LAYERS, tmp_path)
    assert rc == 0, out
    assert "0 upward include lines, 0 folder cycles, 0 other problems" in out
    assert run(DOCS, tmp_path)[0] == 0


def test_upward_include_fails_with_its_line(tmp_path):
    tree(tmp_path)
    write(tmp_path, "include/tessera/cmd/cmd.h", "/* cmd */\n")
    write(tmp_path, "src/util/buf.c", '#include "tessera/util/buf.h"\n#include "tessera/cmd/cmd.h"\n')
    rc, out = run(LAYERS, tmp_path)
    assert rc == 1
    assert 'src/util/buf.c:2: util includes cmd (upward): #include "tessera/cmd/cmd.h"' in out


def test_folder_cycle_fails(tmp_path):
    tree(tmp_path)
    # proto and config share a rank: neither is upward, but both ways is a cycle.
    write(tmp_path, "include/tessera/proto/reply.h", '#include "tessera/config/config.h"\n')
    write(tmp_path, "include/tessera/config/config.h", "/* config */\n")
    write(tmp_path, "src/config/config.c", '#include "tessera/proto/reply.h"\n')
    write(tmp_path, "src/proto/reply.c", '#include "tessera/proto/reply.h"\n')
    rc, out = run(LAYERS, tmp_path)
    assert rc == 1
    assert "folder cycle config <-> proto" in out


def test_private_header_of_another_folder_fails(tmp_path):
    tree(tmp_path)
    write(tmp_path, "src/cmd/x.c", '#include "store/private.h"\n')
    rc, out = run(LAYERS, tmp_path)
    assert rc == 1
    assert "private header of another folder" in out


def test_public_header_used_by_one_folder_fails(tmp_path):
    tree(tmp_path)
    write(tmp_path, "include/tessera/util/lonely.h", "/* only util uses it */\n")
    write(tmp_path, "src/util/lonely.c", '#include "tessera/util/lonely.h"\n')
    rc, out = run(LAYERS, tmp_path)
    assert rc == 1
    assert "include/tessera/util/lonely.h: public header used only by its own folder" in out


def test_libuv_below_net_fails(tmp_path):
    tree(tmp_path)
    write(tmp_path, "src/store/db.c", '#include <uv.h>\n#include "tessera/store/db.h"\n#include "private.h"\n')
    rc, out = run(LAYERS, tmp_path)
    assert rc == 1
    assert "src/store/db.c:1: libuv outside net/ and main: #include <uv.h>" in out


def test_missing_path_in_docs_fails(tmp_path):
    tree(tmp_path)
    write(tmp_path, "docs/notes.md", "Moved: `src/store/blocking.c` and [gone](missing.md).\n")
    rc, out = run(DOCS, tmp_path)
    assert rc == 1
    assert "docs/notes.md:1: src/store/blocking.c" in out
    assert "docs/notes.md:1: link missing.md" in out
