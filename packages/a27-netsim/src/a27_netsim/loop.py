"""A discrete-event asyncio loop: virtual time, no selector, no sockets, no wall clock."""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import sys
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import Any, TypeVar

_T = TypeVar("_T")

# Rebuild the timer heap once this many cancelled timers make up more than half of it (asyncio uses the same rule).
_MIN_TIMERS_FOR_CLEANUP = 100
# Events one _run_once call may run before handing back to run_forever.
_EVENTS_PER_ITERATION = 4096


class SimulationError(Exception):
    """An exception escaped a callback or task while the simulation ran; the original is the ``__cause__``."""


class SimulationDeadlock(SimulationError):
    """Nothing is ready and no timer is scheduled, so the awaited result can never arrive."""


class DiscreteEventLoop(asyncio.BaseEventLoop):
    """
    An asyncio event loop that runs on a virtual clock.

    ``time()`` starts at 0.0 and only moves when nothing is ready to run: the clock then jumps to the earliest timer.
    Timers due at the same time run in the order they were scheduled. With ``strict=True`` (the default) an exception
    that asyncio would hand to the exception handler stops the loop with a :class:`SimulationError`: an error in a
    callback, or a task created on this loop that failed with an exception nobody retrieved, reported once nothing
    but the loop refers to the task. With ``strict=False`` such errors are logged and the simulation continues, as a
    real node would. When nothing can ever happen again while a result is awaited, the loop raises
    :class:`SimulationDeadlock`.
    """

    def __init__(self, strict: bool = True) -> None:
        """Create a loop whose clock reads 0.0."""
        super().__init__()
        self._time = 0.0
        self._timers: list[tuple[float, int, asyncio.TimerHandle | _Event]] = []
        self._sequence = itertools.count()
        self._strict = strict
        self._error_context: dict[str, Any] | None = None
        self._deadline: float | None = None
        self._events_processed = 0
        self._failed_tasks: list[asyncio.Task[Any]] = []

    @property
    def strict(self) -> bool:
        """Whether unhandled exceptions stop the simulation (True) or are only logged (False)."""
        return self._strict

    @property
    def events_processed(self) -> int:
        """The number of callbacks (task steps included) run so far."""
        return self._events_processed

    @property
    def pending_timers(self) -> int:
        """The number of scheduled timers, cancelled ones not yet discarded included."""
        return len(self._timers)

    def time(self) -> float:
        """Return the virtual time in seconds."""
        return self._time

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at virtual time ``when``; equal times run first come, first served."""
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        heapq.heappush(self._timers, (when, next(self._sequence), timer))
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def schedule_at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        """
        Schedule ``callback(*args)`` at virtual time ``when``, like :meth:`call_at` but cheaper.

        The callback cannot be cancelled and runs in the loop's current context instead of a copy; the simulated
        network delivers packets this way.
        """
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        heapq.heappush(self._timers, (when, next(self._sequence), _Event(callback, args, self)))

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` ``delay`` virtual seconds from now."""
        return self.call_at(self._time + delay, callback, *args, context=context)

    def create_task(  # type: ignore[override]
        self,
        coro: Generator[Any, None, _T] | Coroutine[Any, Any, _T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[_T]:
        """
        Wrap a coroutine in a task, optionally running in ``context``, on every supported Python.

        Python 3.10's ``Task`` takes no context: there the task is created inside ``context`` and so runs in a copy
        of it, which means context variables it sets are not visible through ``context`` afterwards.
        """
        if context is None:
            task = super().create_task(coro, name=name)
        elif sys.version_info >= (3, 11):
            task = super().create_task(coro, name=name, context=context)
        else:
            task = context.run(super().create_task, coro, name=name)
        if self._strict:
            task.add_done_callback(self._note_finished_task)
        return task

    def _note_finished_task(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task._log_traceback:
            self._failed_tasks.append(task)

    def _check_failed_tasks(self) -> None:
        # asyncio reports a failed task whose exception nobody retrieved when the task is freed, which may happen
        # much later (or never) once a reference cycle holds it. Report it as soon as nothing but this loop refers
        # to it; while something does (a gather, a variable), that holder may still retrieve it, so look again later.
        failed, self._failed_tasks = self._failed_tasks, []
        for task, referenced in zip(failed, _referenced_elsewhere(failed), strict=True):
            if not task._log_traceback:
                continue
            if referenced:
                self._failed_tasks.append(task)
                continue
            self.call_exception_handler(
                {"message": "Task exception was never retrieved", "exception": task.exception(), "task": task}
            )

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """Run ``func(*args)`` inline, now, and return a future that already holds its result or exception."""
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        future: asyncio.Future[_T] = self.create_future()
        try:
            result = func(*args)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def _write_to_self(self) -> None:
        # call_soon_threadsafe wakes a selector through a self-pipe; this loop has neither, the deque append suffices.
        return None

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Record the first unhandled error so that the simulation stops with it (strict), or log it (not strict)."""
        if self._strict and self._error_context is None and not self.is_closed():
            self._error_context = context
        else:
            super().call_exception_handler(context)

    def run_until(self, when: float) -> None:
        """Run every event due at or before virtual time ``when``, then leave the clock at ``when``."""
        if when < self._time:
            raise ValueError(f"cannot run back to t={when}: the clock already reads t={self._time}")
        self._deadline = when
        try:
            self.run_forever()
        finally:
            self._deadline = None

    def run_for(self, seconds: float) -> None:
        """Run the simulation for ``seconds`` of virtual time."""
        self.run_until(self._time + seconds)

    def close(self) -> None:
        """Close the loop and drop every pending timer."""
        super().close()
        self._timers.clear()
        self._failed_tasks.clear()

    def _raise_recorded_error(self) -> None:
        context = self._error_context or {}
        self._error_context = None
        message = context.get("message") or "unhandled exception in the simulation"
        where = context.get("task") or context.get("future") or context.get("handle")
        detail = f"{message} at t={self._time!r}" + (f" ({where!r})" if where is not None else "")
        raise SimulationError(detail) from context.get("exception")

    def _discard_cancelled_timers(self) -> None:
        timers = self._timers
        cancelled = self._timer_cancelled_count  # type: ignore[has-type]
        if cancelled > _MIN_TIMERS_FOR_CLEANUP and 2 * cancelled > len(timers):
            kept = []
            for entry in timers:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False  # type: ignore[union-attr]
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._timers = timers = kept
            self._timer_cancelled_count = 0
        while timers and timers[0][2]._cancelled:
            heapq.heappop(timers)[2]._scheduled = False  # type: ignore[union-attr]
            self._timer_cancelled_count -= 1

    def _end_of_instant(self) -> bool:
        """Settle the instant that just ended; return False when the loop must stop instead of moving the clock."""
        if self._failed_tasks:
            self._check_failed_tasks()
            if self._error_context is not None:
                self._raise_recorded_error()
        if self._stopping:  # type: ignore[has-type]
            return False
        self._discard_cancelled_timers()
        timers = self._timers
        deadline = self._deadline
        if not timers or (deadline is not None and timers[0][0] > deadline):
            if deadline is None:
                raise SimulationDeadlock(
                    f"deadlock at t={self._time!r}: nothing is ready and no timer is scheduled, so the loop "
                    "would wait forever"
                )
            self._time = deadline
            self._stopping = True
            return False
        self._time = max(self._time, timers[0][0])
        return True

    def _run_once(self) -> None:
        # Runs instant after instant until stop() or a budget of events, sparing run_forever's per-call overhead.
        ready = self._ready  # type: ignore[attr-defined]
        timers = self._timers
        heappop = heapq.heappop
        popleft = ready.popleft
        processed = 0
        try:
            while processed < _EVENTS_PER_ITERATION:
                if self._error_context is not None:
                    self._raise_recorded_error()
                if not ready:
                    deadline = self._deadline
                    if (
                        self._failed_tasks
                        or self._stopping
                        or not timers
                        or timers[0][2]._cancelled
                        or self._timer_cancelled_count > _MIN_TIMERS_FOR_CLEANUP
                        or (deadline is not None and timers[0][0] > deadline)
                    ):
                        if not self._end_of_instant():
                            return
                        timers = self._timers
                    elif timers[0][0] > self._time:
                        # The common case, spelled out: nothing to settle, the clock moves to the next timer.
                        self._time = timers[0][0]
                now = self._time
                # Timers due now queue up behind the callbacks already ready, in the order they were scheduled.
                while timers and timers[0][0] <= now:
                    timer = heappop(timers)[2]
                    timer._scheduled = False  # type: ignore[union-attr]
                    if timer._cancelled:
                        self._timer_cancelled_count -= 1
                    else:
                        ready.append(timer)
                for _ in range(len(ready)):
                    handle = popleft()
                    if handle._cancelled:
                        continue
                    handle._run()
                    processed += 1
                    if self._error_context is not None:
                        self._raise_recorded_error()
                # The last handle may hold a finished task among its arguments, which would count as a reference.
                handle = None
                if self._stopping:
                    return
        finally:
            self._events_processed += processed


def _reference_counts(items: list[Any]) -> list[int]:
    return [sys.getrefcount(item) for item in items]


# References every item of a list has in _reference_counts when the list is its only holder.
_UNREFERENCED_COUNT = _reference_counts([object()])[0]


def _referenced_elsewhere(items: list[Any]) -> list[bool]:
    """Tell, for each item, whether anything besides ``items`` refers to it."""
    return [count > _UNREFERENCED_COUNT for count in _reference_counts(items)]


class _Event:
    """A scheduled callback lighter than ``asyncio.TimerHandle``: no context, never cancelled."""

    __slots__ = ("_args", "_callback", "_loop", "_scheduled")
    _cancelled = False

    def __init__(self, callback: Callable[..., object], args: tuple[Any, ...], loop: DiscreteEventLoop) -> None:
        self._callback = callback
        self._args = args
        self._loop = loop
        self._scheduled = True

    def _run(self) -> None:
        try:
            self._callback(*self._args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {"message": f"Exception in callback {self._callback!r}", "exception": exc, "handle": self}
            )

    def __repr__(self) -> str:
        return f"<_Event {self._callback!r}>"
