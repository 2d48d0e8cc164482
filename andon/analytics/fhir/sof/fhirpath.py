"""The FHIRPath subset of SQL-on-FHIR v2: a tokenizer and a parser into a small expression tree.

The tree is plain dataclasses (`Member`, `Index`, `Call`, `Binary`, `Unary`, `Literal`,
`Constant`, `This`) so that the compiler (`compile.py`) and the tests can read it without
evaluating anything. A malformed expression raises `FHIRPathError` with its position.

Depth is bounded (`max_depth`): the parser counts how deeply it descends (parentheses, indexes,
arguments, unary signs) and the tree is measured once parsed (a chain of `=` nests to the
left without the parser descending), so neither the parser nor the compiler, both recursive,
ever meets Python's recursion limit. Number literals are bounded too: an integer is at most
64 bits, a decimal at most MAX_DECIMAL_DIGITS characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

DEFAULT_MAX_DEPTH = 64
MAX_DECIMAL_DIGITS = 64
_INT64 = 2**63 - 1


class FHIRPathError(ValueError):
    """An expression outside the supported FHIRPath subset, or malformed."""


# ---------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class This:
    """`$this`, or the focus an expression starts from."""


@dataclass(frozen=True)
class Literal:
    value: object
    kind: str  # string, integer, decimal, boolean, date, dateTime, time, empty


@dataclass(frozen=True)
class Constant:
    name: str  # %name (without the %)


@dataclass(frozen=True)
class Member:
    base: object  # a node; This() for the focus
    name: str


@dataclass(frozen=True)
class Index:
    base: object
    index: object


@dataclass(frozen=True)
class Call:
    base: object
    name: str
    args: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object


# ---------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<date>@T?[0-9][0-9:T.+\-Z]*)
  | (?P<number>[0-9]+(?:\.[0-9]+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delimited>`(?:[^`\\]|\\.)*`)
  | (?P<constant>%[A-Za-z_][A-Za-z0-9_]*|%`(?:[^`\\]|\\.)*`)
  | (?P<this>\$this|\$index|\$total)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|[-+*/&|=<>~.,()\[\]])
    """,
    re.VERBOSE,
)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(text: str) -> str:
    def one(match):
        c = match.group(1)
        if c.startswith("u"):
            return chr(int(c[1:], 16))
        return _ESCAPES.get(c, c)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    if not isinstance(text, str):
        raise FHIRPathError(f"a FHIRPath expression must be a string, not {type(text).__name__}")
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise FHIRPathError(f"unexpected character {text[pos]!r} at position {pos} in {text!r}")
        kind = match.lastgroup
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# ---------------------------------------------------------------------------- parser

# binary operators, loosest first
_LEVELS = [
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<", ">", "<=", ">="),
    ("|",),
    ("is", "as"),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
]
_LEVEL_OF = {op: level for level, ops in enumerate(_LEVELS) for op in ops}


def _shown(text: str) -> str:
    """The expression for a message: whole when short."""
    return repr(text) if len(text) <= 120 else repr(text[:120]) + "…"


