"""What a traced program prints (agent/trace/tracer.py Output): the real stream gets every write unchanged, and
the tracer gets `output` events, at most 4 KiB each and 50 a second, whose texts joined are what was printed
(or, for a program that prints faster than that, what was held, with the rest counted as dropped)."""

from __future__ import annotations

import io
import time
from typing import Any

from agent.trace.labfacts import FIELDS
from agent.trace.tracer import Output, Tracer

ARGS = FIELDS.index("args")  # (a record: the thread's name, then the event's fields after `seq`)
KIND = FIELDS.index("kind")


def outputs(tracer: Tracer) -> list[dict[str, Any]]:
    return [record[ARGS] for record in tracer.records if record[KIND] == "output"]


def test_lines_reach_the_stream_unchanged_and_the_tracer_as_events() -> None:
    tracer, stream = Tracer("ann"), io.StringIO()
    out = Output(tracer, stream)
    print("Hello,", "Ann!", file=out)
    out.write("no newline yet")
    assert stream.getvalue() == "Hello, Ann!\nno newline yet"
    assert [a["text"] for a in outputs(tracer)] == ["Hello, Ann!\n"]  # (held until a line ends, or the end)
    out.emit(time.time(), final=True)
    assert [a["text"] for a in outputs(tracer)] == ["Hello, Ann!\n", "no newline yet"]
    assert all(a["stream"] == "stdout" for a in outputs(tracer))
    assert out.getvalue() == stream.getvalue()  # (anything else is the real stream's)


def test_a_flood_of_prints_is_bounded_and_counted_never_lost_silently() -> None:
    tracer, stream = Tracer("flood"), io.StringIO()
    out = Output(tracer, stream)
    lines = [f"line {n}\n" for n in range(20_000)]
    began = time.time()
    for line in lines:
        out.write(line)
    seconds = time.time() - began
    assert stream.getvalue() == "".join(lines)  # the terminal got every line
    events = outputs(tracer)
    assert len(events) <= Output.PER_SECOND * (int(seconds) + 2)
    out.emit(time.time(), final=True)
    events = outputs(tracer)
    assert all(len(a["text"]) <= Output.PIECE for a in events)
    dropped = sum(a.get("dropped", 0) for a in events)
    assert dropped > 0 and len("".join(a["text"] for a in events)) + dropped == len("".join(lines))
    assert "".join(lines).startswith("".join(a["text"] for a in events)[:1000])  # in order, from the start


def test_what_a_fork_child_or_a_refused_tracer_prints_is_not_recorded() -> None:
    tracer, stream = Tracer("off"), io.StringIO()
    out = Output(tracer, stream)
    tracer.on = False
    print("still printed", file=out)
    assert stream.getvalue() == "still printed\n" and not outputs(tracer)
