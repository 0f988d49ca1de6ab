"""The discrete-event loop: ordering, virtual time, tasks, executors, errors, deadlocks, IPv8 task helpers."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv8.requestcache import NumberCache, RequestCache
from ipv8.taskmanager import TaskManager

from a27_netsim import DiscreteEventLoop, SimulationDeadlock, SimulationError

REQUEST = contextvars.ContextVar("REQUEST", default="none")


def test_clock_starts_at_zero(loop: DiscreteEventLoop) -> None:
    assert loop.time() == 0.0
    assert loop.events_processed == 0


def test_equal_time_timers_run_in_scheduling_order(loop: DiscreteEventLoop) -> None:
    order: list[object] = []
    for i in range(50):
        loop.call_at(1.0, order.append, i)
    loop.call_later(0.5, order.append, "earlier")
    loop.call_at(1.0, order.append, "last")
    loop.run_until(1.0)
    assert order == ["earlier", *range(50), "last"]
    assert loop.time() == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.001, 0.5, 1.0, 2.5]), min_size=1, max_size=40))
def test_timers_run_sorted_by_time_then_sequence(delays: list[float]) -> None:
    event_loop = DiscreteEventLoop()
    order: list[int] = []
    for index, delay in enumerate(delays):
        event_loop.call_later(delay, order.append, index)
    event_loop.run_until(max(delays))
    event_loop.close()
    assert order == sorted(range(len(delays)), key=lambda index: (delays[index], index))


def test_timers_due_now_queue_behind_ready_callbacks(loop: DiscreteEventLoop) -> None:
    order: list[str] = []

    def first() -> None:
        order.append("first")
        loop.call_later(0, order.append, "timer")
        loop.call_soon(order.append, "soon")

    loop.call_soon(first)
    loop.run_for(0)
    assert order == ["first", "soon", "timer"]


def test_virtual_time_advances_without_wall_time(loop: DiscreteEventLoop) -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        await asyncio.sleep(86400)
        return asyncio.get_running_loop().time()

    started = time.perf_counter()
    assert loop.run_until_complete(main()) == 3600 + 86400
    assert time.perf_counter() - started < 1.0


def test_wait_for_times_out_in_virtual_time(loop: DiscreteEventLoop) -> None:
    async def main() -> tuple[int, float]:
        quick = await asyncio.wait_for(asyncio.sleep(5, result=7), timeout=10)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(50), timeout=1)
        return quick, asyncio.get_running_loop().time()

    assert loop.run_until_complete(main()) == (7, 6.0)


def test_create_task_runs_in_the_given_context_on_every_python(loop: DiscreteEventLoop) -> None:
    context = contextvars.copy_context()
    context.run(REQUEST.set, "from-context")

    async def read() -> str:
        return REQUEST.get()

    async def main() -> tuple[str, str, str]:
        in_context = loop.create_task(read(), name="reader", context=context)
        default = loop.create_task(read())
        return await in_context, await default, in_context.get_name()

    assert loop.run_until_complete(main()) == ("from-context", "none", "reader")


def test_run_in_executor_runs_inline_and_returns_a_done_future(loop: DiscreteEventLoop) -> None:
    calls: list[int] = []

    def work(a: int, b: int) -> int:
        calls.append(a)
        return a + b

    def fail() -> None:
        raise LookupError("no")

    async def main() -> int:
        future = loop.run_in_executor(None, work, 2, 3)
        assert future.done()
        assert calls == [2]
        failed = loop.run_in_executor(None, fail)
        assert failed.done()
        with pytest.raises(LookupError):
            await failed
        return await future

    assert loop.run_until_complete(main()) == 5


def test_call_soon_threadsafe_from_another_thread(loop: DiscreteEventLoop) -> None:
    seen: list[str] = []
    thread = threading.Thread(target=loop.call_soon_threadsafe, args=(seen.append, "from thread"))
    thread.start()
    thread.join()
    loop.run_for(0)
    assert seen == ["from thread"]


def test_exception_in_callback_is_surfaced_with_its_cause(loop: DiscreteEventLoop) -> None:
    after: list[str] = []

    def broken() -> None:
        raise ZeroDivisionError("boom")

    loop.call_later(2.0, broken)
    loop.call_later(2.0, after.append, "next")
    with pytest.raises(SimulationError) as raised:
        loop.run_for(10)
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    assert "t=2.0" in str(raised.value)
    loop.run_for(0)
    assert after == ["next"]


def test_unretrieved_task_exception_is_surfaced(loop: DiscreteEventLoop) -> None:
    async def broken() -> None:
        raise KeyError("lost")

    async def main() -> None:
        loop.create_task(broken())
        await asyncio.sleep(1)

    with pytest.raises(SimulationError) as raised:
        loop.run_until_complete(main())
    assert isinstance(raised.value.__cause__, KeyError)


def test_retrieved_task_exceptions_are_not_errors(loop: DiscreteEventLoop) -> None:
    async def broken() -> None:
        raise KeyError("handled")

    async def main() -> tuple[object, object]:
        awaited = loop.create_task(broken())
        with pytest.raises(KeyError):
            await awaited
        return await asyncio.gather(broken(), asyncio.sleep(1, result="ok"), return_exceptions=True)

    results = loop.run_until_complete(main())
    assert isinstance(results[0], KeyError)
    assert results[1] == "ok"


def test_a_failed_task_kept_for_later_is_not_an_error(loop: DiscreteEventLoop) -> None:
    async def broken() -> None:
        raise KeyError("later")

    async def main() -> str:
        kept = loop.create_task(broken())
        await asyncio.sleep(5)
        with pytest.raises(KeyError):
            await kept
        return "fine"

    assert loop.run_until_complete(main()) == "fine"


def test_the_main_coroutine_raises_its_own_exception(loop: DiscreteEventLoop) -> None:
    async def main() -> None:
        await asyncio.sleep(1)
        raise ValueError("mine")

    with pytest.raises(ValueError, match="mine"):
        loop.run_until_complete(main())


def test_non_strict_loop_logs_and_continues(caplog: pytest.LogCaptureFixture) -> None:
    event_loop = DiscreteEventLoop(strict=False)
    after: list[str] = []

    def broken() -> None:
        raise ZeroDivisionError("logged")

    event_loop.call_soon(broken)
    event_loop.call_later(1.0, after.append, "still running")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        event_loop.run_for(2)
    event_loop.close()
    assert after == ["still running"]
    assert "ZeroDivisionError" in caplog.text
    assert not event_loop.strict


def test_deadlock_is_detected(loop: DiscreteEventLoop) -> None:
    async def main() -> None:
        await loop.create_future()

    with pytest.raises(SimulationDeadlock, match="deadlock"):
        loop.run_until_complete(main())


def test_run_until_runs_exactly_the_events_due(loop: DiscreteEventLoop) -> None:
    seen: list[float] = []
    for when in (1.0, 2.0, 3.0):
        loop.call_at(when, lambda: seen.append(loop.time()))
    loop.run_until(2.0)
    assert seen == [1.0, 2.0]
    assert loop.time() == 2.0
    loop.run_for(5)
    assert seen == [1.0, 2.0, 3.0]
    assert loop.time() == 7.0
    with pytest.raises(ValueError, match="back"):
        loop.run_until(1.0)


def test_events_are_counted(loop: DiscreteEventLoop) -> None:
    for when in (1.0, 2.0):
        loop.call_at(when, lambda: None)
    loop.schedule_at(1.5, lambda: None)
    loop.call_at(1.0, lambda: None).cancel()
    loop.run_for(3)
    assert loop.events_processed == 3


def test_schedule_at_passes_arguments_and_surfaces_errors(loop: DiscreteEventLoop) -> None:
    got: list[tuple[int, str]] = []
    loop.schedule_at(0.25, lambda a, b: got.append((a, b)), 1, "x")
    loop.run_for(1)
    assert got == [(1, "x")]
    loop.schedule_at(2.0, lambda: 1 / 0)
    with pytest.raises(SimulationError) as raised:
        loop.run_for(2)
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_cancelled_timers_are_skipped_and_eventually_discarded(loop: DiscreteEventLoop) -> None:
    ran: list[int] = []
    handles = [loop.call_later(10.0 + i, ran.append, i) for i in range(300)]
    for handle in handles[:250]:
        handle.cancel()
    loop.call_later(1.0, lambda: None)
    loop.run_for(2)
    assert loop.pending_timers == 50
    loop.run_for(400)
    assert ran == list(range(250, 300))


def test_closed_loop_refuses_new_timers() -> None:
    event_loop = DiscreteEventLoop()
    event_loop.call_later(1.0, lambda: None)
    event_loop.close()
    assert event_loop.pending_timers == 0
    with pytest.raises(RuntimeError, match="closed"):
        event_loop.call_later(1.0, lambda: None)
    with pytest.raises(RuntimeError, match="closed"):
        event_loop.schedule_at(1.0, lambda: None)


class _Ticker(TaskManager):
    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[float] = []

    def tick(self) -> None:
        self.ticks.append(asyncio.get_running_loop().time())


def test_ipv8_task_manager_runs_on_the_virtual_clock(loop: DiscreteEventLoop) -> None:
    async def main() -> list[float]:
        ticker = _Ticker()
        ticker.register_task("tick", ticker.tick, interval=2.0, delay=1.0)
        await asyncio.sleep(8.5)
        await ticker.shutdown_task_manager()
        return ticker.ticks

    assert loop.run_until_complete(main()) == [1.0, 3.0, 5.0, 7.0]


class _Timeout(NumberCache):
    def __init__(self, cache: RequestCache, timed_out: list[float]) -> None:
        super().__init__(cache, "probe", 1)
        self.timed_out = timed_out

    @property
    def timeout_delay(self) -> float:
        return 3.0

    def on_timeout(self) -> None:
        self.timed_out.append(asyncio.get_running_loop().time())


def test_ipv8_request_cache_times_out_in_virtual_time(loop: DiscreteEventLoop) -> None:
    timed_out: list[float] = []

    async def main() -> None:
        cache = RequestCache()
        cache.add(_Timeout(cache, timed_out))
        await asyncio.sleep(10)
        await cache.shutdown()

    loop.run_until_complete(main())
    assert timed_out == [3.0]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout exists from Python 3.11")
def test_asyncio_timeout_uses_the_virtual_clock(loop: DiscreteEventLoop) -> None:
    async def main() -> float:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(4):  # type: ignore[attr-defined]
                await asyncio.sleep(100)
        return asyncio.get_running_loop().time()

    assert loop.run_until_complete(main()) == 4.0
