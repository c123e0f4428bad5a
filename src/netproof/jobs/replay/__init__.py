"""`netproof replay`: a user's compose project replayed on a lab, stand-ins for its services, and the truth table
of the reachability it relies on (stack/); carried across an upgrade by `netproof upgrade --workload`."""

from netproof.jobs.replay.run import Replay, counts, exit_status, read_project, replay, write

__all__ = ["Replay", "counts", "exit_status", "read_project", "replay", "write"]
