"""The pool's room policy without Ray: which actors go so another kind's actor fits."""

from __future__ import annotations

from pipeline.runtime.fleet import (
    IDLE_GRACE_S,
    MIN_SERVICE_S,
    SERVICE_PER_START,
    Actor,
    free_room,
    plan_room,
)

NOW = 1000.0
HALF, WHOLE = {"CPU": 0.5}, {"CPU": 1.0}


def actor(kind: str, shape: dict[str, float], *, busy: int = 0, idle_for: float = 60.0) -> Actor:
    running = {f"tsk_{kind}_{n}" for n in range(busy)}
    return Actor(kind, None, shape, 1, "ready", NOW - idle_for, running=running, placed=0.0)


def test_a_starved_kind_retires_idle_actors_until_it_fits() -> None:
    actors = [actor("image", HALF), actor("image", HALF), actor("video", HALF)]
    plan = plan_room("speech", WHOLE, {"CPU": 0.5}, actors, {"speech": 1}, starved=True, now=NOW)
    assert plan.fits and plan.drain is None
    assert [a.kind for a in plan.retire] == ["image"]  # one is enough; most numerous first


def test_kinds_with_waiting_work_give_up_their_idle_actors_last() -> None:
    actors = [actor("image", HALF), actor("video", HALF)]
    waiting = {"speech": 1, "image": 3}
    plan = plan_room("speech", HALF, {"CPU": 0.0}, actors, waiting, starved=True, now=NOW)
    assert [a.kind for a in plan.retire] == ["video"]


def test_a_growing_kind_takes_only_long_idle_actors_of_kinds_with_nothing_waiting() -> None:
    fresh = actor("video", HALF, idle_for=IDLE_GRACE_S / 2)
    wanted = actor("audio", HALF)
    old = actor("image", HALF)
    waiting = {"text": 9, "audio": 2}
    actors = [fresh, wanted, old, actor("text", HALF, busy=1)]
    plan = plan_room("text", HALF, {"CPU": 0.0}, actors, waiting, starved=False, now=NOW)
    assert plan.fits and plan.retire == [old]
    nothing = plan_room(
        "text", HALF, {"CPU": 0.0}, [fresh, wanted], waiting, starved=False, now=NOW
    )
    assert (nothing.fits, nothing.retire, nothing.drain) == (False, [], None)


def test_a_starved_kind_drains_a_busy_actor_when_idle_ones_are_not_enough() -> None:
    busy = [
        actor("image", HALF, busy=1),
        actor("image", HALF, busy=1),
        actor("video", HALF, busy=1),
    ]
    plan = plan_room("speech", WHOLE, {"CPU": 0.0}, busy, {"speech": 1}, starved=True, now=NOW)
    assert not plan.fits and plan.drain is not None and plan.drain.kind == "image"
    busy[0].draining = True  # room is already on its way: drain no second one
    again = plan_room("speech", WHOLE, {"CPU": 0.0}, busy, {"speech": 1}, starved=True, now=NOW)
    assert again.drain is None


def test_room_counts_actors_from_the_moment_they_are_asked_for() -> None:
    placing = Actor("image", None, HALF, 1, "placing", NOW - 30)
    just_placed = Actor("video", None, HALF, 1, "setting_up", NOW - 0.5, placed=NOW - 0.5)
    # Idle again just now, placed long ago: Ray shows it, it is not counted twice.
    settled = Actor("audio", None, HALF, 1, "ready", NOW - 0.1, placed=NOW - 30)
    room = free_room({"CPU": 2.0}, [placing, just_placed, settled], now=NOW, settle_s=2.0)
    assert room == {"CPU": 1.0}  # Ray shows 2 free: less the two it may not show yet
    assert free_room({"CPU": 2.0}, [placing], now=NOW, settle_s=2.0) == {"CPU": 1.5}


def test_a_starved_kind_waits_for_an_actor_with_work_to_repay_its_start() -> None:
    """Two kinds sharing one CPU: the one without an actor gets it only once the other's
    actor has served MIN_SERVICE_S and SERVICE_PER_START times its start, not task by task."""
    fresh = actor("video", WHOLE)
    fresh.requested, fresh.ready_at = NOW - 12, NOW - 2  # 10 s to start, ready 2 s ago
    waiting = {"speech": 1, "video": 5}
    plan = plan_room("speech", WHOLE, {"CPU": 0.0}, [fresh], waiting, starved=True, now=NOW)
    assert (plan.fits, plan.retire, plan.drain) == (False, [], None)
    busy = actor("video", WHOLE, busy=1)
    busy.requested, busy.ready_at = NOW - 12, NOW - 2
    plan = plan_room("speech", WHOLE, {"CPU": 0.0}, [busy], waiting, starved=True, now=NOW)
    assert (plan.fits, plan.drain) == (False, None)
    served = NOW + max(MIN_SERVICE_S, SERVICE_PER_START * 10) - 2
    assert plan_room("speech", WHOLE, {"CPU": 0.0}, [fresh], waiting, starved=True, now=served).fits
    later = plan_room("speech", WHOLE, {"CPU": 0.0}, [busy], waiting, starved=True, now=served)
    assert later.drain is busy
    # With nothing waiting for its kind, an idle actor goes at once, served or not.
    nothing = plan_room(
        "speech", WHOLE, {"CPU": 0.0}, [fresh], {"speech": 1}, starved=True, now=NOW
    )
    assert nothing.retire == [fresh]
