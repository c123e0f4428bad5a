"""The runner: the checks as a pytest run, the lab's lifetime across it, the verdict of each case, upgrades."""
