"""The lab's model: topology files, the names of what a lab creates, how its engines start.
Providers build from it; the lab's orchestration (netproof.lab) sits above the providers."""
