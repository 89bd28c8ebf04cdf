"""Raises inside a function after one socket call."""
import socket


def fail(sock):
    sock.settimeout(1.5)
    return {}["missing"]


print("before")
fail(socket.socket())
