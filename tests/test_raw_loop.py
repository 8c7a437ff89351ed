"""impl_raw/loop.py's timers, in process: what the conformance suite sees only as memory over time."""

from __future__ import annotations

import weakref

from impl_raw.loop import EventLoop


class Owner:
    """Stands for a connection: what a timer's callback keeps alive."""

    def on_timer(self) -> None:
        raise AssertionError("a cancelled timer fired")


def test_cancelled_timers_release_their_callbacks_and_leave_the_heap() -> None:
    loop = EventLoop("default")
    try:
        owners = [Owner() for _ in range(1000)]
        alive = [weakref.ref(owner) for owner in owners]
        timers = [loop.call_later(60, owner.on_timer) for owner in owners]
        assert len(loop._timers) == 1000
        for timer in timers:
            timer.cancel()
        del owners
        # Nothing holds the owners any more: not the cancelled timers, not the heap.
        assert all(ref() is None for ref in alive)
        assert len(loop._timers) <= 64 + 1, f"{len(loop._timers)} cancelled timers kept in the heap"
    finally:
        loop.close()


def test_due_timers_fire_in_order_beside_cancelled_ones() -> None:
    loop = EventLoop("default")
    fired: list[int] = []
    try:
        keep = [loop.call_later(0.001 * n, lambda n=n: fired.append(n)) for n in range(5)]
        for timer in [loop.call_later(0.0005, lambda: fired.append(-1)) for _ in range(200)]:
            timer.cancel()
        loop.call_later(0.02, loop.stop)
        loop.run()
        assert fired == [0, 1, 2, 3, 4]
        assert all(timer.loop is None for timer in keep)  # fired timers have left the heap
        keep[0].cancel()  # cancelling a timer that already fired is harmless...
        assert loop._cancelled == 0  # ...and not counted as one still in the heap
    finally:
        loop.close()


def test_a_stop_before_run_is_not_lost() -> None:
    """A signal between READY and run() stops the loop as soon as it starts (SPEC L5, L6)."""
    loop = EventLoop("default")
    ran_on: list[str] = []
    try:
        loop.stop()
        loop.call_later(0, lambda: ran_on.append("a timer"))  # would fire in the first round
        loop.run()
        assert ran_on == [], "the loop ran a round after a stop asked for before run()"
    finally:
        loop.close()
