"""Trace an unmodified Python program's socket calls live: `python -m agent.trace`.

The program runs in this process with `socket.socket` replaced by a traced subclass (tsocket.py),
which appends one record per call (tracer.py). A courier process (courier.py, fed through a pipe by
outbox.py) turns the records into the lab's own structured events (unpack.py) and ships them under
the program's name: to Redis exactly as a lab agent ships its lab's (delivery.py), or straight to a
dashboard over HTTP (posting.py, to webapp/traces.py).

The same program-side modules make the one-file tracer a student downloads from the dashboard
(webapp/tracer_file.py, GET /trace.py): standard library only, Python 3.8 and later, posting from a
thread of the program's own instead of a courier (onefile.py).
"""
