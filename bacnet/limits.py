"""Every bound on what a device may hand us, in one place.

Text limits are the sizes of the database columns the values land in (``app/models``): the engine
cleans and caps every characterstring to its column here, at the network boundary, so nothing
above ``bacnet/`` ever has to (PostgreSQL refuses a string longer than its ``varchar(n)`` or one
holding NUL, and one refused row would fail a whole site's transaction). Lengths count characters,
as ``varchar(n)`` does on PostgreSQL (SQLite does not enforce them).

Number limits are what the engine accepts from an answer before it sizes anything by it.
"""

from __future__ import annotations

# -- text: the column each kind of device-supplied string lands in ---------------------------------

#: ``device.name`` and ``point.name`` (``String(255)``): objectName of devices and objects.
NAME_MAX = 255
#: ``device.vendor_name``, ``device.model_name``, ``device.firmware_revision`` and
#: ``device.application_software_version`` (all ``String(255)``).
DEVICE_TEXT_MAX = 255
#: ``point.description`` is ``Text`` (no database limit); descriptions are shown in the admin and
#: exported, so a device gets this many characters, far above what any controller's UI allows.
DESCRIPTION_MAX = 1000
#: ``point.units`` (``String(64)``): engineering-units names ("degrees-celsius"); vendor units
#: come out as their number.
UNITS_MAX = 64
#: ``reading.text`` and ``point.last_text`` (``String(255)``): the text of a non-numeric present
#: value (a characterstring, a state name, "null", "NaN").
TEXT_MAX = 255
#: ``point.object_type`` (``String(48)``): standard object type names are far shorter.
OBJECT_TYPE_MAX = 48
#: ``device.segmentation`` (``String(32)``): the segmentation the device's I-Am announced.
SEGMENTATION_MAX = 32
#: Error texts the engine builds around device-supplied parts (``point.last_error`` and
#: ``device.last_error`` are ``Text``): one readable line, never a dump.
ERROR_MAX = 500

# -- numbers --------------------------------------------------------------------------------------

#: Largest object instance (22 bits); 4194303 itself is the "uninitialised" wildcard, which
#: devices may still list (an object not yet configured).
MAX_INSTANCE = 4194303
#: Default of the BACNET_MAX_OBJECTS setting: longest object list enumerated per device. The
#: largest real controllers (supervisory stations exposing a whole site) hold a few thousand
#: objects; a longer list is refused for that device before anything is sized by it.
DEFAULT_MAX_OBJECTS = 20000
#: Hard ceiling for BACNET_MAX_OBJECTS: what one device may cost the worker (~1 KB per object
#: while enumerating) stays far below its memory.
MAX_OBJECTS_CEILING = 1_000_000
#: APDU sizes a device may claim (ASHRAE 135 clause 20.1.2.5: 50 .. 1476 on BACnet/IP). A claim
#: outside is clamped: a device claiming 2**32 must not make us send one giant request.
MIN_APDU, MAX_APDU = 50, 1476
#: Vendor identifiers are 16 bits (ASHRAE assigns them; ``device.vendor_id``).
VENDOR_ID_MAX = 65535
#: protocolRevision values kept (revision 24 is ASHRAE 135-2020); a larger one is a per-property
#: error "value out of range" instead of a number in ``device.protocol_revision`` (``Integer``).
PROTOCOL_REVISION_MAX = 255
#: Largest magnitude a BACnet REAL (IEEE 754 single) holds: a write beyond it would reach the
#: device as +/-Infinity.
REAL_MAX = 3.4028234663852886e38
#: Ranges of the BACnet INTEGER and UNSIGNED present values we write (32 bits, clause 20.2.4-5).
INTEGER_MIN, INTEGER_MAX = -(2 ** 31), 2 ** 31 - 1
UNSIGNED_MAX = 2 ** 32 - 1
