"""Lucene query_string syntax (Kibana's Lucene mode) compiled to Elasticsearch DSL and DuckDB SQL.

A query is parsed once with luqum and the tree is compiled twice, by the same
rules, so the local files and an Elasticsearch cluster answer the same question:

* ``to_es_dsl(text, fields)`` returns an explicit ``bool``/``term``/``match_phrase``/
  ``range``/``exists``/``wildcard``/``regexp`` query (never ``query_string``, so the
  meaning does not depend on cluster settings);
* ``to_sql(text, fields)`` returns a parameterised DuckDB ``WHERE`` fragment and its
  parameters: user values are always parameters, identifiers are known fields,
  quoted.

Field kinds decide how a value matches (see docs/query-syntax.md):

* ``text`` (``message``): terms and phrases match case-insensitively as whole
  words in order (Elasticsearch ``match_phrase`` with the standard analyzer);
* ``keyword``: exact, case-sensitive; ``*``/``?`` wildcards; ``/regex/``;
* ``number``/``date``: equality and ranges (``[a TO b]``, ``{a TO b}``, ``>5``);
* ``_exists_:field``: the field is present.

Queries are bounded before they are parsed or run (:class:`QueryLimits`: characters,
terms, nesting depth; ``WORKBENCH_QUERY_MAX_CHARS``, ``WORKBENCH_QUERY_MAX_TERMS``,
``WORKBENCH_QUERY_MAX_DEPTH``): a query over a limit is refused with
:class:`QueryTooLargeError`, which names the limit and how to narrow the query.

Bare terms search the default field (``message``). Juxtaposed terms use the
default operator OR, as Kibana and Elasticsearch do; ``+term`` is required,
``-term`` excluded.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from luqum import tree as lt
from luqum.exceptions import IllegalCharacterError, ParseError, ParseSyntaxError
from luqum.parser import parser as _luqum_parser

from core.config import (
    DEFAULT_QUERY_MAX_CHARS, DEFAULT_QUERY_MAX_DEPTH, DEFAULT_QUERY_MAX_TERMS, QUERY_LIMIT_VARS, load_settings, settings,
)
from core.errors import InvalidInputError
from core.models import utc

DEFAULT_FIELD = "message"
EXISTS = "_exists_"
_WORD = r"[\pL\pN_]"
_NONWORD = r"[^\pL\pN_]"
# The same classes for a field whose values are all ASCII (there they match the same characters). RE2 takes
# about 40 ms to compile the Unicode classes, on every query; these compile in well under a millisecond.
_ASCII_WORD = r"[0-9A-Za-z_]"
_ASCII_NONWORD = r"[^0-9A-Za-z_]"
_TOKEN = re.compile(r"\w+(?:[.']\w+)*", re.UNICODE)


class FieldKind(StrEnum):
    """How a field's values are matched."""

    TEXT = "text"
    KEYWORD = "keyword"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


class QuerySyntaxError(InvalidInputError):
    """The query cannot be parsed; ``position`` is the 0-based character offset (None: at the end)."""

    def __init__(self, query: str, position: int | None, problem: str, hint: str):
        self.query = query
        self.position = position
        self.problem = problem
        self.hint = hint
        where = "at the end" if position is None else f"at position {position}"
        super().__init__(f"query syntax error {where}: {problem}. {hint}")

    def caret(self) -> str:
        """The query with a caret line under the error position."""
        pos = len(self.query) if self.position is None else self.position
        return f"{self.query}\n{' ' * pos}^"


class UnknownFieldError(InvalidInputError):
    """The query names a field that the source does not have."""


class QueryTooLargeError(InvalidInputError):
    """The query is longer, has more terms, or nests deeper than :class:`QueryLimits` allows."""


DEFAULT_MAX_CHARS = DEFAULT_QUERY_MAX_CHARS
DEFAULT_MAX_TERMS = DEFAULT_QUERY_MAX_TERMS
DEFAULT_MAX_DEPTH = DEFAULT_QUERY_MAX_DEPTH
_LIMIT_VARS = QUERY_LIMIT_VARS


