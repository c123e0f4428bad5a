"""The routing mesh's gaps through an upgrade, told from the requests made: which node went quiet, for how long,
and whose restart it was (its own: expected; another node's: its users were not answered, bad, as for every watch)."""

from netproof.jobs.upgrade.mesh_watch import Gap, Restart, Sample, describe, gaps

NO = "GET http://10.10.10.101:30001/: no connection (wget: can't connect to remote host: Connection refused)"


def asked(node: str, answers: str, start: float = 100.0) -> list[Sample]:
    """One request a second from `start`: '+' answered, '-' not."""
    return [Sample(start + i, node, a == "+", "ok" if a == "+" else NO) for i, a in enumerate(answers)]


def test_a_run_of_unanswered_requests_is_one_gap_from_the_first_to_the_next_answer():
    found = gaps(asked("docker1", "++---++-+") + asked("docker2", "+++++++++"))
    assert found == [Gap("docker1", 102.0, 105.0, 3, NO), Gap("docker1", 107.0, 108.0, 1, NO)]
    assert found[0].seconds == 3.0


def test_a_node_that_never_answers_again_has_an_open_gap():
    (gap,) = gaps(asked("docker2", "++----"))
    assert gap.ended is None and gap.seconds is None and gap.unanswered == 4


def test_each_node_quiet_while_its_own_engine_restarts_is_put_down_to_that_restart():
    restarts = [Restart("docker1", "28.5", 101.5, 106.0), Restart("docker2", "28.5", 110.0, 115.0)]
    found = gaps(asked("docker1", "++---+++++++++++") + asked("docker2", "++++++++++++--++"))
    first, second = describe(found, restarts, 30001, began=100.0)
    assert first.host == "docker1" and not first.bad and first.engine == "28.5"
    assert "port 30001 on docker1 did not answer for 3.0 s (3 requests), 2 s into the upgrade" in first.text
    assert first.text.endswith("while its own dockerd restarted on 28.5")
    assert second.host == "docker2" and not second.bad
    assert second.text.endswith("while its own dockerd restarted on 28.5")  # not docker1's, over by then


def test_a_gap_during_another_nodes_restart_names_that_node_and_what_was_last_said():
    restarts = [Restart("docker1", "28.5", 101.0, 106.0)]
    (said,) = describe(gaps(asked("docker2", "+++--+")), restarts, 30001, began=100.0)
    assert said.host == "docker2" and said.engine == "28.5"
    assert "while docker1 restarting on 28.5: users of a host that was not being restarted" in said.text
    assert said.bad, "the one rule of every watch: a host nobody restarted must not stop answering"
    assert NO in said.text


def test_a_gap_with_no_restart_going_on_is_said_as_such():
    (said,) = describe(gaps(asked("docker2", "+--+", start=200.0)), [Restart("docker1", "28.5", 100, 150)], 1, 100.0)
    assert "while no engine was restarting" in said.text and said.engine == ""


def test_a_gap_that_never_closed_says_so():
    (said,) = describe(gaps(asked("docker2", "++--")), [], 30001, began=100.0)
    assert "stopped answering (2 requests) and did not answer again" in said.text


def test_a_gap_over_its_own_restart_and_anothers_is_put_down_to_its_own():
    restarts = [Restart("docker1", "28.5", 101.0, 106.0), Restart("docker2", "28.5", 104.0, 110.0)]
    (said,) = describe(gaps(asked("docker1", "++-----+")), restarts, 30001, began=100.0)
    assert said.text.endswith("while its own dockerd restarted on 28.5 (and docker2 on 28.5)"), said.text
    assert "not being restarted" not in said.text and "(5 requests)" in said.text


def test_one_unanswered_request_is_said_in_the_singular():
    (said,) = describe(gaps(asked("docker2", "+-+")), [], 30001, began=100.0)
    assert "did not answer for 1.0 s (1 request)" in said.text
