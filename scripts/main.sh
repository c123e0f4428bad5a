#!/usr/bin/env bash
# The main job on the embedded default lab: `netproof run` brings up labs/seed.yml, runs every
# conformance check with pytest -n auto, writes reports/<run-id>/ (index.html, results.json,
# junit.xml) and brings the lab down again, whatever happens in between.
source "$(dirname "$0")/setup.sh"
netproof engines fetch 28.5 20.10   # labs/seed.yml's engine, and 20.10 for --control-plane kv (the key-value store)
exec netproof run labs/seed.yml "$@"