@dataclass(frozen=True)
class QueryLimits:
    """The largest query accepted: characters, terms (field tests), and nesting depth (parentheses, NOT, field:).

    The defaults keep parsing under about a second and the SQL small; Elasticsearch has similar
    limits of its own (``indices.query.bool.max_clause_count``, ``max_nested_depth``).
    """

    max_chars: int = DEFAULT_MAX_CHARS
    max_terms: int = DEFAULT_MAX_TERMS
    max_depth: int = DEFAULT_MAX_DEPTH

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "QueryLimits":
        """The defaults, overridden by ``WORKBENCH_QUERY_MAX_CHARS``/``_TERMS``/``_DEPTH``.

        Raises:
            InvalidInputError: a variable is not a positive whole number.
        """
        config = settings() if environ is None else load_settings(environ)
        return cls(**config.limits.query_limits)


_NARROW = ("narrow the query: use a wildcard (checkout-*) or a range ([a TO b]) instead of listing values, "
           "or split it into several queries")


def check_query_size(text: str, limits: QueryLimits) -> None:
    """Refuse a query longer or more deeply parenthesised than ``limits``, before it is parsed.

    Raises:
        QueryTooLargeError: naming the limit, its setting and how to narrow the query.
    """
    if len(text) > limits.max_chars:
        raise QueryTooLargeError(
            f"the query has {len(text):,} characters, more than the {limits.max_chars:,} allowed "
            f"({_LIMIT_VARS['max_chars']}); {_NARROW}")
    depth = deepest = 0
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not quoted and ch == ")":
            depth = max(0, depth - 1)
    if deepest > limits.max_depth:
        raise _too_deep(deepest, limits)


def _too_deep(depth: int | None, limits: QueryLimits) -> QueryTooLargeError:
    how = f"{depth:,} levels deep" if depth is not None else "deeper"
    return QueryTooLargeError(
        f"the query nests {how} (parentheses, NOT, field:), more than the {limits.max_depth} levels "
        f"allowed ({_LIMIT_VARS['max_depth']}); remove redundant parentheses or split the query")


_LEAVES = (lt.Word, lt.Phrase, lt.Range, lt.From, lt.To, lt.Regex, lt.Fuzzy, lt.Proximity)
_FLAT = (lt.AndOperation, lt.OrOperation, lt.UnknownOperation)


def _check_tree_size(tree: lt.Item, limits: QueryLimits) -> None:
    """Count the terms and the nesting of a parsed query without recursion."""
    terms = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _LEAVES):
            terms += 1
            continue
        if not isinstance(node, _FLAT):
            depth += 1
            if depth > limits.max_depth:
                raise _too_deep(None, limits)
        stack.extend((child, depth) for child in node.children)
    if terms > limits.max_terms:
        raise QueryTooLargeError(
            f"the query has {terms:,} terms, more than the {limits.max_terms:,} allowed "
            f"({_LIMIT_VARS['max_terms']}); {_NARROW}")


# ------------------------------------------------------------------ parsing

