"""Dramatiq side: the broker, the actor catalog, the actors and the worker process."""
