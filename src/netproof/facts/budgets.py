"""Every wait budget netproof has, named once, in seconds as measured on the netns lab; and the one place a
lab's patience scales them.

Patience is the provider's: how many times longer than on netns Docker may take there (VMs under software
emulation: 4). A budget is what a healthy lab needs with room to spare: a wait that ends early costs nothing,
one that runs out is reported naming what was awaited.
"""

# A lab coming up.
ENGINE_START = 60  # a dockerd to answer on its socket (netns)
ENGINE_START_VM = 240  # the same in a VM under emulation: 20.10 restoring its containers
ENGINE_STOP = 90  # a dockerd to exit (netns), containers and swarm node included: systemd's default too
ENGINE_STOP_VM = 180  # as long as systemd gives it, and a little more
SLOW_STOP = 10  # a stop an operator would notice (netns; a VM's is this times its patience)
HYPERVISOR_START = 30  # the lab's own libvirtd to answer
SSH_TUNNEL = 20  # an SSH tunnel to a host's Docker socket to open
SWARM_READY = 60  # every node ready in the swarm, after an init or a restart
FIRST_ATTACHMENT = 60  # a host's first container on an overlay to get its address
OVERLAY_HOLD = 120  # a holding service's task running on every node (slow providers only)
OVERLAY_REMOVAL = 20  # a lab's own readiness overlay to go
DOWNLOAD = 30  # an engine download: to connect and between reads
DOCKER_API = 60  # one request to a Docker engine's API
ZOMBIE_GRACE = 3.0  # a lab process that is exiting, before clean-up calls it a leftover

# A check's objects.
GLOBAL_NETWORK = 20  # a kv overlay to be seen on every host
NETWORK_VISIBLE = 10  # a network Docker just created to be found by its ID (seen in CI on 29.7: 404 at once)
ALLOCATION = 10  # a network's subnet to be allocated
NETWORK_REMOVAL = 20  # a network to be removed once its containers are gone
SERVICE_TASKS = 60  # a service's tasks to run
WINDOW = 45  # a negative check's window: its probes (30 s each at most, at once) and the captures outliving them
LISTENING = 10  # a probe server in a container to listen
FDB_SETTLE = 5  # a remote container's forwarding entry on a host's VXLAN device

# Probes.
# Names and routes to spread after a container starts (gossip, or the kv store). A swarm's gossip can miss an update
# under load and repair it at NetworkDB's next bulk sync, every 30 s (CI, 28.5, six checks at once on 2 cores: a remote
# name still SERVFAIL 10 s after its container started, DNS-001). A name that resolves ends the wait at once.
SETTLE = 30
# A new cross-host path may take this long before it answers at all: a swarm's gossip can miss an update under load
# and repair it later (CI, 28.5, six checks at once on 2 cores: docker1 -> docker4 did not answer within 10 s).
NEW_PATH = 30  # before a check requires the path to carry traffic; one that answers ends the wait at once
DOCTOR_ENGINE = 5  # a dockerd to answer the lab doctor

# Upgrades.
OVERLAY_BACK = 180  # overlay traffic to a host to come back after its engine changed
MESH_ANSWER = 3  # one request to the routing mesh: later than this is not answering a user either
MESH_ASK_EVERY = 1.0
MESH_BACK = 60  # each node's published port to answer again after the upgrade


def scaled(seconds: float, patience: float) -> float:
    """A budget on a lab of that patience."""
    return seconds * patience