def parse_query(text: str, limits: QueryLimits | None = None) -> lt.Item | None:
    """Parse ``text``; None for an empty query.

    Args:
        limits: the largest query accepted (default :meth:`QueryLimits.from_env`).

    Raises:
        QuerySyntaxError: with the position and a hint to fix it.
        QueryTooLargeError: the query is over a limit.
    """
    if text is None or not text.strip():
        return None
    limits = limits or QueryLimits.from_env()
    check_query_size(text, limits)
    try:
        tree = _luqum_parser.parse(text)
    except RecursionError:
        raise _too_deep(None, limits) from None
    except IllegalCharacterError as exc:
        m = re.search(r"Illegal character '(.*)' at position (\d+)", str(exc))
        pos = int(m.group(2)) if m else None
        frag = m.group(1) if m else ""
        if frag.startswith('"'):
            raise QuerySyntaxError(text, pos, "a quote is not closed",
                                   'Close the phrase with a second " or escape it as \\"') from None
        raise QuerySyntaxError(text, pos, f"unexpected character {frag[:1]!r}",
                               "Escape special characters with a backslash, e.g. \\: or \\/") from None
    except ParseSyntaxError as exc:
        msg = str(exc)
        m = re.search(r"unexpected\s+'(.*)' at position (\d+)", msg)
        if m:
            tok, pos = m.group(1), int(m.group(2))
            hint = {
                ")": "There is a closing parenthesis without an opening one; remove it or add '('.",
                ":": "A field name must come before ':', e.g. service.name:checkout.",
                "TO": "Ranges are written in brackets: field:[low TO high].",
            }.get(tok.strip(), "Check the operators around this token: AND, OR and NOT need terms on both sides.")
            raise QuerySyntaxError(text, pos, f"unexpected {tok.strip()!r}", hint) from None
        hint = ("A parenthesis, bracket or quote is not closed, or the query ends with an operator or a "
                "field name without a value; close it or complete the query.")
        raise QuerySyntaxError(text, None, "the query ends too early", hint) from None
    except ParseError as exc:  # other luqum parse errors
        raise QuerySyntaxError(text, None, str(exc), "Check the query syntax in docs/query-syntax.md.") from None
    _check_tree_size(tree, limits)
    _check_words(text, tree)
    return tree


def _check_words(text: str, node: lt.Item) -> None:
    if isinstance(node, lt.Word):
        v = node.value
        if v in ("&&", "||") or (v.startswith("!") and len(v) > 0):
            raise QuerySyntaxError(text, node.pos, f"{v!r} is not supported",
                                   "Write AND, OR and NOT in capitals instead of &&, || and !.")
        if '"' in v.replace('\\"', ""):
            raise QuerySyntaxError(text, node.pos, "a quote is not opened or closed",
                                   'Put phrases in a pair of double quotes, or escape a quote as \\".')
    for child in node.children:
        _check_words(text, child)


# ------------------------------------------------------------------ values

_UNESCAPE = re.compile(r"\\(.)")


def _unescape(value: str) -> str:
    return _UNESCAPE.sub(r"\1", value)


def _phrase_value(node: lt.Phrase) -> str:
    return _unescape(node.value[1:-1])


def quote_value(value: Any) -> str:
    """A value as a query phrase, escaped (for filter pills built from clicked values)."""
    s = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def quote_field(name: str) -> str:
    """A field name escaped for the query language."""
    return re.sub(r'([\s:\\/()\[\]{}"^~*?!+\-])', r"\\\1", name)


def add_filters(query: str, filters: list[tuple[str, Any, bool]]) -> str:
    """``query`` narrowed by (field, value, include) pills: ``(query) AND f:"v" AND NOT g:"w"``."""
    if not filters:
        return query
    parts = [f"({query})"] if query and query.strip() else []
    for field, value, include in filters:
        clause = f"{quote_field(field)}:{quote_value(value)}"
        parts.append(clause if include else f"NOT {clause}")
    return " AND ".join(parts)


def _has_wildcard(raw: str) -> bool:
    return bool(re.search(r"(?<!\\)[*?]", raw))


def _close(name: str, fields: Mapping[str, FieldKind]) -> str:
    close = difflib.get_close_matches(name, list(fields), n=3, cutoff=0.5)
    if close:
        return f"did you mean {', '.join(close)}?"
    shown = ", ".join(sorted(fields)[:12])
    return f"known fields: {shown}{', …' if len(fields) > 12 else ''}"


def _kind(name: str, fields: Mapping[str, FieldKind]) -> FieldKind:
    if name not in fields:
        raise UnknownFieldError(f"unknown field '{name}' in the query; {_close(name, fields)}")
    return FieldKind(fields[name])


