"""The installation page's code blocks, read from ``docs/installation.rst`` and applied to a
project the way its reader would apply them.

A block takes part when its ``:name:`` starts with ``install-``; the second word says what to
do with it, and ``:caption:`` names the file (relative to the project's root):

``create``  the file is the block (over whatever was there);
``append``  the block goes at the end of the file;
``edit``    every line marked ``# new`` goes right after the line the block shows before it
            (its *anchor*, found in the file with quotes normalized; ``# ...`` lines are
            elisions and never anchors); the other lines must already be there;
``shell``   console commands, one per line, for the test to run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "installation.rst"
NEW = "# new"

_DIRECTIVE = re.compile(r"^\.\. code-block:: *(\S+)\n((?:   :[a-z]+:.*\n)*)\n((?:   .*\n|\n)+)",
                        re.M)
_OPTION = re.compile(r"^   :([a-z]+): *(.*)$", re.M)


@dataclass(frozen=True)
class Block:
    name: str
    action: str
    path: str | None
    text: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]


def blocks(page: Path = PAGE) -> list[Block]:
    """The page's ``install-*`` blocks, in page order."""
    found = []
    for match in _DIRECTIVE.finditer(page.read_text()):
        options = dict(_OPTION.findall(match.group(2)))
        name = options.get("name", "")
        if not name.startswith("install-"):
            continue
        body = "\n".join(line[3:] for line in match.group(3).splitlines()).strip("\n") + "\n"
        found.append(Block(name, name.split("-")[1], options.get("caption"), body))
    return found


def normalized(line: str) -> str:
    """A line compared without indentation, quote style or a trailing comment."""
    code = line.split("  #", 1)[0] if not line.lstrip().startswith("#") else line
    return code.strip().replace("'", '"')


def apply_edit(source: str, block: Block) -> str:
    """Insert ``block``'s ``# new`` lines after their anchors; fail on a missing anchor."""
    lines = source.splitlines()
    anchor: str | None = None
    for line in block.lines:
        if line.strip().startswith("# ..."):
            continue
        if line.rstrip().endswith(NEW):
            if anchor is None:
                raise AssertionError(f"{block.name}: {line!r} has no line before it")
            at = _find(lines, anchor, block.name)
            indent = re.match(r"\s*", lines[at]).group(0)  # type: ignore[union-attr]
            lines.insert(at + 1, indent + line.strip())
            anchor = line
            continue
        if not any(normalized(have) == normalized(line) for have in lines):
            raise AssertionError(f"{block.name}: the page shows {line.strip()!r}, which is "
                                 "not in the file: the page's step cannot be applied")
        anchor = line
    return "\n".join(lines) + "\n"


def _find(lines: list[str], anchor: str, name: str) -> int:
    wanted = normalized(anchor)
    hits = [i for i, line in enumerate(lines) if normalized(line) == wanted]
    if len(hits) != 1:
        raise AssertionError(f"{name}: the line {anchor.strip()!r} is in the file "
                             f"{len(hits)} times, not once: the page's step cannot be applied")
    return hits[0]


def apply(root: Path, block: Block) -> None:
    """Do what ``block`` says to the project at ``root``."""
    assert block.path, f"{block.name} has no :caption: naming its file"
    target = root / block.path
    if block.action == "create":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text)
    elif block.action == "append":
        target.write_text(target.read_text() + "\n\n" + block.text)
    elif block.action == "edit":
        target.write_text(apply_edit(target.read_text(), block))
    else:
        raise AssertionError(f"{block.name}: unknown action {block.action!r}")


def commands(block: Block) -> list[str]:
    """A ``shell`` block's commands."""
    assert block.action == "shell", block.name
    return [line.strip() for line in block.lines]
