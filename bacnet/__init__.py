"""The BACnet engine: discovery, enumeration and reading over bacpypes3, free of Flask and the database.

Plain dataclasses go in (:mod:`bacnet.types`) and results plus per-item errors come out. One
:class:`bacnet.runtime.BACnetRuntime` per process owns the socket and the asyncio loop thread;
:class:`bacnet.engine.Engine` is the blocking facade that worker threads call.
"""