def _number(field: str, raw: str) -> float | int:
    try:
        f = float(raw)
    except ValueError:
        raise InvalidInputError(f"field '{field}' is numeric; '{raw}' is not a number") from None
    return int(f) if f.is_integer() and re.fullmatch(r"[+-]?\d+", raw) else f


def _date(field: str, raw: str):
    text = raw if re.search(r"(Z|[+-]\d\d:?\d\d)$", raw) or len(raw) <= 10 else raw + "Z"
    if len(text) == 10:
        text += "T00:00:00Z"
    try:
        return utc(text)
    except InvalidInputError:
        raise InvalidInputError(
            f"field '{field}' holds times; '{raw}' is not an ISO 8601 time (write 2024-05-01T12:00:00Z)"
        ) from None


def _bool(field: str, raw: str) -> bool:
    low = raw.lower()
    if low not in ("true", "false"):
        raise InvalidInputError(f"field '{field}' is true/false; '{raw}' is neither")
    return low == "true"


def _tokens(value: str) -> list[str]:
    """Words as Elasticsearch's standard analyzer roughly sees them (dots/apostrophes inside a word join it)."""
    return _TOKEN.findall(value.lower())


# ------------------------------------------------------------------ compiler

@dataclass(frozen=True)
class _Leaf:
    """One field test, compiled to both targets."""

    es: dict[str, Any]
    sql: str
    params: tuple[Any, ...]


