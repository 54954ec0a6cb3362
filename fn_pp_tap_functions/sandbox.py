"""Jinja2's sandbox with bounds: a template can neither hang a runtime worker nor exhaust its memory.

Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` stops a template from reaching Python internals,
and caps ``range()``; nothing else. ``{{ 'a' * 10**9 }}``, ``{{ x|center(10**9) }}``, ``{{ 9**9**9 }}``,
nested loops over ``range(100000)`` or a ``join`` of a huge list run for minutes or take gigabytes, and
Python cannot stop a thread from outside. :class:`BoundedSandbox` uses the sandbox's own hooks to bound
every render of its templates:

* **size, before the work is done**: the intercepted operators (``call_binop`` for ``*``, ``**``, ``%``
  and ``+``), ``call`` (functions, methods, macros) and every filter are checked before they run, so
  ``'a' * 10**9``, ``center(10**9)``, ``'{:>1000000000}'.format(x)``, ``'%1000000000d' % 1``, a huge
  ``join``/``replace``/``indent``, a 10**9-bit integer or a stringified list of a million copies of a
  long text is refused before any memory is taken: one text may have at most ``Limits.value``
  characters, one integer ``Limits.int_bits`` bits;
* **memory, in total**: everything those operations make (texts, list slots) and every piece of output
  is counted; one render may make at most ``Limits.chars`` characters in all, so a loop that makes a
  long text a thousand times stops too. A ``MemoryError`` that happens anyway is reported as a limit
  error. (A process-wide limit, ``resource.RLIMIT_AS``, is not used: the runtime runs every function in
  threads of one process, and such a limit would fail the other functions' work.)
* **time, by a deadline**: a render has ``Limits.seconds``; the deadline is checked at every hooked
  operation, at every item of every ``{% for %}`` loop (the compiler wraps each loop's iterable, and the
  iterable a recursive loop calls itself with, in a counting iterator) and at every piece of output.

Limits of the time bound: the check is cooperative, so one operation that has started (a C-level string
method, a sort, a filter's own loop) runs to its end before the next check. Every such operation works
on inputs bounded by the size limits above, so the overshoot is bounded too (well under a second on a
1,000,000-character text); but it is not a hard real-time bound. A hard bound would need each render in
a subprocess that can be killed (a fork per incident); the cooperative bound gives the same guarantee,
"the worker is never lost", for every template the Jinja language can express.

A render that goes past a bound raises :class:`RenderLimitError` (a :class:`jinja2.exceptions.SecurityError`)
with a message a SOC engineer can act on; callers report it with the template key.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, pass_eval_context
from jinja2.visitor import NodeTransformer

LOOP_FILTER = "_pp_bounded_loop"
OUTPUT_FILTER = "_pp_bounded_output"
CONCAT_FILTER = "_pp_bounded_concat"


@dataclass(frozen=True)
class Limits:
    """What one render may use: wall time, characters made in all, characters of one value, integer bits."""

    seconds: float = 5.0
    chars: int = 8_000_000
    value: int = 1_000_000
    int_bits: int = 65_536


class RenderLimitError(SecurityError):
    """A template went past one of the render limits; the message says which and what to change."""


class _Session:
    """The budget of one render (shared by nested renders in the same thread)."""

    __slots__ = ("limits", "deadline", "left")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.left = limits.chars

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitError(
                f"stopped after {self.limits.seconds:g} s: rendering may take at most {self.limits.seconds:g} s; "
                "look for loops inside loops or over large ranges")

    def charge(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise RenderLimitError(
                f"stopped: the template made more than {self.limits.chars:,} characters of text in all "
                "(the limit for one render); look for long texts made inside loops")


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("pp_tap_render_session", default=None)


@contextmanager
def render_session(limits: Limits) -> Iterator[None]:
    """Bound every render inside the block by one budget (a block inside another joins the outer budget)."""
    if _SESSION.get() is not None:
        yield
        return
    token = _SESSION.set(_Session(limits))
    try:
        yield
    except MemoryError:
        raise RenderLimitError("stopped: the template ran out of memory; it makes too much text") from None
    finally:
        _SESSION.reset(token)


# ------------------------------------------------------------------------------------------ measuring

def weight(value: object, cap: int) -> int:
    """About how many characters ``value`` makes as text (nested containers included); stops past ``cap``."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 3
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 24
        if total > cap:
            return total
    return total


