"""The soak-and-fault harness\x27s parts: processes, seed, customers, agents, checks."""