class _Compiler:
    def __init__(self, text: str, fields: Mapping[str, FieldKind], default_field: str,
                 ascii_fields: frozenset[str] = frozenset()):
        self.text = text
        self.fields = {k: FieldKind(v) for k, v in fields.items()}
        self.default_field = default_field
        self.ascii_fields = ascii_fields

    def _classes(self, field: str) -> tuple[str, str]:
        """The (word, non-word) character classes of text matching in ``field``."""
        return (_ASCII_WORD, _ASCII_NONWORD) if field in self.ascii_fields else (_WORD, _NONWORD)

    # ---- structure
    def compile(self, node: lt.Item, field: str | None) -> _Leaf:
        if isinstance(node, lt.SearchField):
            if isinstance(node.expr, lt.SearchField):
                raise QuerySyntaxError(self.text, node.pos, f"'{node.name}:' is followed by another field",
                                       "Write one field per value, e.g. a:x AND b:y.")
            name = _unescape(node.name)
            if name == "*" and isinstance(node.expr, lt.Word) and node.expr.value == "*":
                return _Leaf({"match_all": {}}, "TRUE", ())  # *:* is Lucene's and Kibana's "everything"
            if name == EXISTS:
                return self._exists(node.expr)
            _kind(name, self.fields)
            return self.compile(node.expr, name)
        if isinstance(node, (lt.Group, lt.FieldGroup)):
            return self.compile(node.expr, field)
        if isinstance(node, lt.Boost):
            return self.compile(node.expr, field)
        if isinstance(node, lt.AndOperation):
            return self._all([self.compile(c, field) for c in node.children])
        if isinstance(node, lt.OrOperation):
            return self._any([self.compile(c, field) for c in node.children])
        if isinstance(node, (lt.Not, lt.Prohibit)):
            return self._not(self.compile(node.a, field))
        if isinstance(node, lt.Plus):
            return self.compile(node.a, field)
        if isinstance(node, lt.UnknownOperation):
            must, must_not, should = [], [], []
            for c in node.children:
                if isinstance(c, lt.Plus):
                    must.append(self.compile(c.a, field))
                elif isinstance(c, lt.Prohibit):
                    must_not.append(self.compile(c.a, field))
                else:
                    should.append(self.compile(c, field))
            parts = list(must)
            parts += [self._not(x) for x in must_not]
            if should and not must:
                parts.append(self._any(should))
            return self._all(parts) if len(parts) != 1 else parts[0]
        if isinstance(node, lt.Word):
            return self._word(field or self._default(), node)
        if isinstance(node, lt.Phrase):
            return self._phrase(field or self._default(), _phrase_value(node))
        if isinstance(node, lt.Range):
            return self._range(field or self._default(), node.low, node.include_low, node.high, node.include_high)
        if isinstance(node, lt.From):
            return self._range(field or self._default(), node.a, node.include, None, False)
        if isinstance(node, lt.To):
            return self._range(field or self._default(), None, False, node.a, node.include)
        if isinstance(node, lt.Regex):
            return self._regex(field or self._default(), node.value[1:-1])
        if isinstance(node, (lt.Fuzzy, lt.Proximity)):
            raise QuerySyntaxError(self.text, node.pos, "fuzzy (~) and proximity searches are not supported",
                                   "Use a wildcard (tim*) or a phrase instead.")
        raise QuerySyntaxError(self.text, getattr(node, "pos", None),
                               f"'{node}' is not supported", "See docs/query-syntax.md for the supported syntax.")

    def _default(self) -> str:
        if self.default_field not in self.fields:
            raise UnknownFieldError(
                f"free-text terms search the '{self.default_field}' field, which this source does not have; "
                f"name a field, e.g. {next(iter(sorted(self.fields)), 'field')}:value"
            )
        return self.default_field

    @staticmethod
    def _all(parts: list[_Leaf]) -> _Leaf:
        if len(parts) == 1:
            return parts[0]
        return _Leaf({"bool": {"filter": [p.es for p in parts]}},
                     "(" + " AND ".join(p.sql for p in parts) + ")",
                     tuple(x for p in parts for x in p.params))

    @staticmethod
    def _any(parts: list[_Leaf]) -> _Leaf:
        if len(parts) == 1:
            return parts[0]
        return _Leaf({"bool": {"should": [p.es for p in parts], "minimum_should_match": 1}},
                     "(" + " OR ".join(p.sql for p in parts) + ")",
                     tuple(x for p in parts for x in p.params))

    @staticmethod
    def _not(part: _Leaf) -> _Leaf:
        return _Leaf({"bool": {"must_not": [part.es]}}, f"(NOT {part.sql})", part.params)

    # ---- leaves
    def _exists(self, expr: lt.Item) -> _Leaf:
        if not isinstance(expr, (lt.Word, lt.Phrase)):
            raise QuerySyntaxError(self.text, expr.pos, "_exists_ takes one field name",
                                   "Write _exists_:field.name")
        name = _phrase_value(expr) if isinstance(expr, lt.Phrase) else _unescape(expr.value)
        _kind(name, self.fields)
        return _Leaf({"exists": {"field": name}}, f"({_ident(name)} IS NOT NULL)", ())

    def _word(self, field: str, node: lt.Word) -> _Leaf:
        raw = node.value
        kind = self.fields[field]
        if raw == "*":
            return _Leaf({"exists": {"field": field}}, f"({_ident(field)} IS NOT NULL)", ())
        if _has_wildcard(raw):
            if kind == FieldKind.KEYWORD:
                pattern = _unescape_keep_wild(raw)
                like = _to_like(pattern)
                return _Leaf({"wildcard": {field: {"value": pattern}}},
                             f"COALESCE(CAST({_ident(field)} AS VARCHAR) LIKE ? ESCAPE '\\', FALSE)", (like,))
            if kind == FieldKind.TEXT:
                pattern = _unescape_keep_wild(raw).lower()
                if re.search(r"[^\w*?]", pattern):
                    raise InvalidInputError(
                        f"wildcard '{raw}' on text field '{field}' must be one word (letters, digits, * and ?); "
                        "split it into several terms"
                    )
                word, nonword = self._classes(field)
                rx = "".join(word + "*" if ch == "*" else word if ch == "?" else re.escape(ch) for ch in pattern)
                return _Leaf({"wildcard": {field: {"value": pattern, "case_insensitive": True}}},
                             *_text_match(_ident(field), f"(?i)(?:^|{nonword}){rx}(?:$|{nonword})",
                                          re.split(r"[*?]", pattern)))
            raise InvalidInputError(f"wildcards work on text and keyword fields; '{field}' is {kind.value}")
        return self._phrase(field, _unescape(raw))

    def _phrase(self, field: str, value: str) -> _Leaf:
        kind = self.fields[field]
        col = _ident(field)
        if kind == FieldKind.TEXT:
            toks = _tokens(value)
            if not toks:
                raise InvalidInputError(f"'{value}' has no words to search for in '{field}'")
            nonword = self._classes(field)[1]
            rx = f"(?:^|{nonword})" + f"{nonword}+".join(re.escape(t) for t in toks) + f"(?:$|{nonword})"
            return _Leaf({"match_phrase": {field: value}}, *_text_match(col, "(?i)" + rx, toks))
        if kind == FieldKind.KEYWORD:
            return _Leaf({"term": {field: value}}, f"COALESCE(CAST({col} AS VARCHAR) = ?, FALSE)", (value,))
        if kind == FieldKind.NUMBER:
            n = _number(field, value)
            return _Leaf({"term": {field: n}}, f"COALESCE({col} = ?, FALSE)", (n,))
        if kind == FieldKind.BOOLEAN:
            b = _bool(field, value)
            return _Leaf({"term": {field: b}}, f"COALESCE({col} = ?, FALSE)", (b,))
        t = _date(field, value)
        return _Leaf({"range": {field: {"gte": _iso_ms(t), "lte": _iso_ms(t)}}},
                     f"COALESCE({col} = ?, FALSE)", (t,))

    def _range(self, field: str, low: lt.Item | None, inc_low: bool, high: lt.Item | None, inc_high: bool) -> _Leaf:
        kind = self.fields[field]
        if kind == FieldKind.TEXT:
            raise InvalidInputError(f"ranges work on keyword, number and date fields; '{field}' is free text")
        if kind == FieldKind.BOOLEAN:
            raise InvalidInputError(f"ranges do not apply to the true/false field '{field}'")
        col = _ident(field)
        es: dict[str, Any] = {}
        sql: list[str] = []
        params: list[Any] = []
        for node, inc, op_es, op_sql in ((low, inc_low, ("gte", "gt"), (">=", ">")),
                                         (high, inc_high, ("lte", "lt"), ("<=", "<"))):
            if node is None:
                continue
            raw = _phrase_value(node) if isinstance(node, lt.Phrase) else _unescape(str(node.value))
            if raw == "*":
                continue
            if kind == FieldKind.NUMBER:
                v: Any = _number(field, raw)
                es_v: Any = v
            elif kind == FieldKind.DATE:
                v = _date(field, raw)
                es_v = _iso_ms(v)
            else:
                v = es_v = raw
            es[op_es[0] if inc else op_es[1]] = es_v
            cast = f"CAST({col} AS VARCHAR)" if kind == FieldKind.KEYWORD else col
            sql.append(f"{cast} {op_sql[0] if inc else op_sql[1]} ?")
            params.append(v)
        if not sql:
            return _Leaf({"exists": {"field": field}}, f"({col} IS NOT NULL)", ())
        return _Leaf({"range": {field: es}}, "COALESCE(" + " AND ".join(sql) + ", FALSE)", tuple(params))

    def _regex(self, field: str, pattern: str) -> _Leaf:
        kind = self.fields[field]
        if kind != FieldKind.KEYWORD:
            raise InvalidInputError(
                f"regular expressions work on keyword fields; '{field}' is {kind.value} — use a wildcard instead"
            )
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInputError(f"/{pattern}/ is not a valid regular expression ({exc})") from None
        return _Leaf({"regexp": {field: {"value": pattern}}},
                     f"COALESCE(regexp_full_match(CAST({_ident(field)} AS VARCHAR), ?), FALSE)", (pattern,))


