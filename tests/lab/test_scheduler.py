"""The lab's one scheduler: many periodic tasks on one timer thread, caps, cancel, and a step that
blocks without holding up the others."""

from __future__ import annotations

import threading
from typing import Callable, Iterator

import pytest

from lab.errors import TooLarge
from lab.sockets.scheduler import Scheduler

from ..support import wait_until


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    made = Scheduler(max_workers=2)
    yield made
    made.close()


def lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lab-scheduler")]


def test_many_tasks_share_one_timer_thread(scheduler: Scheduler) -> None:
    runs: dict[int, int] = {}
    done = threading.Event()

    def make(i: int) -> Callable[[], bool]:
        def step() -> bool:
            runs[i] = runs.get(i, 0) + 1
            if len(runs) == 50 and all(n >= 2 for n in runs.values()):
                done.set()
            return runs[i] < 2
        return step

    for i in range(50):
        scheduler.every(f"e{i}", 0.001, make(i), per_owner=1, total=50)
    assert done.wait(10)
    # one timer and at most max_workers workers, however many tasks there are
    assert len(lab_threads()) <= 1 + scheduler.max_workers
    wait_until(lambda: scheduler.count() == 0)
    wait_until(lambda: not lab_threads())  # nothing left to do: the threads end by themselves


def test_caps_answer_with_sentences(scheduler: Scheduler) -> None:
    for _ in range(2):
        scheduler.every("e1", 60, lambda: True, per_owner=2, total=3)
    with pytest.raises(TooLarge, match="This endpoint already has 2 periodic sends"):
        scheduler.every("e1", 60, lambda: True, per_owner=2, total=3)
    scheduler.every("e2", 60, lambda: True, per_owner=2, total=3)
    with pytest.raises(TooLarge, match="The lab already has 3 periodic sends"):
        scheduler.check_room("e3", per_owner=2, total=3)
    scheduler.cancel("e1")
    assert scheduler.count("e1") == 0 and scheduler.count() == 1
    scheduler.every("e3", 60, lambda: True, per_owner=2, total=3)


def test_cancel_waits_for_a_running_step_and_stops_the_task(scheduler: Scheduler) -> None:
    inside, release = threading.Event(), threading.Event()
    steps = []

    def step() -> bool:
        steps.append(1)
        inside.set()
        release.wait(10)
        return True

    scheduler.every("e1", 0.001, step, per_owner=1, total=1)
    assert inside.wait(10)
    canceller = threading.Thread(target=scheduler.cancel, args=("e1",))
    canceller.start()
    canceller.join(0.05)
    assert canceller.is_alive(), "cancel() returned while the step was still running"
    release.set()
    canceller.join(10)
    assert not canceller.is_alive() and scheduler.count() == 0 and steps == [1]


def test_a_blocked_step_does_not_stall_the_others(scheduler: Scheduler) -> None:
    blocked, release = threading.Event(), threading.Event()
    ticks = []

    def stuck() -> bool:
        blocked.set()
        release.wait(10)  # like a send to a peer that never reads, until its deadline
        return False

    def tick() -> bool:
        ticks.append(1)
        return len(ticks) < 20

    scheduler.every("slow", 0.001, stuck, per_owner=1, total=2)
    assert blocked.wait(10)
    scheduler.every("fast", 0.001, tick, per_owner=1, total=2)
    wait_until(lambda: len(ticks) == 20)  # all while `stuck` is still inside its step
    assert not release.is_set()
    release.set()


def test_close_ends_every_thread_and_refuses_new_tasks() -> None:
    scheduler = Scheduler()
    started = threading.Event()
    scheduler.every("e1", 0.001, lambda: started.set() or True, per_owner=1, total=1)
    assert started.wait(10)
    scheduler.close()
    assert not lab_threads()
    with pytest.raises(TooLarge, match="shutting down"):
        scheduler.every("e1", 1, lambda: True, per_owner=1, total=1)
