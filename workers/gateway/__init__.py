"""The native worker for Windows: an HTTP enqueue endpoint plus an in-process worker, one process."""
