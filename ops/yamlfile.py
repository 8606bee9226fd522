"""Reading a Pulumi YAML file the way the Pulumi CLI does (Go, yaml.v3), or a clean error.

The CLI parses `Pulumi.yaml` and `Pulumi.<stack>.yaml` with yaml.v3, which
follows YAML 1.2 for plain scalars: only `true`/`false` (and their
capitalised forms) are booleans, so `on`, `off`, `yes`, `no`, `y` and `n`
are strings; only `~`, `null` and the empty value are null; dates stay
strings. PyYAML's defaults are YAML 1.1 (all of those become booleans or
dates), so this module installs the YAML 1.2 resolvers yaml.v3 uses. Like
yaml.v3, a key repeated in one map is an error, not "the last one wins".

Every failure (missing file, a directory, not UTF-8, invalid YAML, a
repeated key, excessive aliasing, nesting too deep) is raised as a
ConfigError whose problem path is `file:line:column`, with what is wrong
and the fix: never a traceback.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from components.config import ConfigError

#: More values than this once aliases are expanded is refused (a "billion laughs" document);
#: yaml.v3 refuses excessive aliasing too.
MAX_EXPANDED_VALUES = 200_000


class _Loader(yaml.SafeLoader):
    """SafeLoader with yaml.v3's YAML 1.2 scalar resolution and duplicate-key errors."""


