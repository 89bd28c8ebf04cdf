"""Exercises on a student's own program: the registry (registry.py), the checks read from the program's
traced calls (trace.py) and the checks the lab makes as the program's peer (peer.py). Never imports the web layer."""
