"""A tiny, safe interpreter for the conditions written in workflow files.

Workflow files are data that anyone with commit rights can change, and the
operations CLI runs them with cluster credentials, so conditions are never
handed to ``eval``. The text is parsed with ``ast`` and every node is checked
against a short allow-list before anything runs: comparisons, and/or/not,
integer + and -, ``min``/``max``, string and integer constants, and
``if``/``elif``/``else`` with assignments to the step's declared outputs.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from vapora_infra.errors import VaporaError

Value = int | str | bool

# Generous for any real rule, small enough that parsing stays instant and a
# hostile text cannot build deep recursion or huge trees.
MAX_TEXT = 4000
MAX_NODES = 400
# Only + and - exist, so numbers grow slowly; the bound still stops a rule from
# producing a replica count no cluster could mean.
MAX_INT = 2**31

ALLOWED = (
    "allowed: comparisons, and/or/not (&&, ||), integer + and -, min(), max(), "
    "string and integer constants, if/elif/else and assignments to the outputs"
)

_FUNCTIONS: dict[str, Callable[..., Value]] = {"min": min, "max": max}
_COMPARE: dict[type[ast.cmpop], Callable[[Value, Value], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,  # type: ignore[operator]
    ast.LtE: lambda a, b: a <= b,  # type: ignore[operator]
    ast.Gt: lambda a, b: a > b,  # type: ignore[operator]
    ast.GtE: lambda a, b: a >= b,  # type: ignore[operator]
}
_EXPRESSION_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Compare,
    *_COMPARE,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Call,
)
_STATEMENT_NODES = (ast.Module, ast.If, ast.Assign, ast.Store, ast.Pass)
# Spec files use C-style && and ||; strings are matched first so that an
# operator inside a quoted value stays as written.
_C_OPERATORS = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|&&|\|\||!(?!=)")
_C_REPLACEMENT = {"&&": " and ", "||": " or ", "!": " not "}


class EvaluationError(VaporaError):
    """A condition that is not allowed, or that failed while it ran."""


def evaluate(text: str, names: Mapping[str, Value]) -> Value:
    """The value of one expression, such as a step's ``when``."""
    tree = _parse(text, "eval")
    _check(tree, _EXPRESSION_NODES, outputs=())
    assert isinstance(tree, ast.Expression)

    with _depth_guard():
        return _Interpreter(names, text).expression(tree.body)


def run_block(
    text: str, names: Mapping[str, Value], outputs: Sequence[str]
) -> dict[str, Value]:
    """Run an if/elif/else block; return the outputs it assigned."""
    tree = _parse(text, "exec")
    _check(tree, (*_EXPRESSION_NODES, *_STATEMENT_NODES), outputs=tuple(outputs))
    assert isinstance(tree, ast.Module)

    interpreter = _Interpreter(names, text)
    with _depth_guard():
        interpreter.statements(tree.body)
    return dict(interpreter.assigned)


def check_block(text: str, outputs: Sequence[str]) -> None:
    """Refuse a block that would not be allowed to run, without running it."""
    tree = _parse(text, "exec")
    _check(tree, (*_EXPRESSION_NODES, *_STATEMENT_NODES), outputs=tuple(outputs))


def _parse(text: str, mode: str) -> ast.AST:
    if len(text) > MAX_TEXT:
        raise EvaluationError(
            f"condition is {len(text)} characters long; at most {MAX_TEXT} allowed."
        )
    source = textwrap.dedent(_C_OPERATORS.sub(_c_operator, text)).strip()
    if not source:
        raise EvaluationError("condition is empty.")
    try:
        return ast.parse(source, mode=mode)
    except SyntaxError as error:
        raise EvaluationError(
            f"condition line {error.lineno}: {error.msg}; {ALLOWED}."
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise EvaluationError(f"condition is nested too deeply; {ALLOWED}.") from None


@contextmanager
def _depth_guard() -> Iterator[None]:
    try:
        yield
    except RecursionError:
        raise EvaluationError(f"condition is nested too deeply; {ALLOWED}.") from None


def _c_operator(match: re.Match[str]) -> str:
    token = match.group(0)
    return _C_REPLACEMENT.get(token, token)


def _check(tree: ast.AST, allowed: tuple[type, ...], outputs: tuple[str, ...]) -> None:
    for count, node in enumerate(ast.walk(tree), start=1):
        if count > MAX_NODES:
            raise EvaluationError(
                f"condition has more than {MAX_NODES} parts; simplify it."
            )
        if not isinstance(node, allowed):
            raise EvaluationError(f"{_where(node)}{_describe(node)}; {ALLOWED}.")
        _check_node(node, outputs)


def _check_node(node: ast.AST, outputs: tuple[str, ...]) -> None:
    where = _where(node)
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise EvaluationError(f"{where}name {node.id!r} is not allowed; {ALLOWED}.")
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | str):
        raise EvaluationError(
            f"{where}constant {node.value!r} is not allowed; {ALLOWED}."
        )
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        _bounded(node.value, node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        raise EvaluationError(f"{where}attribute access is not allowed; {ALLOWED}.")
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords or len(node.args) < 2:
            shown = name or ast.unparse(node.func)
            raise EvaluationError(
                f"{where}call of {shown!r} is not allowed; only min(a, b, ...) and "
                f"max(a, b, ...); {ALLOWED}."
            )
    if isinstance(node, ast.Assign):
        target = node.targets[0] if len(node.targets) == 1 else None
        if not isinstance(target, ast.Name) or target.id not in outputs:
            declared = ", ".join(outputs) or "(none)"
            raise EvaluationError(
                f"{where}assignment to {ast.unparse(node.targets[0])!r} is not "
                f"allowed; the step's outputs are: {declared}."
            )


def _describe(node: ast.AST) -> str:
    kinds: dict[type, str] = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Import: "import",
        ast.ImportFrom: "import",
        ast.Lambda: "lambda",
        ast.ListComp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.Pow: "the ** operator",
        ast.Mult: "the * operator",
        ast.Div: "the / operator",
        ast.FloorDiv: "the // operator",
        ast.Mod: "the % operator",
        ast.LShift: "the << operator",
    }
    what = kinds.get(type(node), type(node).__name__)
    return f"{what} is not allowed"


