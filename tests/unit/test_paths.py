"""Paths across the underlay (kit/paths.py): a loss rate, from a burst of echoes."""

from netproof.kit.paths import Loss


def test_a_burst_of_echoes_says_lossy_only_for_a_path_that_sometimes_answers():
    assert Loss(50, 29, "").lossy and str(Loss(50, 29, "")) == "21 of 50 ICMP echoes lost"
    assert not Loss(50, 49, "").lossy  # one lost of 50 is noise
    assert not Loss(50, 0, "").lossy  # none came back: unreachable, which the path's look explains
    assert not Loss(0, 0, "ping missing").ran