def _too_long(size: int, limits: Limits, what: str = "a text") -> None:
    if size > limits.value:
        raise RenderLimitError(f"stopped: this would make {what} of about {size:,} characters; one value may have "
                               f"at most {limits.value:,}")


def _check_weight(value: object, limits: Limits) -> None:
    if not isinstance(value, str):
        _too_long(weight(value, limits.value + 1), limits)


def _charge(result: object) -> None:
    session = _SESSION.get()
    if isinstance(result, str | bytes):
        _too_long(len(result), session.limits if session else Limits())
        if session is not None:
            session.charge(len(result))
    elif session is not None and isinstance(result, list | tuple | dict | set | frozenset):
        session.charge(len(result))


def _number(value: object, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _check_percent(fmt: str, limits: Limits) -> None:
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                raise RenderLimitError("stopped: '*' widths in % formatting are not allowed; write the number")
            if part is not None:
                _too_long(int(part), limits, "a formatted value")


def _check_format(fmt: str, limits: Limits) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    for _literal, _field, spec, _conversion in fields:
        if spec and "{" in spec:
            raise RenderLimitError("stopped: a format width taken from a value ({...} inside a format spec) is "
                                   "not allowed; write the number")
        for number in re.findall(r"\d+", spec or ""):
            _too_long(int(number), limits, "a formatted value")


def _text_len(value: object) -> int:
    """How long ``str(value)`` would be, without making it."""
    return len(value) if isinstance(value, str) else weight(value, Limits().value + 1)


def _replaced_size(text: str, old: object, new: object, count: object) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text) + _text_len(old) + _text_len(new)
    hits = len(text) + 1 if old == "" else text.count(old)
    limit = _number(count, -1)
    if limit >= 0:
        hits = min(hits, limit)
    return len(text) + hits * max(0, len(new) - len(old))


def _materialise(items: object, limits: Limits) -> list[Any]:
    """An iterable as a list (generators from ``map`` and the like run through the hooks as they go)."""
    if isinstance(items, str):
        return list(items)
    if not isinstance(items, Iterable):
        return [items]
    out = []
    for item in items:
        out.append(item)
        if len(out) > limits.value:
            _too_long(len(out), limits, "a list")
    return out


def _joined_size(items: list[Any], sep: object, limits: Limits) -> int:
    return weight(items, limits.value + 1) + _text_len(sep) * max(0, len(items) - 1)


def current_limits() -> Limits:
    """The limits of the render running in this thread (the defaults outside one)."""
    session = _SESSION.get()
    return session.limits if session is not None else Limits()


def check_joined(items: list[Any], sep: str) -> None:
    """For template helpers that join: refuse before joining when the text would be too long."""
    limits = current_limits()
    _too_long(_joined_size(items, sep, limits), limits)


# ------------------------------------------------------------------------------------------- filters

Args = tuple[Any, ...]
Kwargs = dict[str, Any]
Precheck = Callable[[Limits, Args, Kwargs], Args]


