"""Upgrade verification: the checks on one engine, an in-place upgrade as an operator does it, the checks
again, and what changed; along a path of engines (20.10 -> 26.1 -> 28.5), a rollback (an older dockerd on
the data root a newer one used), or the key-value store's end (an engine without it, on a kv lab).

In place means: stop dockerd, start the other version on the same data root, so the swarm's state and the
networks stay. --rolling upgrades one host at a time and runs the cross-host checks while the swarm is of
mixed versions. What the upgrade itself meets (a dockerd that refuses to start, a user's container that
does not come back, overlay traffic that does not return) is a finding of the report, never a crash. On a swarm
whose kernels have IPVS (VMs), the routing mesh is watched throughout ((upgrade/mesh_watch.py)): each gap in a published
port's answers, how long, and whose restart it fell in.

Run folders: `before/` (the first engine), `step-<n>-<engine>/` (each engine between), `after/` (the
last), `rolling-<engine>-<n>-<host>/` (mixed versions); `diff.html` first against last, and with more than
one step `diff-<a>-to-<b>.html` for each.
"""

from netproof.jobs.upgrade.outcome import AFTER_SECOND_RESTART, Finding, Upgrade
from netproof.jobs.upgrade.run import UpgradeRun, upgrade

__all__ = ["AFTER_SECOND_RESTART", "Finding", "Upgrade", "UpgradeRun", "upgrade"]
