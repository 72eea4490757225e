"""A Jinja2 sandbox that bounds cost, not only access.

Jinja's sandbox stops escapes, not cost: ``'x'*3000000000``, ``10**10000000``, nested
``range`` loops or ``'x'|center(10**9)`` hang a run with memory growing to GBs. Every render
here has:

* a size cap: string/list repetition, concatenation, ``%``/``format`` widths, filter and
  method arguments and results are checked *before* the work where the work is one C call
  (an allocation the interpreter cannot interrupt), and the output is counted as it streams;
* a range budget: ``range`` yields at most :data:`MAX_RANGE_ITEMS` items per render in total
  (nested loops exhaust it at once);
* a time cap: a watchdog thread raises :class:`RenderLimit` inside the rendering thread
  (``PyThreadState_SetAsyncExc``) when a render outlives :data:`MAX_RENDER_SECONDS`; this stops
  any Python-level loop (a loop over a long string, a recursive macro) at its next bytecode;
* the immutable sandbox: lists and dicts cannot be grown in place; no ``lipsum``; the ``~``
  operator is compiled to a size-checked join.

A hit limit raises :class:`RenderLimit` with a readable reason; the caller names the file.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT_CHARS = 20_000  # far above any SMS or email reminder
MAX_RANGE_ITEMS = 10_000
MAX_RENDER_SECONDS = 1.0
MAX_INT_BITS = 4_096
_WIDTH = re.compile(r"%[-+ #0]*(\d+)|\{[^{}]*?:[^{}]*?(\d+)[^{}]*\}")


class RenderLimit(Exception):  # noqa: N818 - reads as "render limit (hit)" in messages
    """A render hit a size, range or time cap."""


_budget: ContextVar[list[int] | None] = ContextVar("_budget", default=None)


def _check_len(length: int, what: str) -> None:
    if length > MAX_OUTPUT_CHARS:
        raise RenderLimit(f"{what} would be {length:,} long (cap {MAX_OUTPUT_CHARS:,})")


def _check_size(value: object, what: str) -> object:
    if isinstance(value, str | bytes | list | tuple):
        _check_len(len(value), what)
    return value


def _check_args(args: tuple, kwargs: dict, what: str) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT_CHARS:
            raise RenderLimit(f"{what}: argument {value} is too large (cap {MAX_OUTPUT_CHARS:,})")
        if isinstance(value, str):
            _check_widths(value, what)


def _check_widths(fmt: str, what: str) -> None:
    for match in _WIDTH.finditer(fmt):
        width = int(match.group(1) or match.group(2) or 0)
        if width > MAX_OUTPUT_CHARS:
            raise RenderLimit(f"{what}: a field width of {width} (cap {MAX_OUTPUT_CHARS:,})")


def _bounded_range(*args: int) -> range:
    """``range`` drawing on the render's item budget."""
    _check_args(args, {}, "range")
    items = range(*args)
    budget = _budget.get()
    if budget is not None:
        budget[0] -= len(items)
        if budget[0] < 0:
            raise RenderLimit(f"range loops exceed {MAX_RANGE_ITEMS:,} items in one render")
    return items


_bounded_range.__name__ = "range"


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if hasattr(func, "jinja_pass_arg") else 1  # (context,) value, then arguments

    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_args(args[skip:], kwargs, f"filter {name}")
        if name == "replace" and len(args) >= skip + 2:
            _check_replace(args[skip - 1], args[skip + 1])
        return _check_size(func(*args, **kwargs), f"the result of filter {name}")

    for attr in ("jinja_pass_arg",):  # keep Jinja's context/environment passing markers
        if hasattr(func, attr):
            setattr(guarded, attr, getattr(func, attr))
    return guarded


def _check_replace(value: object, new: object) -> None:
    if isinstance(value, str) and isinstance(new, str):
        worst = len(value) * (len(new) + 1) + len(new)
        if worst > MAX_OUTPUT_CHARS and len(new) > 1:
            raise RenderLimit(
                f"replace could grow the text to {worst:,} (cap {MAX_OUTPUT_CHARS:,})"
            )


