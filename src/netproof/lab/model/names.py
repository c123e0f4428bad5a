"""Names of everything a lab creates on the machine. Every one starts with PREFIX, which is how
`netproof lab clean` finds leftovers even when a lab's state file is lost. Lab and host names
hold no dots, so "netproof.<lab>." never matches another lab's resources."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from netproof.errors import UsageError

PREFIX = "netproof"


def state_root() -> Path:
    """Where labs keep their state: NETPROOF_STATE_DIR (default /var/lib/netproof) / labs. Clean-up removes what it
    finds there, so an empty or relative value (which would be the working directory: a checkout's labs/) is refused."""
    raw = os.environ.get("NETPROOF_STATE_DIR", "/var/lib/netproof")
    if not raw or not os.path.isabs(raw) or os.path.normpath(raw) == "/":
        raise UsageError(f"NETPROOF_STATE_DIR={raw!r}: give an absolute folder of netproof's own, or unset it")
    return Path(os.path.normpath(raw)) / "labs"


LOCK_DIR = Path("/run/netproof/locks")
HOLDER_MARK = f"{PREFIX}-host"  # argv[0] of the process that keeps a host's namespaces alive
NAME_RE = re.compile(r"[a-z][a-z0-9-]*")  # lab and host names, whole (fullmatch): no dots, slashes or newlines
LAB_NAME_MAX = 24


@dataclass(frozen=True)
class LabNames:
    lab: str

    def __post_init__(self) -> None:
        if not isinstance(self.lab, str) or not NAME_RE.fullmatch(self.lab) or len(self.lab) > LAB_NAME_MAX:
            raise UsageError(
                f"lab name {self.lab!r} must start with a letter, hold only a-z, 0-9 and '-', and be at most "
                f"{LAB_NAME_MAX} characters"
            )

    @property
    def prefix(self) -> str:
        return f"{PREFIX}.{self.lab}."

    def netns(self, node: str) -> str:
        return f"{self.prefix}{node}"

    def cgroup_parent(self, node: str) -> str:
        """The cgroup a host's dockerd puts its containers under (cleanup finds them there)."""
        return self.netns(node)

    def holder_mark(self, node: str) -> str:
        return f"{HOLDER_MARK} {self.lab}/{node}"

    @property
    def dir(self) -> Path:
        return state_root() / self.lab

    @property
    def lock_file(self) -> Path:
        """Held by whoever brings the lab up, down or cleans it: outside its folder (which down and clean remove), in
        a folder of root's alone under /run (gone at reboot, as the lab is; /run/lock is anyone's to plant a link in),
        named as the lab's network namespaces are: one per machine."""
        return LOCK_DIR / f"{PREFIX}.{self.lab}.lock"

    def node_dir(self, node: str) -> Path:
        return self.dir / node

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"
