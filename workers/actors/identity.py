"""Device identity in discovery: which answer is a site's device, and when a device may move.

BACnet/IP has no authentication: any host can send an I-Am for any instance. A device is known
by (site, instance) and talked to at its stored address; collections and writes use that
address. So an answer for a known instance from another address never moves the device by
itself (the next collection would read the sender, and writes would go to it). What discovery
does with the answers for one instance:

- the stored address answered: the device is updated from that answer. Another address also
  answering for the instance is an *address conflict* recorded on the device (two controllers
  share the instance, or something impersonates it).
- only other addresses answered: an address conflict; the device keeps its address and its
  properties. A site with ``follow_address_changes`` moves it instead (DHCP sites) when exactly
  one other address answered, and the conflict detail records the move.
- a new instance: the device is created at the asked address (the first in the targets when
  several were asked), else at the first that answered; any other address answering for it is an
  address conflict at once, and the new device's polling is *held* (``polling_enabled`` off) until
  an admin picks its address: on a first sweep nothing tells the real controller from an impostor
  answering for it (the impostor may even answer first), so no value is collected from either.

An admin accepts a conflict's address (app.device_identity), which moves the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.device_identity import POLLING_HELD
from app.models import Device
from bacnet.discovery import canonical_address
from bacnet.types import DeviceInfo


@dataclass(frozen=True)
class Answer:
    """One address's answer for an instance: its properties, or why they could not be read."""

    address: str
    info: DeviceInfo | None
    error: str = ""


@dataclass
class Decision:
    """What to do with one instance's answers."""

    #: The answer the device is created or updated from (None: leave the device's data alone).
    use: Answer | None
    #: The device moves to ``use.address`` (a site that follows address changes).
    move: bool = False
    #: Other addresses that answered for the instance, to record as an address conflict.
    others: list[Answer] = field(default_factory=list)


def decide(device: Device | None, answers: list[Answer], asked: tuple[str, ...], follow: bool) -> Decision:
    """Which answer stands for the instance (see the module docstring); ``answers`` in arrival order,
    readable ones first; ``asked``: canonical addresses the discovery was directed to, in target order."""
    if device is None:
        readable = [a for a in answers if a.info is not None]
        at_asked = sorted((a for a in readable if canonical_address(a.address) in asked),
                          key=lambda a: asked.index(canonical_address(a.address)))
        use = (at_asked or readable or answers)[0]
        return Decision(use=use, others=[a for a in answers if a is not use])
    home = canonical_address(device.address)
    at_home = next((a for a in answers if canonical_address(a.address) == home), None)
    others = [a for a in answers if a is not at_home]
    if at_home is not None:
        return Decision(use=at_home, others=others)
    if follow and len(others) == 1 and others[0].info is not None:
        return Decision(use=others[0], move=True)
    return Decision(use=None, others=others)


def conflict_line(device: Device, others: list[Answer], *, home_answered: bool, follow: bool, job: str,
                  new: bool = False) -> str:
    """The one line stored in ``Device.conflict_detail`` for an address conflict."""
    where = " and ".join(answer.address for answer in others[:3]) + (" and more" if len(others) > 3 else "")
    if new:
        return (f"first found {job}: instance {device.device_instance} answered from {device.address} and from "
                f"{where}; {POLLING_HELD} (accept {others[0].address}, or dismiss to keep {device.address})")
    if home_answered:
        line = (f"instance {device.device_instance} also answered from {where} {job}, while its stored address "
                f"{device.address} answered too: two devices may share the instance")
    else:
        line = (f"instance {device.device_instance} answered from {where} {job}, not from its stored address "
                f"{device.address}: not moved")
        if follow and len(others) > 1:
            line += " (the site follows address changes, but more than one address answered)"
    return line + "; accept the new address only if the device really moved"


def record_conflict(device: Device, others: list[Answer], now: datetime, *, home_answered: bool, follow: bool,
                    job: str, new: bool = False) -> None:
    """Flag ``device``; a ``new`` device (created by this discovery) also has its polling held."""
    device.conflict_address = others[0].address
    device.conflict_detail = conflict_line(device, others, home_answered=home_answered, follow=follow, job=job,
                                           new=new)
    device.conflict_seen_at = now
    if new:
        device.polling_enabled = False


def record_move(device: Device, new_address: str, now: datetime, job: str) -> None:
    """Move the device (a site that follows address changes); the detail keeps where it was."""
    device.conflict_detail = (f"moved from {device.address} to {new_address} {job} "
                              "(the site follows address changes)")
    device.address = new_address
    device.conflict_address = None
    device.conflict_seen_at = now
