"""The collector's own BACnet objects (its device and network-port) are read-only to the network.

Stock bacpypes3 executes WriteProperty and WritePropertyMultiple on an application's local
objects. Anyone who can reach the collector's port could rename it, or change the
``maxApduLengthAccepted`` and ``segmentationSupported`` that bacpypes3 itself reads when it sizes
and segments our requests (collections got three times slower). A collector has nothing a peer
should change, so :class:`ReadOnlyObjectServices` answers every service that modifies an object
with the Error the standard gives for it, in that service's own error format:

========================  =====================================================================
WriteProperty             Error property / write-access-denied
WritePropertyMultiple     WritePropertyMultiple-Error property / write-access-denied (first write)
CreateObject              CreateObject-Error object / dynamic-creation-not-supported
DeleteObject              Error object / object-deletion-not-permitted
AddListElement            Change-List-Error property / write-access-denied
RemoveListElement         Change-List-Error property / write-access-denied
========================  =====================================================================

(object / unknown-object when the request names an object we do not have.) Nothing is decoded
from the request beyond the object and property it names, and no state changes.

DeviceCommunicationControl and ReinitializeDevice are refused with Reject unrecognized-service,
exactly as stock bacpypes3 0.0.110 answers them (its Application does not mix in the
DeviceCommunicationControlServices it ships); the handlers pin that, so a bacpypes3 upgrade that
adds them cannot let a peer silence or restart the collector. ``protocolServicesSupported``
advertises none of these services. ReadProperty, ReadPropertyMultiple, ReadRange, Who-Is and
Who-Has stay bacpypes3's.
"""

from __future__ import annotations

import logging

from bacpypes3.apdu import (AddListElementRequest, ChangeListError, ConfirmedServiceChoice, CreateObjectError,
                            CreateObjectRequest, DeleteObjectRequest, DeviceCommunicationControlRequest, Error,
                            ReinitializeDeviceRequest, RemoveListElementRequest, WritePropertyMultipleError,
                            WritePropertyMultipleRequest, WritePropertyRequest)
from bacpypes3.basetypes import ErrorType, ObjectPropertyReference, ServicesSupported
from bacpypes3.errors import MissingRequiredParameter, UnrecognizedService
from bacpypes3.primitivedata import ObjectIdentifier, ObjectType

from bacnet.logfilter import ThrottledLog

log = logging.getLogger(__name__)

#: The device instance that means "whichever device receives this" (ASHRAE 135 clause 12.11.1).
WILDCARD_INSTANCE = 4194303

#: Confirmed services the collector never executes for a peer; not advertised in
#: protocolServicesSupported even though some have a handler (that refuses).
REFUSED_SERVICES = (
    ConfirmedServiceChoice.writeProperty, ConfirmedServiceChoice.writePropertyMultiple,
    ConfirmedServiceChoice.createObject, ConfirmedServiceChoice.deleteObject,
    ConfirmedServiceChoice.addListElement, ConfirmedServiceChoice.removeListElement,
    ConfirmedServiceChoice.deviceCommunicationControl, ConfirmedServiceChoice.reinitializeDevice,
)


