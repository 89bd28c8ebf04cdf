"""The wire: the lab's own packets, captured, parsed, analysed and exported (CONTRACT "The wire").

Pure parts (frames, analysis, bpf, directory, pcap) hold no socket; capture.py holds the packet
socket and the thread that records, tap.py is the process that reads and parses. This package
imports nothing itself: the tap runs it as a top-level package `wire`, without the lab.
"""
