#!/usr/bin/env bash
# Runs netproof's own tests: unit tests, then end-to-end tests on real labs (real dockerd,
# namespaces, etcd). Extra arguments go to pytest.
source "$(dirname "$0")/setup.sh"
netproof engines fetch 20.10 26.1 28.5
# The default run leaves out tests marked nightly; `bash scripts/test.sh -m nightly` runs them (a later -m wins).
exec pytest tests -p no:cacheprovider -rfExX --durations=15 -m "not nightly" "$@"