class _Parser:
    def __init__(self, text: str, max_depth: int):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.max_depth = max_depth
        self.depth = 0  # how deeply unary() calls are nested: parentheses, indexes, arguments, signs

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str):
        raise FHIRPathError(f"{message} at position {self.tok.pos} in {_shown(self.text)}")

    def accept(self, text: str) -> bool:
        if self.tok.kind in ("op", "ident") and self.tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str):
        if not self.accept(text):
            self.error(f"expected {text!r}, found {self.tok.text or 'the end'!r}")

    def parse(self):
        if self.tok.kind == "end":
            self.error("empty expression")
        node = self.binary(0)
        if self.tok.kind != "end":
            self.error(f"unexpected {self.tok.text!r}")
        return node

    def binary(self, level: int):
        """An expression of operators at `level` of _LEVELS or tighter (precedence climbing:
        one call per operand, not one per level, so each parenthesis costs three frames)."""
        node = self.unary()
        while self.tok.kind in ("op", "ident"):
            found = _LEVEL_OF.get(self.tok.text)
            if found is None or found < level:
                return node
            op = self.tok.text
            self.i += 1
            if op in ("is", "as"):
                node = Call(node, op, (self.type_name(),))
            else:
                node = Binary(op, node, self.binary(found + 1))
        return node

    def unary(self):
        self.depth += 1
        if self.depth > self.max_depth:
            self.error(f"nested deeper than {self.max_depth} levels")
        try:
            if self.tok.kind == "op" and self.tok.text in ("+", "-"):
                op = self.tok.text
                self.i += 1
                return Unary(op, self.unary())
            return self.postfix(self.term())
        finally:
            self.depth -= 1

    def type_name(self) -> str:
        parts = [self.identifier()]
        while self.accept("."):
            parts.append(self.identifier())
        return ".".join(parts)

    def identifier(self) -> str:
        tok = self.tok
        if tok.kind == "ident":
            self.i += 1
            return tok.text
        if tok.kind == "delimited":
            self.i += 1
            return _unescape(tok.text[1:-1])
        self.error(f"expected a name, found {tok.text or 'the end'!r}")

    def term(self):
        tok = self.tok
        if tok.kind == "number":
            shown = tok.text if len(tok.text) <= 10 else tok.text[:10] + "…"
            if "." in tok.text:
                if len(tok.text) > MAX_DECIMAL_DIGITS:
                    self.error(f"the number {shown} has more than {MAX_DECIMAL_DIGITS} digits")
                self.i += 1
                return Literal(tok.text, "decimal")  # kept as text: exact
            # compared as text first: Python refuses to read integers of over 4,300 digits
            if len(tok.text.lstrip("0")) > 19 or int(tok.text) > _INT64:
                self.error(f"the number {shown} is out of range (a FHIRPath integer has at most 64 bits)")
            self.i += 1
            return Literal(int(tok.text), "integer")
        if tok.kind == "string":
            self.i += 1
            return Literal(_unescape(tok.text[1:-1]), "string")
        if tok.kind == "date":
            self.i += 1
            body = tok.text[1:]
            if body.startswith("T"):
                return Literal(body[1:], "time")
            return Literal(body, "dateTime" if "T" in body else "date")
        if tok.kind == "constant":
            self.i += 1
            name = tok.text[1:]
            return Constant(_unescape(name[1:-1]) if name.startswith("`") else name)
        if tok.kind == "this":
            self.i += 1
            if tok.text != "$this":
                self.error(f"{tok.text} is not supported")
            return This()
        if tok.kind == "op" and tok.text == "(":
            self.i += 1
            node = self.binary(0)
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "{":
            self.error("collection literals are not supported")
        if tok.kind == "ident" and tok.text in ("true", "false"):
            self.i += 1
            return Literal(tok.text == "true", "boolean")
        if tok.kind in ("ident", "delimited"):
            return self.invocation(This())
        self.error(f"unexpected {tok.text or 'the end'!r}")

    def invocation(self, base):
        name = self.identifier()
        if self.accept("("):
            args = []
            if not self.accept(")"):
                args.append(self.binary(0))
                while self.accept(","):
                    args.append(self.binary(0))
                self.expect(")")
            return Call(base, name, tuple(args))
        return Member(base, name)

    def postfix(self, node):
        while True:
            if self.accept("."):
                node = self.invocation(node)
            elif self.accept("["):
                index = self.binary(0)
                self.expect("]")
                node = Index(node, index)
            else:
                return node


def depth(node) -> int:
    """How many nodes deep the tree is (measured without recursion)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        for f in fields(node):
            value = getattr(node, f.name)
            for child in value if isinstance(value, tuple) else (value,):
                if is_node(child):
                    stack.append((child, level + 1))
    return deepest


def is_node(value) -> bool:
    return isinstance(value, (This, Literal, Constant, Member, Index, Call, Binary, Unary))


def parse(text: str, max_depth: int = DEFAULT_MAX_DEPTH):
    """The expression tree of `text`; `FHIRPathError` when it is not valid FHIRPath or nests
    deeper than `max_depth`."""
    node = _Parser(text, max_depth).parse()
    if depth(node) > max_depth:
        raise FHIRPathError(f"nested deeper than {max_depth} levels in {_shown(text)}")
    return node
