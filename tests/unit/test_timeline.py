"""Where a case's time goes (issue 38): commands counted by what runs in the end, API calls by method and path."""

from netproof import timeline


def test_a_command_is_counted_by_what_runs_inside_namespaces_and_timeouts():
    entered = ["nsenter", "-t", "12", "-n", "-m", "-u", "--"]
    assert timeline.command_kind([*entered, "docker", "exec", "c1", "wget", "-q", "x"]) == "docker exec"
    assert timeline.command_kind([*entered, "nsenter", "--net=/run/docker/netns/ab", "ip", "-j", "link"]) == "ip"
    assert timeline.command_kind([*entered, "timeout", "90", "tcpdump", "-i", "br0"]) == "tcpdump"
    assert timeline.command_kind(["timeout", "-s", "INT", "5", "wget", "-q"]) == "wget"
    assert timeline.command_kind(["ip", "netns", "exec", "netproof.dev.docker1", "iptables", "-S"]) == "iptables"
    assert timeline.command_kind(["docker", "network", "connect", "--alias", "a", "n", "c"]) == "docker network connect"
    assert timeline.command_kind(["/usr/sbin/nft", "list", "ruleset"]) == "nft"


def test_an_api_call_is_counted_by_method_and_path_without_version_or_ids():
    full = "3f2a9c1b2d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
    assert timeline.api_kind("POST", f"/v1.51/containers/{full}/start") == "api POST /containers/{id}/start"
    named = "/v1.51/containers/np-main-9c9f17-srv/json?size=0"
    assert timeline.api_kind("GET", named) == "api GET /containers/{id}/json"
    assert timeline.api_kind("POST", "/v1.44/networks/create") == "api POST /networks/create"


def test_time_is_kept_only_inside_a_case_and_summed_by_kind_longest_first():
    timeline.record("ip", 1.0)  # no case under way: not kept anywhere
    case = timeline.begin()
    for kind, seconds in (("docker exec", 0.5), ("ip", 0.25), ("docker exec", 0.75)):
        timeline.record(kind, seconds)
    assert timeline.end() is case and timeline.end() is None
    timeline.record("ip", 9.0)  # after the case: not added to it
    assert case.summary() == {"docker exec": {"calls": 2, "seconds": 1.25}, "ip": {"calls": 1, "seconds": 0.25}}
