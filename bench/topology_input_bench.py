"""Crafted topology files, and how each ended: refused in one line, accepted, a traceback, or over 1 s. The target
(issue 33) is none of the last two. No root, no lab:

    python bench/topology_input_bench.py

The inputs: every shipped lab and a user's ssh inventory with each value in turn replaced by a stranger or removed
(tests/unit/test_bad_input_fuzz.py's, a few thousand); hostile texts (YAML 1.1's numbers and booleans, alias and
nesting bombs, control characters, interface names, underlays that cannot be); and files that are not files (a
FIFO, a device, a folder, a link to a device, 50 MiB of nothing).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parents[1]))
from netproof.errors import NetproofError  # noqa: E402
from netproof.lab.model import loader  # noqa: E402
from tests.unit.test_bad_input_fuzz import LABS, SSH_INVENTORY, mutations  # noqa: E402

SLOW = 1.0
SEED = (Path(__file__).parents[1] / "labs" / "seed.yml").read_text()
BOMB = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)
]
HOSTILE = {
    "octal mtu": SEED.replace("dc1: {cidr: 10.10.10.0/24,", "dc1: {mtu: 01400, cidr: 10.10.10.0/24,"),
    "yes for a boolean": SEED + "router: {drop_fragments: yes}\n",
    "sexagesimal": SEED.replace("dc1: {cidr: 10.10.10.0/24,", "dc1: {mtu: 1:30, cidr: 10.10.10.0/24,"),
    "alias bomb, few aliases": "\n".join(BOMB) + "\n",
    "alias bomb, many aliases": "\n".join(BOMB + [f"b{i}: &b{i} [*a6, *a6]" for i in range(40)]) + "\n",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "escape codes in a key": SEED.replace("dc1: {cidr", '"dc1\\x1b[2J\\x07": {cidr'),
    "a key of 5,000 letters": SEED.replace("dc1: {cidr", f"{'d' * 5000}: {{cidr"),
    "a huge integer": SEED.replace("dc1: {cidr: 10.10.10.0/24,", "dc1: {mtu: " + "9" * 5000 + ", cidr: 10.10.10.0/24,"),
    **{
        f"host named {name}": SEED.replace("docker1: {subnet", f"{name}: {{subnet")
        for name in ("lo", "all", "default", "eth0", "br-dc1", "veth0", "vxlan0", "docker0")
    },
    **{
        f"underlay {cidr}": SEED.replace("10.10.10.0/24", cidr)
        for cidr in ("0.0.0.0/0", "127.0.0.0/24", "169.254.0.0/24", "224.0.0.0/24", "240.0.0.0/24", "10.0.0.0/7")
    },
    **{
        f"ssh address {address}": SSH_INVENTORY.replace("ssh: 172.16.0.11", f"ssh: '{address}'")
        for address in ("1234", "10.1", "0x0a000001", "-oProxyCommand=sh", "a b")
    },
}


def one(load) -> tuple[str, float]:
    started = time.monotonic()
    try:
        load()
        ended = "accepted"
    except NetproofError as e:
        ended = "refused in one line" if "\n" not in str(e) else "refused in several lines"
    except Exception as e:  # noqa: BLE001 - what the bench counts
        ended = f"traceback ({type(e).__name__})"
    took = time.monotonic() - started
    return ("over 1 s" if took > SLOW else ended), took


def files(folder: Path) -> dict:
    fifo = folder / "fifo.yml"
    os.mkfifo(fifo)
    (folder / "dir.yml").mkdir()
    (folder / "zero.yml").symlink_to("/dev/zero")
    big = folder / "big.yml"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    return {
        "a FIFO": fifo,
        "a folder": folder / "dir.yml",
        "a link to /dev/zero": folder / "zero.yml",
        "/dev/zero": Path("/dev/zero"),
        "50 MiB of nothing": big,
    }


def main() -> int:
    counts: Counter[str] = Counter()
    slowest = 0.0
    bad: list[str] = []
    for path in [*LABS, None]:
        original = SSH_INVENTORY if path is None else path.read_text()
        name = "mine.yml" if path is None else path.name
        for doc in mutations(original):
            text = yaml.safe_dump(doc, allow_unicode=True)
            ended, took = one(lambda text=text, name=name: loader.parse(text, name))
            counts[ended] += 1
            slowest = max(slowest, took)
            if ended.startswith(("traceback", "over", "refused in several")):
                bad.append(f"{ended}: {text[:200]!r}")
    for what, text in HOSTILE.items():
        ended, took = one(lambda text=text: loader.parse(text, "labs/mine.yml"))
        counts[ended] += 1
        slowest = max(slowest, took)
        print(f"  {what:32} {ended} ({took * 1000:.0f} ms)")
        if ended.startswith(("traceback", "over", "refused in several")):
            bad.append(f"{what}: {ended}")
    with tempfile.TemporaryDirectory() as scratch:
        for what, path in files(Path(scratch)).items():
            ended, took = one(lambda path=path: loader.load(path))
            counts[ended] += 1
            slowest = max(slowest, took)
            print(f"  {what:32} {ended} ({took * 1000:.0f} ms)")
            if ended.startswith(("traceback", "over", "refused in several")):
                bad.append(f"{what}: {ended}")
    total = sum(counts.values())
    print(f"crafted topologies: {total}; " + ", ".join(f"{n} {what}" for what, n in counts.most_common()))
    print(f"slowest: {slowest * 1000:.0f} ms")
    for line in bad[:20]:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
