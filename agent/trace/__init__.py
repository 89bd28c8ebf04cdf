"""Trace an unmodified Python program's socket calls live (issue 17): `python -m agent.trace`.

The program runs in this process with `socket.socket` replaced by a traced subclass (tsocket.py);
every call is recorded as the lab's own structured event (tracer.py) and shipped to Redis exactly
as a lab agent ships its lab's events (delivery.py), under the program's name.
"""
