"""The repository's documentation is self-contained.

Nothing in the docs, the sources or the tests may cite design notes that live outside the
repository (a clone does not have them), and every relative link in README.md and
docs/*.md must lead to a file of the repository (and, with a ``#fragment`` into a markdown
file, to one of its headings).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Built from parts, so that this module does not name them itself.
FORBIDDEN = [
    ".." + "/shared",
    "PROTOCOL" + "-NOTES",
    "LIMITS" + ".md",
    "DESIGN" + ".md",
    "PERFORMANCE" + "-NOTES",
    "STYLE" + ".md",
]

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
TITLE = r"""(?:\s+"[^"]*")?"""  # an optional link title
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?" + TITLE + r"\s*\)")
# [label]: target "title"
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?" + TITLE + r"\s*$", re.MULTILINE)
HEADING = re.compile(r"^[ ]{0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def text_files() -> Iterator[Path]:
    """README.md, CHANGELOG.md, docs/*.md, and the Python files of src/ and tests/."""
    for name in ("README.md", "CHANGELOG.md"):
        if (ROOT / name).is_file():
            yield ROOT / name
    yield from sorted(DOCS.glob("*.md"))
    for folder in ("src", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" not in path.relative_to(ROOT).parts:
                yield path


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def without_code(text: str) -> str:
    """Markdown with fenced blocks and inline code blanked out: no links live there."""
    text = FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    return INLINE_CODE.sub("", text)


def links(text: str) -> list[str]:
    prose = without_code(text)
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    heading = heading.replace("`", "")  # inline code keeps its text
    heading = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    heading = heading.strip().lower()
    heading = re.sub(r"[^\w\- ]", "", heading)
    return heading.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The fragments that lead to the headings of a markdown file."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_the_documentation_exists() -> None:
    names = {path.name for path in DOCS.glob("*.md")}
    assert {"protocol-notes.md", "limits.md", "design.md", "performance.md"} <= names


def test_no_citation_of_notes_outside_the_repository() -> None:
    offenders = []
    for path in text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for name in FORBIDDEN:
                if name in line:
                    where = path.relative_to(ROOT)
                    offenders.append(f"{where}:{number}: {name!r} in {line.strip()[:80]!r}")
    assert not offenders, "cite the docs/ of this repository instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("document", markdown_files(), ids=lambda path: path.name)
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for target in links(document.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        path_part = unquote(path_part)
        if path_part.startswith("/"):
            broken.append(f"{target}: use a path relative to {document.name}")
            continue
        linked = (document.parent / path_part).resolve() if path_part else document
        if ROOT not in linked.parents and linked != ROOT:
            broken.append(f"{target}: outside the repository")
        elif not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading #{fragment} in {linked.name}")
    assert not broken, f"broken links in {document.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_readme_lists_the_documentation() -> None:
    listed = {target.partition("#")[0] for target in links((ROOT / "README.md").read_text())}
    for path in DOCS.glob("*.md"):
        assert f"docs/{path.name}" in listed, f"README.md does not link docs/{path.name}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Engine.IO", "engineio"),
        ("One GET and one POST at a time", "one-get-and-one-post-at-a-time"),
        ("CONNECT_ERROR", "connect_error"),
        ("The `cookie` option", "the-cookie-option"),
        ("Limits, errors & more", "limits-errors--more"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
