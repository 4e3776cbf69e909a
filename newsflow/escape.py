"""Stored text made safe to show: on a terminal (Rich) and in Markdown tables (artifacts).

Article titles, sources, URLs and error messages come from the outside. On a terminal they are
printed as :class:`TerminalText`: never read as Rich markup (``[red]`` prints as written) and
without control characters (an ANSI escape in a title cannot recolour or clear the screen).
In a Markdown table cell, :func:`markdown_cell` keeps ``|``, line breaks and HTML from breaking
the table or being rendered.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

# C0 controls but tab and newline, DEL, and C1 controls (0x9b is a one-byte escape introducer)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    return _CONTROL.sub("", text)


class TerminalText(Text):
    """A Rich :class:`~rich.text.Text` (so no markup) with control characters removed."""

    def __init__(self, text: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(without_controls(text), *args, **kwargs)


# Markdown punctuation that could start a link, emphasis, code, HTML or a table cell
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def markdown_cell(value: object) -> str:
    """``value`` as one Markdown table cell: one line, without control characters, and every
    character that Markdown reads as syntax (``|``, links, emphasis, HTML) backslash-escaped."""
    text = " ".join(without_controls(str(value)).split())
    return _MARKDOWN.sub(r"\\\1", text)
