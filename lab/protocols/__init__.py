"""The byte protocols the lab speaks, sans-I/O (after h11): framing, the download protocol, HTTP/1.0.
Bytes in, messages out; no socket in this package."""
