"""The script sandbox: a policy that says what a script may import, read, write and call and for how long,
and the guards that hold a running script to it. It knows nothing of SOAR's objects
(:mod:`sim.soar.engine.objects`): a policy is a class with hooks, in the manner of Jinja2's
``SandboxedEnvironment``, and :mod:`sim.soar.engine.scripts` subclasses it to let scripts write to
SOAR's objects and nothing else.

SOAR blocks file system, network and most modules; the exact rules are not public, so the emulator errs
on the strict side and refuses loudly:

* A static AST pass refuses, before anything runs: imports outside :data:`ALLOWED_MODULES` (also
  relative and ``*`` imports), attribute names starting with ``_`` (dunders and private members:
  ``().__class__.__mro__``, ``f.__globals__``), frame/code/generator internals (``gi_frame``,
  ``f_globals``, ``tb_frame``...), names starting with ``__`` (``__import__``, ``__builtins__``),
  use of ``open``/``eval``/``exec``/``compile``/``globals``/``locals``/``vars``/``dir``/``input``/
  ``breakpoint``/``super``/``object`` (unless the script defines that name itself), class definitions,
  ``async`` code and ``match`` statements (class patterns read attributes unchecked; SOAR documents
  Python 3.6 as its language level anyway).
* The code is rewritten so every attribute *read* goes through a guard (which also catches
  ``getattr(x, "__globals__")``, ``hasattr``, and ``"{0.__class__}".format(x)`` through a checked
  ``str.format``), and every attribute *write* is allowed only on the objects the policy calls writable
  (for SOAR: incident, ``incident.properties``, artifact, rows, ``inputs``) so stdlib classes cannot be
  monkey-patched for the whole emulator.
* Builtins are a small safe set; ``getattr``/``hasattr``/``setattr``/``delattr`` are the guarded
  versions, ``type`` takes one argument only, ``print`` goes to the captured log.
* Allowed modules are handed out as read-only proxies that never return another module (``json.codecs``,
  ``datetime.sys`` would otherwise reach ``open`` and ``os``).
* Any sandbox violation is fatal even if the script catches the exception: the script fails.
* Time limit (default :data:`DEFAULT_TIME_LIMIT` seconds): the script runs in its own daemon thread;
  when the limit passes, a timeout exception is injected into that thread (repeatedly, so ``except:``
  cannot swallow it) and the script fails. Code stuck inside one C call (``time.sleep`` is capped, but
  e.g. a huge ``math.factorial``) cannot be interrupted: after a grace period the thread is abandoned,
  its late changes are discarded and the script fails all the same.
* Not limited: memory.
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]  # the C helper string.Formatter itself uses to split "a.b[c]" field names
import ast
import builtins
import ctypes
import functools
import importlib
import string
import threading
import time
import types
from collections.abc import Callable
from typing import Any, TypeVar

from sim.soar.engine.errors import ScriptFailed

#: Seconds a script may run before it is stopped and fails.
DEFAULT_TIME_LIMIT = 10.0
#: After the limit, how long the engine keeps trying to stop the thread before abandoning it.
ABANDON_GRACE = 1.0

#: Modules a script may import. IBM names json, datetime, re, collections, xml, bs4, email parsers and
#: hashlib (seen in its scripts); the full list is not public. Kept small on purpose: the pure-data
#: modules below. ``xml``/``email`` are NOT allowed: their parsers and writers accept file names
#: (``ElementTree.parse("/etc/passwd")``, ``ElementTree.write(path)``), which a SOAR script must not
#: reach; ``bs4`` is not in the standard library.
ALLOWED_MODULES: frozenset[str] = frozenset(
    {"json", "re", "datetime", "time", "math", "collections", "hashlib", "base64"}
)

#: Builtin names a script may not use (unless it binds the name itself).
FORBIDDEN_NAMES: frozenset[str] = frozenset(
    {
        "open", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "input", "breakpoint",
        "help", "exit", "quit", "memoryview", "super", "object", "classmethod", "staticmethod",
        "property", "copyright", "credits", "license",
    }
)

#: Non-underscore attributes that lead to frames, code objects or class internals.
BLOCKED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "gi_suspended",
        "cr_frame", "cr_code", "cr_await", "cr_origin", "cr_running",
        "ag_frame", "ag_code", "ag_await", "ag_running",
        "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "f_trace", "f_lasti", "f_lineno",
        "tb_frame", "tb_next", "tb_lasti", "tb_lineno",
        "co_code", "co_consts", "co_names", "co_varnames", "co_filename",
        "mro",
    }
)

SAFE_BUILTINS: tuple[str, ...] = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr", "complex",
    "dict", "divmod", "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "id", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "oct", "ord", "pow",
    "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip",
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError",
    "LookupError", "NameError", "NotImplementedError", "OverflowError", "RuntimeError", "StopIteration",
    "TypeError", "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError", "ValueError",
    "ZeroDivisionError", "True", "False", "None", "NotImplemented", "Ellipsis",
)

# Names the rewritten code uses; not valid identifiers, so script text can never mention them.
_GETATTR = "%getattr"
_WRITE = "%write"
_CHECK = "%check"  # called at every loop iteration, function entry and except handler: time limit
_FILENAME = "<soar-script>"


# --------------------------------------------------------------------------------------------------
# Aborts: BaseException so ``except Exception`` in a script does not swallow them; the run also
# remembers them, so even a bare ``except:`` cannot undo a failure.


class Abort(BaseException):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class FailCalled(Abort):
    """The script gave up on purpose (SOAR's ``helper.fail(...)``)."""


class Violation(Abort):
    """The script tried to leave the sandbox."""


class TimedOut(Abort):
    """Injected into the script thread when the time limit passes."""

    def __init__(self, why: str = "time limit exceeded") -> None:
        super().__init__(why)


_A = TypeVar("_A", bound=Abort)


class Run:
    """One script run as the sandbox sees it: its deadline, its log and its first fatal event.

    ``closed`` turns an abandoned thread's late calls away. The script objects extend it with what
    they record (:class:`sim.soar.engine.objects.ScriptState`)."""

    def __init__(self, deadline: float = float("inf")) -> None:
        self.deadline = deadline
        self.log: list[str] = []
        self.failure: Abort | None = None
        self.closed = False
        self.lock = threading.Lock()

    def abort(self, exc: _A) -> _A:
        """Remember the first fatal event (sticky) and return it for raising."""
        with self.lock:
            if self.failure is None:
                self.failure = exc
        return exc

    def check(self) -> None:
        if self.closed:
            raise TimedOut("script was stopped")
        if time.monotonic() > self.deadline:
            raise self.abort(TimedOut())


# --------------------------------------------------------------------------------------------------
# The policy


class SandboxPolicy:
    """What scripts may do. Override a hook to change one rule; the guards and the static pass ask
    only these.

    ``time_limit`` is the seconds a script may run; ``abandon_grace`` how long a script stuck in C code
    is given after that before its thread is abandoned."""

    allowed_modules: frozenset[str] = ALLOWED_MODULES
    forbidden_names: frozenset[str] = FORBIDDEN_NAMES
    blocked_attributes: frozenset[str] = BLOCKED_ATTRIBUTES
    safe_builtins: tuple[str, ...] = SAFE_BUILTINS

    def __init__(self, time_limit: float = DEFAULT_TIME_LIMIT, abandon_grace: float = ABANDON_GRACE) -> None:
        self.time_limit = float(time_limit)
        self.abandon_grace = abandon_grace

    def is_allowed_module(self, name: str) -> bool:
        return name in self.allowed_modules

    def is_safe_attribute(self, name: str) -> bool:
        """Whether an attribute of this name may be read (statically and at run time)."""
        return not name.startswith("_") and name not in self.blocked_attributes

    def is_writable(self, obj: Any) -> bool:
        """Whether a script may assign attributes of ``obj``. Nothing is, by default."""
        return False

    def module_overrides(self, module: str, guard: Guard) -> dict[str, Any]:
        """Members of an allowed module that scripts get in another form."""
        if module == "time":
            return {"sleep": guard.sleep}
        return {}

    # -- using the policy ------------------------------------------------------------------------
    def compile(self, text: Any, name: str = "script") -> types.CodeType:
        """Check and compile script text; raise :class:`ScriptFailed` listing every refusal."""
        if not isinstance(text, str):
            raise ScriptFailed(f"Script {name!r} failed: script text is not a string", script=name, why="no text")
        try:
            tree = ast.parse(text, filename=_FILENAME, mode="exec")
        except SyntaxError as exc:
            why = f"syntax error at line {exc.lineno}: {exc.msg}"
            raise ScriptFailed(f"Script {name!r} failed: {why}", script=name, why=why) from None
        checker = _Checker(_bound_names(tree), self)
        tree = checker.visit(tree)
        if checker.problems:
            why = "refused by the script sandbox: " + "; ".join(checker.problems)
            raise ScriptFailed(f"Script {name!r} failed: {why}", script=name, why=why)
        ast.fix_missing_locations(tree)
        return compile(tree, _FILENAME, "exec")

    def globals(self, run: Run, names: dict[str, Any]) -> dict[str, Any]:
        """The globals a checked script runs with: the guarded builtins and rewrite hooks, then ``names``."""
        guard = Guard(self, run)
        return {"__builtins__": guard.builtins(), "__name__": "soar_script", _GETATTR: guard.getattr,
                _WRITE: guard.write, _CHECK: run.check, **names}

    def execute(self, code: types.CodeType, env: dict[str, Any], run: Run, name: str) -> None:
        """Run checked code under the time limit in its own thread; raise :class:`ScriptFailed` saying
        why when it calls for failing, raises, breaks the sandbox or runs out of time."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                exec(code, env)  # noqa: S102 - the whole point: checked, rewritten code in restricted globals
            except Abort as exc:
                run.abort(exc)
            except BaseException as exc:  # noqa: BLE001 - any script error fails the script
                outcome["error"] = exc
                outcome["line"] = _script_line(exc.__traceback__)

        limit = self.time_limit
        run.deadline = time.monotonic() + limit
        thread = threading.Thread(target=target, name=f"soar-script:{name}", daemon=True)
        thread.start()
        thread.join(limit)
        if thread.is_alive():
            run.abort(TimedOut())
            give_up = time.monotonic() + self.abandon_grace
            while thread.is_alive() and time.monotonic() < give_up:
                _inject(thread, TimedOut)
                thread.join(0.02)
        run.closed = True  # an abandoned thread can no longer record anything
        why = _why_failed(run, outcome, limit)
        if why is not None:
            raise ScriptFailed(f"Script {name!r} failed: {why}", script=name, why=why)


def _why_failed(run: Run, outcome: dict[str, Any], limit: float) -> str | None:
    failure = run.failure
    if isinstance(failure, FailCalled):
        return f"helper.fail: {failure.why}"
    if isinstance(failure, TimedOut):
        return f"time limit of {limit:g} s exceeded"
    if isinstance(failure, Violation):
        return f"refused by the script sandbox: {failure.why}"
    if "error" in outcome:
        err = outcome["error"]
        where = f" (line {outcome['line']})" if outcome.get("line") else ""
        return f"{type(err).__name__}: {err}{where}"
    return None


# --------------------------------------------------------------------------------------------------
# Guards of one run


class _ModuleProxy:
    """A read-only view of an allowed module that never hands out another (non-allowed) module."""

    __slots__ = ("_mod_name", "_module", "_guard")

    def __init__(self, name: str, module: types.ModuleType, guard: Guard) -> None:
        object.__setattr__(self, "_mod_name", name)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_guard", guard)

    def __getattr__(self, name: str) -> Any:
        # Reached through the guard, and directly by ``from m import name``: check here too.
        mod_name = object.__getattribute__(self, "_mod_name")
        guard: Guard = object.__getattribute__(self, "_guard")
        if name.startswith("_"):
            raise guard.violation(f"access to {mod_name}.{name} is not allowed")
        overrides = guard.policy.module_overrides(mod_name, guard)
        if name in overrides:
            return overrides[name]
        value = getattr(object.__getattribute__(self, "_module"), name)
        if isinstance(value, types.ModuleType):
            full = f"{mod_name}.{name}"
            if guard.policy.is_allowed_module(full):
                return _ModuleProxy(full, value, guard)
            raise guard.violation(f"access to module {full} is not allowed")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise object.__getattribute__(self, "_guard").violation("modules are read-only in SOAR scripts")

    def __delattr__(self, name: str) -> None:
        raise object.__getattribute__(self, "_guard").violation("modules are read-only in SOAR scripts")

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_mod_name')!r}>"


class Guard:
    """The policy's checks bound to one run (violations are recorded there, so they stay fatal)."""

    def __init__(self, policy: SandboxPolicy, run: Run) -> None:
        self.policy = policy
        self.run = run

    def violation(self, why: str) -> Violation:
        return self.run.abort(Violation(why))

    def check_name(self, name: Any) -> str:
        if not isinstance(name, str):
            raise TypeError("attribute name must be a string")
        if not self.policy.is_safe_attribute(name):
            raise self.violation(f"access to attribute {name!r} is not allowed")
        return name

    def getattr(self, obj: Any, name: Any, *default: Any) -> Any:
        name = self.check_name(name)
        if name in ("format", "format_map"):
            if isinstance(obj, str):
                return functools.partial(self.format_map if name == "format_map" else self.format, obj)
            if isinstance(obj, type) and issubclass(obj, str):
                return self.format_map if name == "format_map" else self.format
        if isinstance(obj, types.ModuleType):
            raise self.violation("direct module access is not allowed")
        try:
            value = getattr(obj, name)
        except AttributeError:
            if default:
                return default[0]
            raise
        if isinstance(value, types.ModuleType):
            raise self.violation(f"access to a module through {name!r} is not allowed")
        return value

    def hasattr(self, obj: Any, name: Any) -> bool:
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def write(self, obj: Any) -> Any:
        if self.policy.is_writable(obj):
            return obj
        raise self.violation(f"attributes of {type(obj).__name__} objects cannot be assigned in SOAR scripts")

    def setattr(self, obj: Any, name: Any, value: Any) -> None:
        setattr(self.write(obj), self.check_name(name), value)

    def delattr(self, obj: Any, name: Any) -> None:
        delattr(self.write(obj), self.check_name(name))

    def format(self, fmt: Any, *args: Any, **kwargs: Any) -> str:
        if not isinstance(fmt, str):
            raise TypeError("format needs a string")
        return _SafeFormatter(self).vformat(fmt, args, kwargs)

    def format_map(self, fmt: Any, mapping: Any) -> str:
        if not isinstance(fmt, str):
            raise TypeError("format_map needs a string")
        return _SafeFormatter(self).vformat(fmt, (), mapping)

    def type(self, *args: Any) -> type:
        if len(args) != 1:
            raise self.violation("type() with more than one argument is not allowed")
        return type(args[0])

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.run.log.append("PRINT: " + str(kwargs.get("sep", " ")).join(str(a) for a in args))

    def import_(self, name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level:
            raise self.violation("relative imports are not allowed")
        if not self.policy.is_allowed_module(name):
            raise self.violation(f"import of module {name!r} is not allowed in SOAR scripts")
        target = name if fromlist else name.split(".")[0]
        if not self.policy.is_allowed_module(target):
            raise self.violation(f"import of module {target!r} is not allowed in SOAR scripts")
        return _ModuleProxy(target, importlib.import_module(target), self)

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that cannot outlive the time limit (a C-level sleep cannot be interrupted)."""
        remaining = self.run.deadline - time.monotonic()
        if seconds > remaining:
            time.sleep(max(0.0, remaining))
            raise self.run.abort(TimedOut())
        time.sleep(seconds)

    def builtins(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(builtins, name) for name in self.policy.safe_builtins}
        hooks: dict[str, Callable[..., Any]] = {
            "getattr": self.getattr, "hasattr": self.hasattr, "setattr": self.setattr, "delattr": self.delattr,
            "type": self.type, "print": self.print, "__import__": self.import_,
        }
        out.update(hooks)
        return out


class _SafeFormatter(string.Formatter):
    """``str.format`` whose ``{0.attr}`` fields pass the attribute guard."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, key in rest:
            obj = self.guard.getattr(obj, key) if is_attr else obj[key]
        return obj, first


# --------------------------------------------------------------------------------------------------
# The static pass


class _Checker(ast.NodeTransformer):
    """Static refusals, then the rewrite of attribute access through the guards."""

    def __init__(self, bound: set[str], policy: SandboxPolicy) -> None:
        self.bound = bound
        self.policy = policy
        self.problems: list[str] = []

    def refuse(self, node: ast.AST, why: str) -> None:
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {why}")

    def visit_Import(self, node: ast.Import) -> ast.AST:
        for alias in node.names:
            if not self.policy.is_allowed_module(alias.name) or \
                    not self.policy.is_allowed_module(alias.name.split(".")[0]):
                self.refuse(node, f"import of module {alias.name!r} is not allowed in SOAR scripts")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if node.level:
            self.refuse(node, "relative imports are not allowed")
        elif node.module is None or not self.policy.is_allowed_module(node.module):
            self.refuse(node, f"import from module {node.module!r} is not allowed in SOAR scripts")
        for alias in node.names:
            if alias.name == "*":
                self.refuse(node, "'from ... import *' is not allowed")
            elif alias.name.startswith("_"):
                self.refuse(node, f"importing {alias.name!r} is not allowed")
        return node

    def _refuse_node(self, node: ast.AST, what: str) -> ast.AST:
        self.refuse(node, f"{what} are not allowed in SOAR scripts")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._refuse_node(node, "class definitions")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._refuse_node(node, "async functions")

    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self._refuse_node(node, "await expressions")

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        return self._refuse_node(node, "async loops")

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        return self._refuse_node(node, "async with statements")

    def visit_Match(self, node: ast.Match) -> ast.AST:
        return self._refuse_node(node, "match statements")

    @staticmethod
    def _checked(body: list[ast.stmt]) -> list[ast.stmt]:
        """Prefix a block with the time-limit check, so a pure-Python loop cannot outlive its limit
        and a bare ``except:`` that swallowed the timeout raises it again at once."""
        check = ast.Expr(value=ast.Call(func=ast.Name(id=_CHECK, ctx=ast.Load()), args=[], keywords=[]))
        return [check, *body]

    def visit_While(self, node: ast.While) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> ast.AST:
        for name in node.names:
            if name.startswith("__"):
                self.refuse(node, f"name {name!r} is not allowed")
        return node

    visit_Nonlocal = visit_Global

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id.startswith("__"):
            self.refuse(node, f"name {node.id!r} is not allowed")
        elif isinstance(node.ctx, ast.Load) and node.id in self.policy.forbidden_names and node.id not in self.bound:
            self.refuse(node, f"{node.id}() is not available in SOAR scripts")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if not self.policy.is_safe_attribute(node.attr):
            self.refuse(node, f"access to attribute {node.attr!r} is not allowed")
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            call = ast.Call(
                func=ast.Name(id=_GETATTR, ctx=ast.Load()),
                args=[node.value, ast.Constant(value=node.attr)],
                keywords=[],
            )
            return ast.copy_location(call, node)
        node.value = ast.copy_location(
            ast.Call(func=ast.Name(id=_WRITE, ctx=ast.Load()), args=[node.value], keywords=[]), node.value
        )
        return node


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the script binds itself (so ``input = ...`` then ``input`` is the script's own)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _script_line(tb: types.TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _inject(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` inside ``thread`` at its next bytecode (CPython's async exception)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))