class ReadOnlyObjectServices:
    """Mixin for the collector's bacpypes3 Application (put it before Application in the bases)."""

    _refusals: ThrottledLog | None = None

    @property
    def refusals(self) -> ThrottledLog:
        """Refused requests: counted, and logged without flooding (one line per peer and minute)."""
        if self._refusals is None:
            self._refusals = ThrottledLog(log)
        return self._refusals

    # -- the refused services -------------------------------------------------------------------

    async def do_WritePropertyRequest(self, apdu: WritePropertyRequest) -> None:
        error = self._error_type(apdu.objectIdentifier, "property", "write-access-denied")
        await self._refuse(apdu, f"WriteProperty of {_object_text(apdu.objectIdentifier)} "
                                 f"{apdu.propertyIdentifier}",
                           Error(errorClass=error.errorClass, errorCode=error.errorCode,
                                 service_choice=apdu.apduService, context=apdu))

    async def do_WritePropertyMultipleRequest(self, apdu: WritePropertyMultipleRequest) -> None:
        specs = apdu.listOfWriteAccessSpecs or []
        first = specs[0] if specs else None
        prop = first.listOfProperties[0] if first is not None and first.listOfProperties else None
        if first is None or prop is None:
            # No write in it (bacpypes3 drops a wholly empty list before us): nothing was
            # attempted, so there is no "first failed write" to name.
            raise MissingRequiredParameter("a WritePropertyMultiple without any write")
        reference = ObjectPropertyReference(objectIdentifier=first.objectIdentifier,
                                            propertyIdentifier=prop.propertyIdentifier)
        if prop.propertyArrayIndex is not None:
            reference.propertyArrayIndex = prop.propertyArrayIndex
        await self._refuse(apdu, f"WritePropertyMultiple of {_object_text(first.objectIdentifier)}",
                           WritePropertyMultipleError(
                               errorType=self._error_type(first.objectIdentifier, "property", "write-access-denied"),
                               firstFailedWriteAttempt=reference, context=apdu))

    async def do_CreateObjectRequest(self, apdu: CreateObjectRequest) -> None:
        await self._refuse(apdu, "CreateObject", CreateObjectError(
            errorType=ErrorType(errorClass="object", errorCode="dynamic-creation-not-supported"),
            firstFailedElementNumber=0, context=apdu))

    async def do_DeleteObjectRequest(self, apdu: DeleteObjectRequest) -> None:
        error = self._error_type(apdu.objectIdentifier, "object", "object-deletion-not-permitted")
        await self._refuse(apdu, f"DeleteObject of {_object_text(apdu.objectIdentifier)}",
                           Error(errorClass=error.errorClass, errorCode=error.errorCode,
                                 service_choice=apdu.apduService, context=apdu))

    async def do_AddListElementRequest(self, apdu: AddListElementRequest) -> None:
        await self._refuse_list_change(apdu, "AddListElement")

    async def do_RemoveListElementRequest(self, apdu: RemoveListElementRequest) -> None:
        await self._refuse_list_change(apdu, "RemoveListElement")

    async def do_DeviceCommunicationControlRequest(self, apdu: DeviceCommunicationControlRequest) -> None:
        self._note(apdu, "DeviceCommunicationControl")
        raise UnrecognizedService("the collector does not execute DeviceCommunicationControl")

    async def do_ReinitializeDeviceRequest(self, apdu: ReinitializeDeviceRequest) -> None:
        self._note(apdu, "ReinitializeDevice")
        raise UnrecognizedService("the collector does not execute ReinitializeDevice")

    def get_services_supported(self) -> ServicesSupported:
        supported = super().get_services_supported()  # type: ignore[misc]
        for choice in REFUSED_SERVICES:
            supported[getattr(supported, ConfirmedServiceChoice(choice).attr)] = 0
        return supported

    # -- helpers --------------------------------------------------------------------------------

    async def _refuse_list_change(self, apdu, service: str) -> None:
        await self._refuse(apdu, f"{service} to {_object_text(apdu.objectIdentifier)} {apdu.propertyIdentifier}",
                           ChangeListError(
                               errorType=self._error_type(apdu.objectIdentifier, "property", "write-access-denied"),
                               firstFailedElementNumber=0, service_choice=apdu.apduService, context=apdu))

    def _error_type(self, objid: ObjectIdentifier, error_class: str, error_code: str) -> ErrorType:
        """``error_class/error_code`` for one of our objects, object/unknown-object for anything else."""
        if self._is_own(objid):
            return ErrorType(errorClass=error_class, errorCode=error_code)
        return ErrorType(errorClass="object", errorCode="unknown-object")

    def _is_own(self, objid: ObjectIdentifier) -> bool:
        if objid[0] == ObjectType.device and objid[1] == WILDCARD_INSTANCE:
            return self.device_object is not None  # type: ignore[attr-defined]
        return self.get_object_id(objid) is not None  # type: ignore[attr-defined]

    async def _refuse(self, apdu, what: str, error) -> None:
        self._note(apdu, what)
        await self.response(error)  # type: ignore[attr-defined]

    def _note(self, apdu, what: str) -> None:
        self.refusals.record(str(apdu.pduSource), "refused %s from %s: the collector is read-only to the network",
                             what, apdu.pduSource)


def _object_text(objid: ObjectIdentifier) -> str:
    return f"{objid[0]},{objid[1]}"
