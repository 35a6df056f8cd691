"""The collector's bacpypes3 application and the link layers it builds for its IPv4 port.

Every link layer the collector runs on — normal on the standard port (:class:`GuardedLinkLayer`),
normal on another port (:class:`MirroringLinkLayer`), foreign device
(:class:`bacnet.foreign.SupervisedForeignLinkLayer`) — believes a BVLC Forwarded-NPDU only from
the configured BBMD (:mod:`bacnet.forwarded`); the stock bacpypes3 normal link layer believes
one from anybody. A BBMD port is refused: the collector never is one. Besides that, two
differences from stock bacpypes3, both about broadcasts:

- **Off the standard port, broadcasts also go to the standard port.** Devices and routers listen
  on UDP 47808. A collector that has to use another port (47809 next to another BACnet program
  on the same host, and always on loopback where bacpypes3 treats any 127.x on its own port as
  itself) would send every broadcast — Who-Is, Who-Is-Router-To-Network — to its own port, where
  nobody listens. :class:`MirroringLinkLayer` sends each local broadcast to both ports. (Devices
  answer a Who-Is with a unicast I-Am to its source, so the answers find us on our port.)
- **A foreign-device port keeps its BBMD registration alive** (:mod:`bacnet.foreign`).

The application itself (:class:`CollectorApplication`) matches answers by service too
(:mod:`bacnet.answers`, through the hot read's access point in :mod:`bacnet.fastread`) and keeps
its own objects read-only to the network (:mod:`bacnet.own_device`).
"""

from __future__ import annotations

from bacpypes3.app import Application
from bacpypes3.basetypes import IPMode, NetworkType, ProtocolLevel
from bacpypes3.comm import bind
from bacpypes3.ipv4 import IPv4DatagramServer
from bacpypes3.ipv4.bvll import BVLLCodec
from bacpypes3.ipv4.link import NormalLinkLayer
from bacpypes3.ipv4.service import BIPNormal, UDPMultiplexer
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import PDU, IPv4Address, LocalBroadcast

from bacnet.fastread import install_raw_acks
from bacnet.foreign import SupervisedForeignLinkLayer
from bacnet.forwarded import ForwardedNPDUGuard
from bacnet.own_device import ReadOnlyObjectServices
from bacnet.reassembly import install as bound_reassembly

#: The UDP port BACnet/IP devices and routers listen on (ASHRAE 135 Annex J, 0xBAC0).
STANDARD_PORT = 47808


class MirroringDatagramServer(IPv4DatagramServer):
    """A datagram server that sends every local broadcast also to ``mirror_port``."""

    def __init__(self, address: IPv4Address, mirror_port: int) -> None:
        super().__init__(address)
        self.mirror_port = mirror_port

    async def indication(self, pdu: PDU) -> None:
        await super().indication(pdu)
        if isinstance(pdu.pduDestination, LocalBroadcast) and self.broadcast_address and self.local_transport:
            self.local_transport.sendto(pdu.pduData, (self.broadcast_address[0], self.mirror_port))


class GuardedLinkLayer(ForwardedNPDUGuard, NormalLinkLayer):
    """bacpypes3's normal BACnet/IP link layer, dropping every Forwarded-NPDU (no BBMD configured)."""


class MirroringLinkLayer(ForwardedNPDUGuard, NormalLinkLayer):
    """bacpypes3's normal BACnet/IP link layer over a :class:`MirroringDatagramServer`, dropping
    every Forwarded-NPDU (no BBMD configured)."""

    def __init__(self, local_address: IPv4Address, mirror_port: int = STANDARD_PORT) -> None:
        # NormalLinkLayer.__init__ would bind its own datagram server; build the same stack
        # (BVLL service -> codec -> Annex J multiplexer -> server) around ours instead.
        BIPNormal.__init__(self)
        self.codec = BVLLCodec()
        self.multiplexer = UDPMultiplexer()
        self.server = MirroringDatagramServer(local_address, mirror_port)
        bind(self, self.codec, self.multiplexer.annexJ)
        bind(self.multiplexer, self.server)


class CollectorApplication(ReadOnlyObjectServices, Application):
    """The collector's application: stock bacpypes3 except for the link layer of its IPv4 port, the
    access point that matches answers by service and lets the hot read decode its own answers
    (:mod:`bacnet.answers`, :mod:`bacnet.fastread`), and its read-only objects (:mod:`bacnet.own_device`)."""

    @classmethod
    def from_object_list(cls, objects, *args, **kwargs) -> CollectorApplication:  # type: ignore[override]
        app = super().from_object_list(objects, *args, **kwargs)
        install_raw_acks(app)
        bound_reassembly()
        return app

    def add_object(self, obj) -> None:  # type: ignore[override]
        if not _is_ipv4_port(obj):
            super().add_object(obj)
            return
        mode = obj.bacnetIPMode
        address = obj.address
        if mode == IPMode.normal:
            make = GuardedLinkLayer if address.addrPort == STANDARD_PORT else MirroringLinkLayer
        elif mode == IPMode.foreign:
            make = SupervisedForeignLinkLayer
        else:
            # The stock BBMD link layer would trust and relay anyone's frames; a collector is no BBMD.
            raise ValueError(f"the collector's BACnet/IP port runs in normal or foreign mode, not {mode}")
        # The bookkeeping of Application.add_object for a network port, with our link layer.
        if obj.objectName in self.objectName or obj.objectIdentifier in self.objectIdentifier:
            raise RuntimeError(f"already an object named {obj.objectName!r} or identified {obj.objectIdentifier}")
        link_layer = make(address)
        self.objectName[obj.objectName] = obj
        self.objectIdentifier[obj.objectIdentifier] = obj
        obj._app = self
        self.link_layers[obj.objectIdentifier] = link_layer
        if obj.networkNumber == 0:
            self.nsap.bind(link_layer, address=address)
        else:
            self.nsap.bind(link_layer, net=obj.networkNumber, address=address)
        if mode == IPMode.foreign:
            link_layer.register(obj.fdBBMDAddress.address, int(obj.fdSubscriptionLifetime))


def _is_ipv4_port(obj: object) -> bool:
    return (isinstance(obj, NetworkPortObject) and obj.protocolLevel == ProtocolLevel.bacnetApplication
            and obj.networkType == NetworkType.ipv4)
