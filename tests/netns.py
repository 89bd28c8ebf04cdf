"""A throwaway LAN for tests: a bridge in a "switch" network namespace and hosts wired to it by veth pairs.

Everything is created inside namespaces the LAN makes itself (each veth pair is born in the switch
namespace with its far end moved straight into a host), so the root namespace's interfaces, routes
and traffic are never touched. Deleting a namespace deletes its end of every veth pair with it.
"""

from __future__ import annotations

import ipaddress
import json
import queue
import random
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .support import wait_until

ROOT = Path(__file__).resolve().parents[1]


def ip(*args: str) -> str:
    try:
        return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10).stdout
    except subprocess.CalledProcessError as exc:
        exc.add_note(f"ip said: {exc.stderr.strip()}")
        raise


def namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()}


class Process:
    """A child in a namespace; a thread reads its stdout lines so a test can wait on them with a timeout."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, merge_stderr: bool = False) -> None:
        self.argv = argv
        # merge_stderr: for a long-lived child that logs (an agent), so an undrained stderr pipe never fills
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, text=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, name=f"netns-stdout-{self.popen.pid}")
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.seen.append(line.rstrip("\n"))  # (kept whole, for a failing test's message)
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # end of output: the child exited

    def line(self, timeout: float = 5.0) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s from the child in {self.argv[3]}") from None
        if line is None:
            self.popen.wait(5)
            said = self.popen.stderr.read() if self.popen.stderr else "\n".join(self.seen)
            raise AssertionError(f"the child in {self.argv[3]} exited with {self.popen.returncode}: {said}")
        return line

    def json(self, timeout: float = 5.0) -> Any:
        return json.loads(self.line(timeout))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()  # its pid is the python itself: `ip netns exec` execs, it does not fork
        self.popen.wait(5)
        self._reader.join(5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()


class Lan:
    """A switch namespace with bridge br0, and `hosts` namespaces each with eth0 on one /24 from 10.99.0.0/16."""

    def __init__(self, hosts: int) -> None:
        tag = secrets.token_hex(3)  # unique per run, so parallel or leftover runs never collide
        self.switch = f"sl-{tag}-sw"
        self.hosts = [f"sl-{tag}-h{i}" for i in range(1, hosts + 1)]
        self.subnet = ipaddress.ip_network(f"10.99.{random.randrange(256)}.0/24")
        self.address = {host: str(self.subnet[i]) for i, host in enumerate(self.hosts, 1)}
        self.broadcast = str(self.subnet.broadcast_address)
        self.created: list[str] = []
        self.processes: list[Process] = []

    def build(self) -> "Lan":
        for ns in (self.switch, *self.hosts):
            ip("netns", "add", ns)
            self.created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for i, host in enumerate(self.hosts, 1):
            ip("-n", self.switch, "link", "add", f"port{i}", "type", "veth", "peer", "name", "eth0", "netns", host)
            ip("-n", self.switch, "link", "set", f"port{i}", "master", "br0", "up")
            ip("-n", host, "addr", "add", f"{self.address[host]}/{self.subnet.prefixlen}", "brd", "+", "dev", "eth0")
            # No IPv6 link-local address: made a second after the link is up, it is a network change to a
            # Chromium started meanwhile, which aborts the page's requests (net::ERR_NETWORK_CHANGED).
            ip("-n", host, "link", "set", "eth0", "addrgenmode", "none")
            ip("-n", host, "link", "set", "eth0", "up")
        wait_until(self._ready)  # a port that is not forwarding yet would drop the first datagram silently
        return self

    def _ready(self) -> bool:
        ports = json.loads(ip("-j", "-d", "-n", self.switch, "link", "show", "master", "br0"))
        hosts = [json.loads(ip("-j", "-n", host, "link", "show", "dev", "eth0"))[0] for host in self.hosts]
        return (len(ports) == len(self.hosts) and all(p["linkinfo"]["info_slave_data"]["state"] == "forwarding" for p in ports)
                and all(link["operstate"] == "UP" for link in ports + hosts))

    def run(self, host: str, program: str, *args: str) -> Process:
        """Run `python -c program args...` inside `host`, from the project root so `import lab` works."""
        process = Process(["ip", "netns", "exec", host, sys.executable, "-c", program, *args])
        self.processes.append(process)
        return process

    def start(self, host: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        """Run any program inside `host` (stdout and stderr as one stream of lines); stopped by close()."""
        process = Process(["ip", "netns", "exec", host, *argv], env, merge_stderr=True)
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Kill what ran in the LAN, then delete every namespace it created; assert none is left."""
        for process in self.processes:
            process.stop()
        failures = []
        for ns in self.created:
            result = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True, timeout=10, check=False)
            if result.returncode:
                failures.append(f"{ns}: {result.stderr.strip()}")
        left = namespaces() & set(self.created)
        assert not failures and not left, f"namespaces left behind: {sorted(left)} {failures}"