def _arg(args: Args, kwargs: Kwargs, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _pre_center(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    _too_long(_number(_arg(args, kwargs, 1, "width", 80)), limits)
    return args


def _pre_indent(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    width = _arg(args, kwargs, 1, "width", 4)
    size = len(width) if isinstance(width, str) else _number(width)
    text = args[0] if args and isinstance(args[0], str) else ""
    _too_long(len(text) + size * (text.count("\n") + 1), limits)
    return args


def _pre_wordwrap(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    text = args[0] if args and isinstance(args[0], str) else ""
    width = max(1, _number(_arg(args, kwargs, 1, "width", 79), 79))
    wrap = _arg(args, kwargs, 3, "wrapstring", None)
    _too_long(len(text) + (len(text) // width + 1) * _text_len(wrap or "\n"), limits)
    return args


def _pre_join(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    if not args:
        return args
    items = _materialise(args[0], limits)
    _too_long(_joined_size(items, _arg(args, kwargs, 1, "d", ""), limits), limits)
    return (items, *args[1:])


def _pre_replace(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    if len(args) >= 3 and isinstance(args[0], str):
        _too_long(_replaced_size(args[0], args[1], args[2], _arg(args, kwargs, 3, "count", None)), limits)
    return args


def _pre_format(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    if args:
        _check_percent(args[0] if isinstance(args[0], str) else "", limits)
        _check_weight(list(args[1:]) + list(kwargs.values()), limits)
    return args


def _pre_urlize(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    text = args[0] if args and isinstance(args[0], str) else ""
    extra = _text_len(_arg(args, kwargs, 3, "target", "") or "") + _text_len(_arg(args, kwargs, 4, "rel", "") or "")
    _too_long(3 * len(text) + (len(text.split()) + 1) * (extra + 60), limits)
    return args


def _pre_sum(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    start = _arg(args, kwargs, 2, "start", 0)
    if isinstance(start, bool) or not isinstance(start, int | float):
        raise RenderLimitError("stopped: sum() adds numbers only here (start must be a number)")
    return args


def _pre_count(name: str, index: int, default: int) -> Precheck:
    def check(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
        _too_long(_number(_arg(args, kwargs, index, name, default)), limits, "a list")
        return args
    return check


def _pre_tojson(limits: Limits, args: Args, kwargs: Kwargs) -> Args:
    indent = _arg(args, kwargs, 1, "indent", None)
    if indent is not None and (len(indent) if isinstance(indent, str) else _number(indent)) > 16:
        raise RenderLimitError("stopped: tojson's indent may be at most 16")
    return args


_PRECHECKS: dict[str, Precheck] = {
    "center": _pre_center, "indent": _pre_indent, "wordwrap": _pre_wordwrap, "join": _pre_join,
    "replace": _pre_replace, "format": _pre_format, "urlize": _pre_urlize, "sum": _pre_sum,
    "batch": _pre_count("linecount", 1, 1), "slice": _pre_count("slices", 1, 1), "tojson": _pre_tojson,
}


def _bounded_filter(name: str, func: Callable[..., Any], limits: Limits) -> Callable[..., Any]:
    if getattr(func, "_pp_bounded", False):
        return func
    skip = 0 if _PassArg.from_obj(func) is None else 1  # the context/environment Jinja passes first
    precheck = _PRECHECKS.get(name)

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        session = _SESSION.get()
        if session is not None:
            session.check()
        head, rest = args[:skip], args[skip:]
        if rest and not isinstance(rest[0], str | Iterator):
            _check_weight(rest[0], limits)  # the value, which most filters turn into text
        if precheck is not None:
            rest = precheck(limits, rest, kwargs)
        result = func(*head, *rest, **kwargs)
        _charge(result)
        return result

    bounded._pp_bounded = True  # type: ignore[attr-defined]
    return bounded


class _BoundedFilters(dict[str, Callable[..., Any]]):
    """The environment's filters: every filter set, now or later, is wrapped in the bounds."""

    def __init__(self, filters: Mapping[str, Callable[..., Any]], limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self.update(filters)

    def __setitem__(self, name: str, func: Callable[..., Any]) -> None:
        super().__setitem__(name, _bounded_filter(name, func, self.limits))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, func in dict(*args, **kwargs).items():
            self[name] = func


def _counted(iterable: Iterable[Any], session: _Session) -> Iterator[Any]:
    for index, item in enumerate(iterable):
        if not index & 31:
            session.check()
        yield item


def _loop(iterable: Any) -> Any:
    """Every ``{% for %}`` iterates through this: the deadline is checked as the loop runs."""
    session = _SESSION.get()
    if session is None or isinstance(iterable, str | Mapping) or not isinstance(iterable, Iterable):
        return iterable  # strings and mappings keep Jinja's own handling (a dict loops over its keys)
    return _counted(iterable, session)


def _output(value: Any) -> Any:
    """Every ``{{ ... }}`` goes through this: its text counts towards the budget before it is made."""
    session = _SESSION.get()
    if session is not None:
        session.check()
        size = weight(value, session.limits.value + 1)
        _too_long(size, session.limits)
        session.charge(size)
    return value


@pass_eval_context
def _concat(eval_ctx: Any, parts: tuple[Any, ...]) -> str:
    """``a ~ b ~ c``: the joined length is checked before the text is made."""
    session = _SESSION.get()
    limits = session.limits if session else Limits()
    size = weight(parts, limits.value + 1)
    _too_long(size, limits)
    if session is not None:
        session.check()
        session.charge(size)
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


class _Bounder(NodeTransformer):
    """Rewrites a template's tree so loops, output and ``~`` go through the bounded filters above."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        if not (isinstance(node.iter, nodes.Filter) and node.iter.name == LOOP_FILTER):
            assert isinstance(node.iter, nodes.Expr)
            node.iter = _filter(node.iter, LOOP_FILTER)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [child if isinstance(child, nodes.TemplateData) or (
            isinstance(child, nodes.Filter) and child.name == OUTPUT_FILTER) else _filter(child, OUTPUT_FILTER)
            for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.Tuple(list(node.nodes), "load", lineno=node.lineno), CONCAT_FILTER)


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


# ------------------------------------------------------------------------------------------ the sandbox

class BoundedTemplate(Template):
    """A template whose ``render`` is one bounded render (or part of the caller's)."""

    environment: BoundedSandbox

    def render(self, *args: Any, **kwargs: Any) -> str:
        with render_session(self.environment.limits):
            return super().render(*args, **kwargs)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """:class:`ImmutableSandboxedEnvironment` whose renders are bounded by ``limits`` (see the module)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    template_class = BoundedTemplate

    def __init__(self, *args: Any, limits: Limits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or Limits()
        self.globals.pop("lipsum", None)  # makes any amount of text by design
        filters = _BoundedFilters(self.filters, self.limits)
        filters[LOOP_FILTER] = _loop
        filters[OUTPUT_FILTER] = _output
        filters[CONCAT_FILTER] = _concat
        self.filters = filters

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        return self.bound_tree(tree)

    def bound_tree(self, tree: nodes.Template) -> nodes.Template:
        bounded = _Bounder().visit(tree)
        assert isinstance(bounded, nodes.Template)
        bounded.set_environment(self)
        return bounded

    def from_string(self, source: str | nodes.Template, *args: Any, **kwargs: Any) -> Template:
        if isinstance(source, nodes.Template):  # compile_expression builds its tree itself
            source = self.bound_tree(source)
        return super().from_string(source, *args, **kwargs)

    # --- the sandbox's hooks --------------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        session = _SESSION.get()
        if session is not None:
            session.check()
        self._check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        _charge(result)
        return result

    def _check_binop(self, operator: str, left: Any, right: Any) -> None:
        limits = self.limits
        ints = [isinstance(v, int) and not isinstance(v, bool) for v in (left, right)]
        if operator == "*":
            if all(ints):
                if left.bit_length() + right.bit_length() > limits.int_bits:
                    raise RenderLimitError(f"stopped: this would make a number of more than {limits.int_bits:,} bits")
                return
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
                    _too_long(max(0, count) * weight(seq, limits.value + 1), limits)
        elif operator == "**" and all(ints) and right > 0 and abs(left) > 1:
            if right * abs(left).bit_length() > limits.int_bits:
                raise RenderLimitError(f"stopped: this would make a number of more than {limits.int_bits:,} bits")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, limits)
            _check_weight(right, limits)
        elif operator == "+" and isinstance(left, str | list | tuple):
            _too_long(weight(left, limits.value + 1) + weight(right, limits.value + 1), limits)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        session = _SESSION.get()
        if session is not None:
            session.check()
            if isinstance(__obj, LoopContext) and args:  # a recursive loop calling itself
                args = (_loop(args[0]), *args[1:])
        args = __self._check_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _charge(result)
        return result

    def _check_call(self, obj: Any, args: Args, kwargs: Kwargs) -> Args:
        """Size checks of the methods that can make a long text from short inputs (before they run)."""
        limits = self.limits
        target = getattr(obj, "__wrapped__", obj)  # str.format comes wrapped by the sandbox
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, str | bytes):
            if name in ("center", "ljust", "rjust", "zfill"):
                _too_long(_number(_arg(args, kwargs, 0, "width", 0)), limits)
            elif name == "expandtabs":
                tab = _number(_arg(args, kwargs, 0, "tabsize", 8), 8)
                tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
                _too_long(len(owner) + max(0, tab) * tabs, limits)
            elif name == "join" and args:
                items = _materialise(args[0], limits)
                _too_long(_joined_size(items, owner, limits), limits)
                return (items, *args[1:])
            elif name == "replace" and len(args) >= 2 and isinstance(owner, str):
                _too_long(_replaced_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count", None)), limits)
            elif name in ("format", "format_map") and isinstance(owner, str):
                _check_format(owner, limits)
                _check_weight(list(args) + list(kwargs.values()), limits)
        elif isinstance(owner, int) and name == "to_bytes":
            _too_long(_number(_arg(args, kwargs, 0, "length", 1)), limits, "a byte string")
        return args

    def getattr(self, obj: Any, attribute: str) -> Any:
        session = _SESSION.get()
        if session is not None:
            session.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        session = _SESSION.get()
        if session is not None:
            session.check()
        result = super().getitem(obj, argument)
        if isinstance(argument, slice):
            _charge(result)
        return result
