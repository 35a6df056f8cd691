"""Object references as people type them: ``analog-input,1``, ``analog-input:1``, ``AI:1``, ``analogInput 1``."""

from __future__ import annotations

import re

from bacpypes3.primitivedata import ObjectType

from bacnet.limits import MAX_INSTANCE
from bacnet.types import ObjectRef

#: Abbreviations engineers use in point lists and tools like YABE.
ABBREVIATIONS = {
    "ai": "analog-input", "ao": "analog-output", "av": "analog-value",
    "bi": "binary-input", "bo": "binary-output", "bv": "binary-value",
    "msi": "multi-state-input", "mso": "multi-state-output", "msv": "multi-state-value",
    "mi": "multi-state-input", "mo": "multi-state-output", "mv": "multi-state-value",
    "dev": "device", "csv": "characterstring-value", "iv": "integer-value", "lav": "large-analog-value",
}


def parse_object(text: str) -> ObjectRef:
    """Parse an object reference; ValueError with the reason otherwise."""
    match = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*[,: ]\s*(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"{text!r} is not an object; write it as type,instance (e.g. analog-input,1 or AI:1)")
    type_text, instance_text = match.groups()
    type_text = ABBREVIATIONS.get(type_text.lower(), type_text)
    try:
        object_type = str(ObjectType(type_text))
    except (ValueError, TypeError):
        raise ValueError(f"{type_text!r} is not a BACnet object type") from None
    if object_type.isdigit():
        raise ValueError(f"{type_text!r} is not a BACnet object type")
    instance = int(instance_text)
    if instance > MAX_INSTANCE:
        raise ValueError(f"object instance {instance} is above {MAX_INSTANCE}")
    return (object_type, instance)
