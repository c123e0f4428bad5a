"""The topology files that come with netproof (docs/topology.md). A package, so that an installed netproof carries
them: `netproof run seed` finds labs/seed.yml here when the working directory has none."""
