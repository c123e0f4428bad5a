#!/usr/bin/env bash
# Runs netproof's own tests: unit tests, then end-to-end tests on real labs (real dockerd,
# namespaces, etcd). Extra arguments go to pytest.
source "$(dirname "$0")/setup.sh"
netproof engines fetch 20.10 26.1 28.5
# Docker 29 is not in Debian, and these machines cannot reach Docker's download site: they carry a static build
# of it beside the project (../shared/engines/BUILD.md). Elsewhere `netproof engines fetch 29.7` gets Docker's own.
shared_29=../shared/engines/docker-29.7.2-from-source.tar.xz
if [ -f "$shared_29" ]; then netproof engines import "$shared_29"; else netproof engines fetch 29.7; fi
# The releases in between, for the nightly six-engine matrix (issue 37): only where the machine carries them.
for between in 29.1.0 29.5.0; do
    tarball=../shared/engines/docker-$between-from-source.tar.xz
    if [ -f "$tarball" ]; then netproof engines import "$tarball"; fi
done
# The default run leaves out tests marked nightly; `bash scripts/test.sh -m nightly` runs them (a later -m wins).
exec pytest tests -p no:cacheprovider -rfExX --durations=60 -m "not nightly" "$@"
