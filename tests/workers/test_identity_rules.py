"""workers.actors.identity.decide: which answer stands for an instance, and when a device moves."""

from __future__ import annotations

from app.models import Device
from bacnet.types import DeviceInfo
from workers.actors.identity import Answer, conflict_line, decide

HOME, OTHER, THIRD = "192.0.2.10", "192.0.2.20", "192.0.2.30"


def answer(address: str, readable: bool = True) -> Answer:
    return Answer(address, DeviceInfo(7, address, name=f"at {address}") if readable else None,
                  "" if readable else "no answer within 3 s")


def known(address: str = HOME) -> Device:
    return Device(site_id=1, device_instance=7, address=address)


def test_a_new_instance_goes_to_the_first_asked_address_and_flags_the_others():
    decision = decide(None, [answer(THIRD), answer(OTHER), answer(HOME)], (HOME, OTHER), follow=False)
    assert decision.use.address == HOME and not decision.move
    assert [a.address for a in decision.others] == [THIRD, OTHER]
    # Nothing asked (a broadcast): the first readable answer.
    decision = decide(None, [answer(OTHER, readable=False), answer(THIRD)], (), follow=False)
    assert decision.use.address == THIRD and [a.address for a in decision.others] == [OTHER]


def test_a_known_device_answering_at_home_is_updated_and_flagged_for_the_others():
    decision = decide(known(f"{HOME}:47808"), [answer(OTHER), answer(HOME)], (), follow=True)
    assert decision.use.address == HOME and not decision.move
    assert [a.address for a in decision.others] == [OTHER]


def test_a_known_device_is_moved_only_by_a_site_that_follows_and_one_clear_answer():
    assert decide(known(), [answer(OTHER)], (), follow=False).use is None
    moved = decide(known(), [answer(OTHER)], (), follow=True)
    assert moved.move and moved.use.address == OTHER and moved.others == []
    # Two candidates, or one whose properties could not be read: no move, a conflict.
    for answers in ([answer(OTHER), answer(THIRD)], [answer(OTHER, readable=False)]):
        decision = decide(known(), answers, (), follow=True)
        assert decision.use is None and not decision.move and decision.others == answers


def test_conflict_lines_are_one_line_and_say_what_happened():
    device = known()
    line = conflict_line(device, [answer(OTHER), answer(THIRD)], home_answered=False, follow=True,
                         job="in discovery job 3 (2024-05-01 12:00 UTC)")
    assert line == (f"instance 7 answered from {OTHER} and {THIRD} in discovery job 3 (2024-05-01 12:00 UTC), "
                    f"not from its stored address {HOME}: not moved (the site follows address changes, but more "
                    "than one address answered); accept the new address only if the device really moved")
    assert "\n" not in conflict_line(device, [answer(OTHER)] * 5, home_answered=True, follow=False, job="x")
