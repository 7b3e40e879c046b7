"""Every `emoface ...` command line quoted in README.md and docs/*.md is checked against the
real parser, so the docs cannot drift from the commands again: its sub-command exists,
every --option it uses exists there, a value given for an option with fixed choices is
one of them, and `--help` of that command runs. Every command's help is also checked for
argparse leftovers (a literal %%, "(default: None)", a default printed twice)."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex

import pytest

from device.cli import build_parser
from tests.support.paths import REPO

DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "firmware_config" / "README.md",
]


def _command_lines() -> list[tuple[str, str]]:
    """(where, command) for each `emoface ...` in a code block or an inline code span."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        chunks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
        chunks += re.findall(r"`([^`\n]*emoface [^`\n]*)`", text)
        for chunk in chunks:
            joined = re.sub(r"\\\n\s*", " ", chunk)  # shell line continuations
            for line in joined.splitlines():
                line = line.split(" #", 1)[0].strip()
                for part in re.split(r"&&|\|\||;|\|", line):
                    words = part.split()
                    # the executable: `emoface` first on the line, or a path ending in bin/emoface
                    at = [
                        i
                        for i, w in enumerate(words)
                        if (i == 0 and w == "emoface") or w.endswith("bin/emoface")
                    ]
                    if at and len(words) > at[0] + 1:
                        found.append(
                            (
                                f"{path.relative_to(REPO)}",
                                " ".join(["emoface", *words[at[0] + 1 :]]),
                            )
                        )
    return sorted(set(found))


COMMANDS = _command_lines()
PARSER = build_parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _resolve(tokens: list[str]) -> tuple[list[str], argparse.ArgumentParser]:
    path, parser = [], PARSER
    for tok in tokens:
        subs = _subparsers(parser)
        if not subs or tok not in subs:
            break
        path.append(tok)
        parser = subs[tok]
    return path, parser


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in parser._actions for opt in a.option_strings}  # noqa: SLF001


def _help(path: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        PARSER.parse_args([*path, "--help"])
    assert exc.value.code == 0
    return out.getvalue()


def test_the_docs_quote_commands():
    assert len(COMMANDS) >= 20, COMMANDS


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[f"{w}: {c}" for w, c in COMMANDS])
def test_a_quoted_command_matches_the_parser(where, line):
    try:
        tokens = shlex.split(line)[1:]
    except ValueError:
        tokens = line.split()[1:]
    tokens = [t.strip("[]") for t in tokens if t.strip("[]") not in ("", "...")]
    path, parser = _resolve(tokens)
    if not path:  # the top-level command itself, e.g. `emoface --help`
        assert tokens and all(t.startswith("-") for t in tokens), (
            f"{where}: `{line}`: no such command"
        )
    if _subparsers(parser) and len(tokens) > len(path) and not tokens[len(path)].startswith("-"):
        sub = tokens[len(path)]
        if re.fullmatch(r"[a-z][a-z-]+", sub) and "|" not in sub:
            raise AssertionError(f"{where}: `{line}`: {' '.join(path)} has no sub-command {sub!r}")
    opts = {**_options(PARSER), **_options(parser)}
    rest = tokens[len(path) :]
    for i, tok in enumerate(rest):
        for alt in tok.split("|"):
            if not alt.startswith("--"):
                continue
            name, _, value = alt.partition("=")
            assert name in opts, f"{where}: `{line}`: {' '.join(path)} has no option {name}"
            action = opts[name]
            if action.choices and not value and i + 1 < len(rest):
                value = rest[i + 1]
            if (
                action.choices
                and value
                and not re.fullmatch(r"[A-Z][A-Z0-9_-]*|\.\.\.|<.*>", value)
            ):
                if callable(action.type):
                    value = action.type(value)
                assert value in action.choices, (
                    f"{where}: `{line}`: {name} {value!r} is refused; choices: {action.choices}"
                )
    assert _help(path)


def _all_paths(parser=PARSER, path=()):
    for name, sub in _subparsers(parser).items():
        yield [*path, name]
        yield from _all_paths(sub, [*path, name])


@pytest.mark.parametrize("path", list(_all_paths()), ids=lambda p: " ".join(p))
def test_help_text_has_no_argparse_leftovers(path):
    text = _help(path)
    assert "%%" not in text and "%(" not in text
    assert "(default: None)" not in text
    joined = re.sub(r"\s+", " ", text)
    assert not re.search(r"\(default: [^)]*\) \(default:", joined), joined


def _all_options() -> set[str]:
    opts = set(_options(PARSER))
    for path in _all_paths():
        _, parser = _resolve(path)
        opts |= set(_options(parser))
    return opts


# Options the docs name that belong to other programs.
OTHER_PROGRAMS = {
    "firmware_config/*/setup.sh": {"--read-only-root"},
    # the benches' own parsers, read from their source (importing them would pull in torch)
    "bench/*.py": {
        opt
        for script in sorted((REPO / "bench").rglob("*.py"))
        if ".venv" not in script.parts
        for opt in re.findall(r"add_argument\(\s*\"(--[a-z][a-z0-9-]+)\"", script.read_text())
    },
    "python -m device.kiosk.screenshots": {"--size", "--languages"},
    "an example --alert-hook script": {"--ward"},
}


def test_every_option_the_docs_name_exists():
    known = _all_options().union(*OTHER_PROGRAMS.values())
    unknown = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        code = re.findall(r"```[a-z]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
        for chunk in code:
            if "pip " in chunk or "pytest" in chunk:
                continue
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", chunk):
                if opt not in known:
                    unknown.append(f"{path.relative_to(REPO)}: {opt}")
    assert not unknown, sorted(set(unknown))