# Start from no implicit resolvers (PyYAML's are YAML 1.1) and add yaml.v3's.
_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    # yaml.v3 parses with Go's strconv.ParseInt(base 0) after dropping '_': decimal,
    # 0x hex, 0o and leading-0 octal, 0b binary, each with an optional sign.
    re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0[0-7_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


def _as_text(loader: _Loader, node: Node) -> Any:
    # yaml.v3 hands timestamps to an untyped target as the string written.
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _binary(loader: _Loader, node: Node) -> Any:
    # yaml.v3 decodes !!binary into an untyped target as the decoded bytes, as a string.
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        return base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise yaml.constructor.ConstructorError(
            None, None, "a !!binary value that is not base64 of UTF-8 text", node.start_mark
        ) from None


def _int(loader: _Loader, node: Node) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith(("0x", "0b")):
        return sign * int(digits, 0)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def _set(loader: _Loader, node: Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, "a !!set is not a value a Pulumi config can hold", node.start_mark
    )


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
_Loader.add_constructor("tag:yaml.org,2002:binary", _binary)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:set", _set)


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


def _mapping(loader: _Loader, node: MappingNode) -> dict[Any, Any]:
    # Keys written in this map (merged `<<` keys may be overridden, as in yaml.v3).
    seen: dict[Any, Node] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            first = seen[key].start_mark
            raise DuplicateKeyError(
                None,
                None,
                f"the key {key!r} is defined twice in this map (first at line {first.line + 1}, "
                f"column {first.column + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a map key must be a plain value, not a list or a map", key_node.start_mark
            ) from None
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """How many values `node` stands for once every alias is expanded."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a recursive alias counts once
    if isinstance(node, SequenceNode):
        size = 1 + sum(_expanded_size(n, memo) for n in node.value)
    elif isinstance(node, MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[id(node)] = min(size, MAX_EXPANDED_VALUES + 1)
    return memo[id(node)]


def _jsonable(value: Any) -> Any:
    """Map keys as strings, as the engine's JSON carries them (1 -> "1", true -> "true", ~ -> "null")."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _decode(raw: bytes, where: str) -> str:
    """The file's text: UTF-8 (BOM allowed) or UTF-16 with a BOM, as yaml.v3 reads."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise ConfigError.one(
            path=f"{where}:{line}:{column}",
            message=f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot start or "
            "continue a UTF-8 character (Pulumi reads stack files as UTF-8)",
            fix="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or remove the character",
        ) from None


def _explain(exc: yaml.YAMLError, text: str) -> tuple[int, int, str, str]:
    """(line, column, what is wrong, the fix) for a PyYAML error, in a person's words."""
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return (
            line,
            column,
            f"the control character U+{ord(char):04X} is not allowed in YAML",
            'remove it (or write it as an escape inside a double-quoted string, e.g. "\\t")',
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = str(getattr(exc, "problem", "") or exc)
    context = str(getattr(exc, "context", "") or "")
    at = text.splitlines()[line - 1][column - 1 : column] if 0 < line <= len(text.splitlines()) else ""
    if isinstance(exc, DuplicateKeyError):
        return line, column, problem + "; the Pulumi CLI rejects such a file", "remove one of them, or merge the two"
    if "recursive" in problem:
        return (
            line,
            column,
            "an alias (*name) inside the value its own anchor (&name) marks: the value would contain itself",
            "remove the self-reference",
        )
    if "\t" in problem or at == "\t" or "tab character" in problem:
        return (
            line,
            column,
            "a tab character: YAML indents with spaces only",
            "replace the tab with spaces (and set your editor to insert spaces in .yaml files)",
        )
    alias = re.search(r"found undefined alias '?([^'\s]+)'?", problem)
    if alias:
        name = alias.group(1)
        return (
            line,
            column,
            f"*{name} refers to an anchor &{name} that is not defined before it",
            f"define `&{name}` earlier in the file, or quote the value if the '*' is literal text",
        )
    flow = re.search(r"while parsing a flow (sequence|mapping)", context)
    if flow:
        opening, closing = ("[", "]") if flow.group(1) == "sequence" else ("{", "}")
        start = exc.context_mark  # type: ignore[attr-defined]
        where = f"line {start.line + 1}, column {start.column + 1}" if start is not None else "above"
        return (
            line,
            column,
            f"the '{opening}' opened at {where} is not closed here (expected ',' or '{closing}')",
            f"close it with '{closing}', separating items with commas; quote items that contain "
            "',', '[', ']', '{' or '}'",
        )
    if "flow" in context and "stream end" in problem:
        return (
            line,
            column,
            "a '[' or '{' is never closed before the end of the file",
            "close it with ']' or '}', separating items with commas",
        )
    if "block mapping" in context and "expected <block end>" in problem:
        return (
            line,
            column,
            "this line's indentation does not match the keys of the map it belongs to",
            "indent it to the same column as its sibling keys (spaces only)",
        )
    if "quoted scalar" in context and "end of stream" in problem:
        return line, column, "a quoted string is never closed", "close the quote (' or \") on the same value"
    if "unknown escape character" in problem:
        return (
            line,
            column,
            f"{problem} in a double-quoted string",
            "use single quotes for text with backslashes ('C:\\path'), or escape the backslash (\\\\)",
        )
    starts = re.search(r"found character '(.)' that cannot start any token", problem)
    if starts:
        return (
            line,
            column,
            f"a plain value cannot start with '{starts.group(1)}'",
            "quote the value (e.g. '@foo' or \"`cmd`\")",
        )
    if "expected a single document" in context or "expected a single document" in problem:
        return (
            line,
            column,
            "a second YAML document starts here ('---'); a stack file is one document",
            "remove the second document (or the stray '---' line)",
        )
    if "mapping values are not allowed here" in problem:
        return (
            line,
            column,
            "a ':' where YAML does not expect a key (a value containing ': ', or a line indented under a scalar)",
            "quote the value if it contains ': ', or fix this line's indentation",
        )
    if "could not find expected ':'" in problem:
        return line, column, "a key without its ':'", "add ': ' after the key, or quote the line if it is text"
    if "could not determine a constructor" in problem:
        return (
            line,
            column,
            f"an unsupported YAML tag ({problem.split('tag')[-1].strip()})",
            "remove the tag: stack files hold plain YAML values",
        )
    if "found duplicate anchor" in str(exc):
        return line, column, "an anchor defined twice", "give each anchor (&name) a unique name"
    if "map key must be a plain value" in problem or "!!set" in problem:
        return line, column, problem, "use plain strings as keys and lists or maps as values"
    detail = f"{context}: {problem}" if context else problem
    return (
        line,
        column,
        f"invalid YAML ({detail})",
        "correct the YAML at this position: indent with spaces, quote text containing ': ' or ' #', close brackets",
    )


def load_yaml_file(path: Path) -> tuple[Any, Node | None]:
    """The document of a YAML file as yaml.v3 reads it, and its node tree (for line numbers).

    Raises ConfigError (path `file:line:column`) for anything the Pulumi CLI would reject.
    """
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError.one(
            path=where,
            message=f"no stack config {where}",
            fix="check the path, or create it (stacks/Pulumi.<stack>.yaml; see stacks/Pulumi.dev.yaml)",
        ) from None
    except IsADirectoryError:
        raise ConfigError.one(
            path=where,
            message="is a directory, not a stack file",
            fix=f"pass the stack file itself, e.g. {Path(where) / 'Pulumi.dev.yaml'}",
        ) from None
    except OSError as exc:
        raise ConfigError.one(
            path=where, message=f"cannot be read: {exc.strerror}", fix="check the path and its permissions"
        ) from None
    text = _decode(raw, where)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _expanded_size(node, {}) > MAX_EXPANDED_VALUES:
            raise ConfigError.one(
                path=f"{where}:{node.start_mark.line + 1}:{node.start_mark.column + 1}",
                message=f"the document expands to more than {MAX_EXPANDED_VALUES} values through "
                "aliases (*name); the Pulumi CLI refuses such excessive aliasing",
                fix="write the values out instead of nesting aliases of aliases",
            )
        return _jsonable(loader.construct_document(node)), node
    except yaml.YAMLError as exc:
        line, column, message, fix = _explain(exc, text)
        raise ConfigError.one(path=f"{where}:{line}:{column}", message=message, fix=fix) from None
    except RecursionError:
        raise ConfigError.one(
            path=f"{where}:1:1",
            message="the document is nested too deeply to read",
            fix="flatten the structure: a stack config is a few levels deep",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def mark_of(node: Node | None, keys: list[str], where: str, *, at_key: bool = False) -> str:
    """`file:line:column` of the value at `keys` in a mapping node tree (the deepest found),
    or with `at_key` of the last key itself."""
    best = node
    current = node
    for key in keys:
        if not isinstance(current, MappingNode):
            break
        pair = next(((k, v) for k, v in current.value if isinstance(k, ScalarNode) and k.value == key), None)
        if pair is None:
            break
        best = pair[0] if at_key else pair[1]
        current = pair[1]
    if best is None:
        return f"{where}:1:1"
    return f"{where}:{best.start_mark.line + 1}:{best.start_mark.column + 1}"