# Text matching: the exact test is a case-insensitive RE2 regular expression with word boundaries, which
# costs several times a plain substring test. It runs only on the values that contain the longest literal
# piece of the words (ILIKE, which DuckDB runs about as fast as its own substring search). The piece keeps
# only characters for which ILIKE is at least as lenient as the regex's case folding: ASCII letters other
# than "s" (RE2 folds the long s "ſ" to s, ILIKE does not), digits, "." and "'"; so every value the regex
# accepts passes the pre-test, and the results are those of the regex alone.
_PREFILTER_PIECE = re.compile(r"[a-rt-z0-9.']+")
PREFILTER_MIN_CHARS = 3


def _prefilter_piece(words: list[str]) -> str | None:
    """The longest piece of ``words`` (lower case) safe for an ILIKE pre-test, or None if too short."""
    pieces = [p for w in words for p in _PREFILTER_PIECE.findall(w.lower())]
    best = max(pieces, key=len, default="")
    return best if len(best) >= PREFILTER_MIN_CHARS else None


def _text_match(col: str, regex: str, words: list[str]) -> tuple[str, tuple[Any, ...]]:
    """SQL and parameters testing ``col`` against the case-insensitive ``regex`` (False for NULL)."""
    piece = _prefilter_piece(words)
    if piece is None:
        return f"COALESCE(regexp_matches({col}, ?), FALSE)", (regex,)
    # CASE evaluates the regex only on the rows where the ILIKE holds (an AND inside an expression would not)
    return f"(CASE WHEN {col} ILIKE ? THEN regexp_matches({col}, ?) ELSE FALSE END)", (f"%{piece}%", regex)


