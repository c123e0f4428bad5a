#!/usr/bin/env bash
# The main job on the embedded default lab: bring up labs/seed.yml, show it, ping across the
# overlay from a container on docker1 to one on docker4 (routed between the two underlay
# subnets), and bring it down again, whatever happens in between.
source "$(dirname "$0")/setup.sh"
netproof engines fetch 20.10

lab=seed
netproof lab up labs/seed.yml --name "$lab"
trap 'netproof lab down --name "$lab"' EXIT
netproof lab status --name "$lab"

on() { netproof lab exec --name "$lab" "$@"; }
on docker1 -- docker network create -d overlay --attachable proof-overlay >/dev/null
on docker1 -- docker run -d --name proof-a --network proof-overlay netproof/busybox sleep 600 >/dev/null
on docker4 -- docker run -d --name proof-b --network proof-overlay netproof/busybox sleep 600 >/dev/null
peer=$(on docker4 -- docker inspect -f '{{(index .NetworkSettings.Networks "proof-overlay").IPAddress}}' proof-b)
echo "== ping from proof-a on docker1 (10.10.10.101) to proof-b on docker4 (192.168.50.102) at $peer"
on docker1 -- docker exec proof-a ping -c 3 -W 2 "$peer"
