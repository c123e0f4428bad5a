#!/usr/bin/env bash
# The main job on the embedded default lab: bring up labs/seed.yml, show it, run every
# conformance check on it with pytest -n auto, write the results under reports/<run-id>/,
# and bring the lab down again, whatever happens in between.
source "$(dirname "$0")/setup.sh"
netproof engines fetch 20.10

lab=seed
run_id=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "reports/$run_id"
netproof lab up labs/seed.yml --name "$lab"
trap 'netproof lab down --name "$lab"' EXIT
netproof lab status --name "$lab"
status=0
pytest -n auto --lab "$lab" -rfExX --junitxml="reports/$run_id/junit.xml" || status=$?
echo "== results: reports/$run_id/junit.xml"
exit $status
