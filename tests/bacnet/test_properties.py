"""Learned batch sizes shrink on overflow aborts and grow back after a run of successes."""

from __future__ import annotations

import asyncio

from bacpypes3.pdu import Address

from bacnet.errors import DeviceError
from bacnet.properties import BATCH_GROWTH_AFTER, DeviceProfile, DeviceReader, PropertyError, complete_results

KIND = ("presentValue",)


def test_profile_shrinks_then_grows_back_step_by_step() -> None:
    profile = DeviceProfile()
    assert profile.batch(KIND, 80) == 80
    profile.too_big(KIND, 80)
    profile.too_big(KIND, 40)
    assert profile.batch(KIND, 80) == 20
    for _ in range(BATCH_GROWTH_AFTER - 1):
        profile.succeeded(KIND, 20, 80)
    assert profile.take_trial(KIND, 100) is None  # not yet
    profile.succeeded(KIND, 20, 80)
    assert profile.take_trial(KIND, 39) is None  # due, but a call this short could not fill it
    assert profile.take_trial(KIND, 100) == 40  # one request of the next call tries twice the size
    assert profile.take_trial(KIND, 100) is None  # ...only one
    assert profile.batch(KIND, 80) == 20  # the others stay at the learned size until it is answered
    profile.succeeded(KIND, 40, 80)
    assert profile.batch(KIND, 80) == 40
    for _ in range(BATCH_GROWTH_AFTER):
        profile.succeeded(KIND, 40, 80)
    profile.succeeded(KIND, profile.take_trial(KIND, 100), 80)
    assert profile.batch(KIND, 80) == 80 and KIND not in profile.max_batch  # back to the configured batch


def test_a_trial_that_is_aborted_keeps_the_learned_size() -> None:
    profile = DeviceProfile()
    profile.too_big(KIND, 40)
    for _ in range(BATCH_GROWTH_AFTER):
        profile.succeeded(KIND, 20, 40)
    trial = profile.take_trial(KIND, 40)
    profile.too_big(KIND, trial)
    assert profile.batch(KIND, 40) == 20


def test_short_requests_and_an_abort_restart_the_run() -> None:
    profile = DeviceProfile()
    profile.too_big(KIND, 40)
    for _ in range(BATCH_GROWTH_AFTER * 2):
        profile.succeeded(KIND, 7, 40)  # a last, short chunk proves nothing about the size
    assert profile.take_trial(KIND, 40) is None
    for _ in range(BATCH_GROWTH_AFTER - 1):
        profile.succeeded(KIND, 20, 40)
    profile.too_big(KIND, 20)
    assert profile.batch(KIND, 40) == 10
    for _ in range(BATCH_GROWTH_AFTER - 1):
        profile.succeeded(KIND, 10, 40)
    assert profile.take_trial(KIND, 40) is None  # the run started again at the abort


def test_other_property_sets_are_learned_separately() -> None:
    profile = DeviceProfile()
    profile.too_big(("description", "objectName"), 30)
    for _ in range(BATCH_GROWTH_AFTER):
        profile.succeeded(KIND, 80, 80)
    assert profile.batch(("description", "objectName"), 30) == 15 and profile.batch(KIND, 80) == 80


class ShrunkDevice:
    """A device that, while ``limit`` is set, aborts answers of more than ``limit`` properties
    (as when a collector's max APDU was lowered for a while), and counts requests by size."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.sizes: list[int] = []

    async def multiple(self, app, address, specs, timeout) -> dict:
        self.sizes.append(len(specs))
        if self.limit is not None and len(specs) > self.limit:
            raise DeviceError("abort: segmentation-not-supported", kind="abort", reason="segmentation-not-supported")
        return complete_results({(ref, prop, index): 1.0 for ref, prop, index in specs}, specs)


def cycle(device: ShrunkDevice, profile: DeviceProfile, points: int = 80, batch: int = 40) -> dict:
    """One collection cycle of ``points`` present values, as :mod:`bacnet.reading` reads them."""

    async def read() -> dict:
        reader = DeviceReader(None, Address("127.0.0.9"), timeout=1, in_flight=2, batch=batch,  # type: ignore
                              profile=profile, multiple=device.multiple)
        return await reader.read([(("analog-input", n), "presentValue", None) for n in range(points)])

    return asyncio.run(read())


def test_a_device_read_slowly_for_a_while_is_read_at_full_size_again() -> None:
    profile = DeviceProfile()
    device = ShrunkDevice(limit=10)
    results = cycle(device, profile)
    assert not any(isinstance(value, PropertyError) for value in results.values())
    assert profile.batch(KIND, 40) == 10  # learned: 40 -> 20 -> 10

    device.limit = None  # the cause went away; without growth every cycle would stay at 8 requests
    cycles = 0
    while profile.batch(KIND, 40) < 40:
        device.sizes.clear()
        results = cycle(device, profile)
        assert len(results) == 80 and not any(isinstance(value, PropertyError) for value in results.values())
        cycles += 1
        assert cycles <= 2 * BATCH_GROWTH_AFTER  # bounded: ~BATCH_GROWTH_AFTER requests per doubling
    device.sizes.clear()
    cycle(device, profile)
    assert device.sizes == [40, 40]


def test_a_device_that_really_cannot_answer_more_pays_little_for_the_retries() -> None:
    profile = DeviceProfile()
    device = ShrunkDevice(limit=10)
    for _ in range(20):
        cycle(device, profile)
    # Learning costs the first cycle 6 aborted requests (40, 40, then four of 20); after that a
    # trial of twice the size costs one aborted request per BATCH_GROWTH_AFTER answered ones.
    later = device.sizes[14:]
    aborted = sum(1 for size in later if size > 10)
    assert 1 <= aborted <= len(later) / BATCH_GROWTH_AFTER + 1
