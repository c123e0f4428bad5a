"""A kernel feature is asked of the kernel. The refusals below are this machine's kernel's own answers
(`ip xfrm state add ... aead rfc4106(gcm(aes))` refused; no /proc/net/ip_vs, no modprobe)."""

from netproof.kit import kernel
from netproof.lab.model.topology import Host
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult


class AnsweringHost(LabHost):
    """A host whose commands get recorded answers: argv's first words -> (exit status, stderr)."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]):
        super().__init__(Host("docker1", "docker", None, None, "28.5"))
        self.answers, self.asked = answers, []

    def run(self, cmd, *, timeout=60, check=False):
        self.asked.append(list(cmd))
        code, err = next((a for words, a in self.answers.items() if tuple(cmd[: len(words)]) == words), (1, ""))
        return CommandResult(self.argv(cmd), code, "", err, self.name)

    def interactive_argv(self, cmd):
        return list(cmd)

    docker_url = "unix:///nowhere"


def test_esp_is_asked_of_the_kernel_in_a_throwaway_namespace_and_its_refusal_quoted():
    host = AnsweringHost({("unshare", "-n", "ip", "xfrm"): (2, "Error: Requested AEAD algorithm not found.\n")})
    why = kernel.lacking(host, "esp")
    assert host.asked == [list(kernel.ESP_PROBE)] and "rfc4106(gcm(aes))" in kernel.ESP_PROBE
    assert why == (
        "docker1's kernel has no ESP (encrypted overlays (--opt encrypted) need it): asked for an ESP transport-mode "
        "state with rfc4106(gcm(aes)), as Docker makes, `ip xfrm state` says: Error: Requested AEAD algorithm not "
        "found."
    )


def test_a_kernel_that_makes_the_esp_state_has_esp():
    assert kernel.lacking(AnsweringHost({("unshare",): (0, "")}), "esp") is None


def test_ipvs_without_proc_file_module_or_modprobe_says_so():
    host = AnsweringHost({("modprobe",): (127, "")})
    why = kernel.lacking(host, "ipvs")
    assert why.startswith("docker1's kernel has no IPVS (swarm service VIPs and the routing mesh need it)")
    assert why.endswith("`modprobe -n ip_vs` says: there is no modprobe (a kernel without loadable modules)")


def test_ipvs_loadable_as_a_module_is_there():
    assert kernel.lacking(AnsweringHost({("modprobe",): (0, "")}), "ipvs") is None