def _where(node: ast.AST) -> str:
    line = getattr(node, "lineno", None)
    return f"condition line {line}: " if line is not None else "condition: "


def _bounded(value: int, node: ast.AST) -> int:
    if not -MAX_INT <= value <= MAX_INT:
        raise EvaluationError(
            f"{_where(node)}integer {value} is out of range; at most {MAX_INT} in size."
        )
    return value


class _Interpreter:
    """Walks a tree that ``_check`` accepted."""

    def __init__(self, names: Mapping[str, Value], text: str) -> None:
        self.names = dict(names)
        self.assigned: dict[str, Value] = {}
        self.text = text

    def statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, ast.If):
                branch = statement.body if self.truth(statement.test) else None
                self.statements(branch if branch is not None else statement.orelse)
            elif isinstance(statement, ast.Assign):
                target = statement.targets[0]
                assert isinstance(target, ast.Name)
                value = self.expression(statement.value)
                self.assigned[target.id] = value
                self.names[target.id] = value

    def truth(self, node: ast.expr) -> bool:
        return bool(self.expression(node))

    def expression(self, node: ast.expr) -> Value:
        if isinstance(node, ast.Constant):
            # _check let only int and str constants through.
            value: Value = node.value  # type: ignore[assignment]
            return value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BoolOp):
            return self.bool_op(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise EvaluationError(f"{_where(node)}{_describe(node)}; {ALLOWED}.")

    def name(self, node: ast.Name) -> Value:
        if node.id not in self.names:
            known = ", ".join(sorted(self.names)) or "(none)"
            raise EvaluationError(
                f"{_where(node)}name {node.id!r} is not defined; known: {known}."
            )
        return self.names[node.id]

    def bool_op(self, node: ast.BoolOp) -> bool:
        if isinstance(node.op, ast.And):
            return all(self.truth(value) for value in node.values)
        return any(self.truth(value) for value in node.values)

    def unary(self, node: ast.UnaryOp) -> Value:
        if isinstance(node.op, ast.Not):
            return not self.truth(node.operand)
        operand = self.integer(node.operand)
        return _bounded(-operand if isinstance(node.op, ast.USub) else operand, node)

    def binary(self, node: ast.BinOp) -> int:
        left = self.integer(node.left)
        right = self.integer(node.right)
        total = left + right if isinstance(node.op, ast.Add) else left - right
        return _bounded(total, node)

    def compare(self, node: ast.Compare) -> bool:
        left = self.expression(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.expression(comparator)
            if type(op) not in (ast.Eq, ast.NotEq) and isinstance(left, str) != (
                isinstance(right, str)
            ):
                raise EvaluationError(
                    f"{_where(node)}cannot order {left!r} against {right!r}."
                )
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def call(self, node: ast.Call) -> int:
        assert isinstance(node.func, ast.Name)
        values = [self.integer(arg) for arg in node.args]
        result = _FUNCTIONS[node.func.id](*values)
        assert isinstance(result, int)
        return result

    def integer(self, node: ast.expr) -> int:
        value = self.expression(node)
        if isinstance(value, str):
            raise EvaluationError(
                f"{_where(node)}{value!r} is text where a number is needed."
            )
        return int(value)
