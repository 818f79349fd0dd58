"""A griffe extension for the API reference: reST roles in docstrings become inline code.

aiosio's docstrings name other objects the Sphinx way (``:class:`~aiosio.Client```,
``:meth:`close```); Markdown would show the role itself. This turns each into inline code:
the last part of the path when it starts with ``~`` (as Sphinx shows it), the path as
written otherwise. Loaded by mkdocs.yml (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:class|meth|func|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def plain(text: str) -> str:
    """``text`` with every role replaced by inline code."""

    def code(match: re.Match[str]) -> str:
        target = match.group(2)
        if match.group(1):
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    return ROLE.sub(code, text)


class SphinxRoles(Extension):
    """Rewrites the roles of every docstring as it is loaded."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        """Rewrite the docstring of ``obj``, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
