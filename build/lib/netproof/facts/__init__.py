"""The ground floor: what Docker is, without I/O. Ports, overheads, MTUs, interface and chain names
(`facts.docker`), the releases netproof knows and the one version comparison (`facts.versions`), and every
wait budget, scaled by a lab's patience in one place (`facts.budgets`). Everything else imports from here;
nothing here imports the rest of netproof but its errors."""