class _BoundedCodeGenerator(CodeGenerator):
    """``a ~ b`` goes through the environment's size check (Jinja joins it in place)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with size and range caps (time: :func:`bounded_render`)."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})
    code_generator_class = _BoundedCodeGenerator

    @staticmethod
    def bounded_join(parts: tuple) -> str:
        texts = [str(part) for part in parts]
        _check_len(sum(len(t) for t in texts), "a joined (~) text")
        return "".join(texts)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.pop("lipsum", None)
        self.globals["range"] = _bounded_range
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and max(left.bit_length(), 1) * right > MAX_INT_BITS
        ):
            raise RenderLimit(f"{left}**{right} is too large a number")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int):
                    _check_len(len(seq) * max(n, 0), "a repeated text")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and (left.bit_length() + right.bit_length() > MAX_INT_BITS)
            ):
                raise RenderLimit("a product too large a number")
        if (
            operator == "+"
            and isinstance(left, str | list | tuple)
            and (isinstance(right, str | list | tuple))
        ):
            _check_len(len(left) + len(right), "a joined text")
        if operator == "%" and isinstance(left, str):
            _check_widths(left, "a % format")
        return _check_size(super().call_binop(context, operator, left, right), "a result")

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,  # noqa: N805
        **kwargs: Any,
    ) -> Any:
        what = f"call of {getattr(__obj, '__name__', type(__obj).__name__)}"
        _check_args(args, kwargs, what)
        # str.format arrives wrapped by the sandbox (functools.update_wrapper keeps the method)
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            _check_widths(owner, what)
            if getattr(__obj, "__name__", "") == "replace" and len(args) >= 2:
                _check_replace(owner, args[1])
        return _check_size(super().call(__context, __obj, *args, **kwargs), f"the {what}")


class _Watchdog:
    """One daemon thread per process: raises RenderLimit in a thread whose render is late."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, tuple[int, float]] = {}  # token -> (thread id, deadline)
        self._fired: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> int:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name="template-watchdog"
                )
                self._thread.start()
            self._next += 1
            self._active[self._next] = (threading.get_ident(), time.monotonic() + seconds)
            return self._next

    def stop(self, token: int) -> bool:
        """End the watch; True when it fired (a pending exception is withdrawn)."""
        with self._lock:
            thread_id, _ = self._active.pop(token)
            fired = token in self._fired
            if fired:
                self._fired.discard(token)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
            return fired

    def _run(self) -> None:
        while True:
            time.sleep(0.02)
            now = time.monotonic()
            with self._lock:
                for token, (thread_id, deadline) in self._active.items():
                    if now > deadline and token not in self._fired:
                        self._fired.add(token)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(thread_id), ctypes.py_object(RenderLimit)
                        )


_WATCHDOG = _Watchdog()


def bounded_render(
    template: Any, values: dict[str, Any], seconds: float = MAX_RENDER_SECONDS
) -> str:
    """Render with every cap on; :class:`RenderLimit` (or Jinja's own errors) otherwise."""
    reset = _budget.set([MAX_RANGE_ITEMS])
    token = _WATCHDOG.start(seconds)
    try:
        try:
            return _collect(template.generate(values))
        finally:
            if _WATCHDOG.stop(token):
                raise RenderLimit(f"render took longer than {seconds:g} s")
    except RenderLimit as exc:
        if not str(exc):
            raise RenderLimit(f"render took longer than {seconds:g} s") from None
        raise
    except RecursionError:
        raise RenderLimit("recursion too deep (a macro calling itself?)") from None
    except (OverflowError, MemoryError) as exc:
        raise RenderLimit(f"{type(exc).__name__}: {exc}") from None
    finally:
        _budget.reset(reset)


def _collect(chunks: Iterator[str]) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise RenderLimit(f"output longer than {MAX_OUTPUT_CHARS:,} characters")
        out.append(chunk)
    return "".join(out)
