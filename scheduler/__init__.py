"""The scheduler service: turns the schedule table into enqueued jobs, from one process."""
