"""A MkDocs hook: links from a page to files of the repository outside docs/.

The pages are read in two places: in the repository (on a forge, in an editor), where a
link such as ``[the app](../examples/typed/app.py)`` opens the file, and on the site,
which holds only docs/. On the site such a link becomes the file's path as inline code
(``the app (`examples/typed/app.py`)``), so that the strict build still fails on a link
that leads nowhere, inside docs/ or out. Loaded by mkdocs.yml (``hooks:``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?\s*\)")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^#|^/")
FENCE = re.compile(r"^(```|~~~)")


def rewrite(markdown: str, page_dir: Path, docs_dir: Path, root: Path) -> str:
    """``markdown`` with its links to repository files outside ``docs_dir`` as code."""

    def outside(match: re.Match[str]) -> str:
        bang, text, target = match.groups()
        if EXTERNAL.match(target):
            return match.group(0)
        path = (page_dir / target.partition("#")[0]).resolve()
        if path == docs_dir or docs_dir in path.parents:
            return match.group(0)  # a page or file of the site: MkDocs checks it
        if root not in path.parents or not path.exists():
            return match.group(0)  # leads nowhere: left for the strict build to refuse
        where = f"`{path.relative_to(root).as_posix()}`"
        if bang or text.strip("`") == path.relative_to(root).as_posix():
            return where
        return f"{text} ({where})"

    lines, fenced = [], False
    for line in markdown.split("\n"):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
        lines.append(line if fenced or FENCE.match(line.lstrip()) else LINK.sub(outside, line))
    return "\n".join(lines)


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """MkDocs' event: rewrite each page's Markdown before it is rendered."""
    docs_dir = Path(config["docs_dir"]).resolve()
    page_dir = (docs_dir / page.file.src_path).parent
    return rewrite(markdown, page_dir, docs_dir, docs_dir.parent)
