"""A user's own compose project on the lab: its model (project.py) and the reachability it relies on
(reachability.py), pure; replayed and observed by the replay job (jobs/replay/)."""