def _iso_ms(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _unescape_keep_wild(raw: str) -> str:
    # keep unescaped * and ?; drop backslashes of other escapes
    return re.sub(r"\\([^*?])", r"\1", raw)


def _to_like(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.sub(r"([%_\\])", r"\\\1", pattern[i + 1]))
            i += 2
            continue
        out.append("%" if ch == "*" else "_" if ch == "?" else ("\\" + ch if ch in "%_\\" else ch))
        i += 1
    return "".join(out)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------ public API

@dataclass(frozen=True)
class CompiledQuery:
    """A query compiled for both back ends."""

    text: str
    es: dict[str, Any]
    sql: str
    params: tuple[Any, ...]


def compile_query(text: str, fields: Mapping[str, FieldKind | str], *,
                  default_field: str = DEFAULT_FIELD, limits: QueryLimits | None = None,
                  ascii_fields: frozenset[str] | set[str] = frozenset()) -> CompiledQuery:
    """Parse and compile ``text`` against a source's ``fields`` (name -> kind).

    ``ascii_fields`` names text fields whose values are known to be all ASCII: their SQL uses ASCII
    character classes for word boundaries (same results there, much cheaper to compile).

    Raises:
        QuerySyntaxError: the query does not parse (position and hint).
        QueryTooLargeError: the query is over a limit of ``limits`` (default :meth:`QueryLimits.from_env`).
        UnknownFieldError: a field is not one of ``fields``.
        InvalidInputError: a value does not fit its field (a word for a number, a range on text, ...).
    """
    tree = parse_query(text, limits)
    if tree is None:
        return CompiledQuery(text or "", {"match_all": {}}, "TRUE", ())
    leaf = _Compiler(text, fields, default_field, frozenset(ascii_fields)).compile(tree, None)
    return CompiledQuery(text, leaf.es, leaf.sql, leaf.params)


def to_es_dsl(text: str, fields: Mapping[str, FieldKind | str], *, default_field: str = DEFAULT_FIELD) -> dict:
    """The Elasticsearch query clause for ``text``."""
    return compile_query(text, fields, default_field=default_field).es


def to_sql(text: str, fields: Mapping[str, FieldKind | str], *,
           default_field: str = DEFAULT_FIELD) -> tuple[str, tuple[Any, ...]]:
    """A DuckDB ``WHERE`` fragment with ``?`` placeholders, and its parameters."""
    c = compile_query(text, fields, default_field=default_field)
    return c.sql, c.params
