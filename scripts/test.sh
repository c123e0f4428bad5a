#!/usr/bin/env bash
# Runs netproof's own tests: unit tests, then end-to-end tests on real labs (real dockerd,
# namespaces, etcd). Extra arguments go to pytest.
source "$(dirname "$0")/setup.sh"
netproof engines fetch 20.10 28.5
exec pytest tests -p no:cacheprovider -rfExX --durations=15 "$@"
