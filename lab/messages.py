"""The one table of English sentences: every problem a user can meet, by its stable code.

A LabError, an API error body and an event all carry a code from here and the params its
template needs; `{name}` is filled from the params (lab/errors.py `render`, or str.format: a
template holds no other braces). The page words the same code through `err.<code>` in
static/i18n/errors-en.js (generated from this table: `python -m lab.messages > static/i18n/errors-en.js`)
and static/i18n/errors-zh.js (written by hand). tests/lab/test_messages.py fails when a code
lacks either translation or a placeholder differs.

Codes name what went wrong ("port-in-use"), never where it was noticed. A code, once published,
keeps its meaning: pages and scripts branch on it.
"""

from __future__ import annotations

import json
from typing import Final

# What the lab was doing when the OS said no: token -> the English words of "Could not <...> <address>".
ACTIONS: Final[dict[str, str]] = {
    "listen": "listen on",
    "bind": "bind",
    "connect": "connect to",
    "send": "send to",
    "receive": "receive from",
    "download": "download from",
    "reach": "reach",
}

# OS errors whose sentence depends on the action: one code per action ("connect-timed-out").
_PER_ACTION: Final[dict[str, str]] = {
    "timed-out": "Could not {action} {{address}}: no answer before the time limit "
                 "(the host may be down or a firewall drops packets).",
    "port-needs-root": "Not allowed to {action} {{address}}: ports below 1024 need administrator rights; "
                       "use a port above 1024 or 0.",
    "address-not-local": "Cannot {action} {{address}}: {{host}} is not an address of this machine.",
    "datagram-too-large": "The datagram is too large to {action} {{address}} in one piece.",
    "failed": "Could not {action} {{address}}: {{reason}} ({{errno}}).",
}

MESSAGES: dict[str, str] = {
    # -- the OS said no (lab/errors.py os_problem) ------------------------------------------------
    **{f"{token}-{family}": template.format(action=phrase)
       for family, template in _PER_ACTION.items() for token, phrase in ACTIONS.items()},
    "host-not-found": "The host name '{host}' could not be found; check the spelling, or use an IP address like 127.0.0.1.",
    "port-in-use": "Port {port} is already in use on {host}: another program or another lab server is listening there. "
                   "Choose another port, or 0 to let the system pick a free one.",
    "broadcast-not-allowed": "Not allowed to send to {address}: it is a broadcast address, and the kernel lets a socket "
                             "send there only with SO_BROADCAST on. Turn on 'broadcast' for this UDP client, or send to "
                             "one host's address.",
    "connection-refused": "Connection refused by {address}: nothing is listening on that port. "
                          "Start a server there first, or check the port.",
    "host-unreachable": "Cannot reach {address}: the host or its network is unreachable from this machine "
                        "(no route to it, {errno}).",
    "connection-reset": "The connection to {address} was reset by the peer (it closed abruptly, without a normal goodbye).",
    "peer-closed": "Cannot send to {address}: the peer has already closed the connection.",

    # -- the request body and its fields (lab/spec.py, webapp/api.py) -----------------------------
    "no-body": "The request needs a JSON body.",
    "json-too-deep": "The JSON body is nested too deeply; a request is a flat object with a few fields.",
    "invalid-json": "The request body is not valid JSON.",
    "not-an-object": "The request body must be a JSON object, like {example}.",
    "unknown-field": "A {kind} has no field '{field}'; the fields it takes are: {fields}.",
    "unknown-request-field": "This request has no field '{field}'; the fields it takes are: {fields}.",
    "unknown-rule-field": "A rule has no field '{field}'; the fields it takes are: {fields}.",
    "unknown-impair-field": "'impair' has no field '{field}'; the fields it takes are: {fields}.",
    "unknown-send-field": "A send has no field '{field}'; the fields it takes are: {fields}.",
    "unknown-download-field": "A download has no field '{field}'; the fields it takes are: {fields}.",
    "field-missing": "'{field}' is missing.",
    "not-a-string": "'{field}' must be a string, not {type}.",
    "not-a-choice": "'{value}' is not a valid {field}: use one of {choices}.",
    "string-too-long": "'{field}' is too long (at most {limit} characters).",
    "not-text": "'{field}' contains a character that is not valid text (a lone surrogate such as \\ud800); "
                "send real characters, or hex for raw bytes.",
    "port-missing": "'{field}' is missing: which port number?",
    "port-not-a-number": "The port must be a whole number, not {value}.",
    "port-out-of-range": "Port {port} is out of range: a port is a number from {low} to 65535.",
    "port-out-of-range-zero": "Port {port} is out of range: a port is a number from {low} to 65535 "
                              "(0 lets the system choose).",
    "not-a-number": "'{field}' must be a number, not {value}.",
    "not-a-whole-number": "'{field}' must be a whole number, not {value}.",
    "number-out-of-range": "'{field}' must be between {low} and {high}.",
    "host-empty": "The host is empty: give an address like 127.0.0.1.",
    "host-invalid": "'{host}' is not a valid host name.",
    "not-a-boolean": "'{field}' must be true or false.",
    "hex-invalid": "The hex data is not valid: use pairs of hex digits, like '68 65 6c 6c 6f'.",
    "send-empty": "There is nothing to send: the data is empty.",
    "send-too-large": "One send may carry at most {limit} bytes; this one has {size}.",
    "conn-not-a-string": "'conn' must be a connection id string like 'c1', not {value}.",
    "to-invalid": "'to' must be [host, port], like [\"127.0.0.1\", 9999].",
    "file-name-multiline": "The file name must be one line (no line breaks).",
    "query-not-a-whole-number": "'{field}' must be a whole number, not '{value}'.",

    # -- what an endpoint may be (lab/spec.py) ----------------------------------------------------
    "recv-delay-for-tcp-server": "'recv_delay_ms' makes a slow reader, and only a TCP server reads a byte stream slowly; leave it out here.",
    "framing-for-udp": "Framing cuts a TCP byte stream into messages; UDP keeps each datagram whole, so it needs none.",
    "framing-with-byte-mode": "Mode '{mode}' speaks its own protocol, so it cannot also use '{framing}' framing.",
    "delimiter-missing": "Line framing needs a delimiter, such as \"\\n\".",
    "rules-invalid": "'rules' must be a list of at most {limit} objects, each with a 'match' pattern and a 'reply' text.",
    "rule-repeat-too-large": "The rule pattern '{pattern}' repeats something {found} times; "
                             "a rule may repeat at most {limit} times.",
    "rule-not-linear": "The rule pattern '{pattern}' is not a regular expression the lab can use: {reason}. "
                       "(The lab matches in linear time, so look-arounds like (?=...) and back-references "
                       "like \\1 are not available.)",
    "rule-not-python": "The rule pattern '{pattern}' is not a valid Python regular expression: {reason}; "
                       "the generated program matches with Python's re, so use a form both understand.",
    "rule-reply-too-large": "The reply of the rule '{pattern}' would be more than {limit} bytes after "
                            "its $n captures are filled in (the lab's send limit), so nothing was sent.",
    "impair-for-tcp": "Impairment (loss, duplicates, reordering) is for UDP endpoints: TCP repairs all of that itself.",
    "broadcast-not-udp-client": "Only a UDP client can broadcast (TCP always talks to exactly one peer).",
    "file-mode-needs-file": "Mode 'file' needs a 'file': the name of the file to send to every client.",

    # -- the generated program (lab/codegen/programs.py) ---------------------------------------------------
    "code-endpoint-not-object": "An endpoint must be a JSON object.",
    "code-kind-unknown": "There is no program for an endpoint of kind {kind}.",
    "code-file-missing": "A file server in mode 'file' needs the name of its file.",
    "code-download-not-object": "A download must be a JSON object.",
    "code-address-missing": "The endpoint has no {which} address to put in the program.",
    "code-host-empty": "The {which} host is empty: a program needs an address like 127.0.0.1.",
    "code-delimiter-empty": "The delimiter is empty: line framing needs something to cut at.",
    "code-rules-invalid": "'rules' must be a list of objects, each with a 'match' pattern and a 'reply' template.",
    "code-rule-invalid": "Each rule must have a 'match' pattern and a 'reply' template, both strings.",
    "code-rule-pattern": "The rule pattern {pattern} is not a valid regular expression: {reason}.",

    # -- bytes on a lab socket that break a protocol (lab/protocols/sansio.py ProtocolError: framing.py,
    #    download_protocol.py, httpproto.py); lower case, as they follow "framing: " or "download failed: "
    "line-too-long": "a line longer than {limit} bytes arrived without a delimiter",
    "line-cut-by-eof": "the peer closed the connection in the middle of a line ({size} bytes without a delimiter)",
    "message-too-long": "a message announced {size} bytes, more than the limit of {limit}",
    "message-cut-by-eof": "the peer closed the connection in the middle of a message ({size} bytes left over)",
    "request-line-too-long": "the request line is longer than {limit} bytes",
    "request-missing": "the client closed the connection before sending a file name",
    "header-too-long": "the server's header line is too long: is it really a framed file server?",
    "header-missing": "the server closed the connection before sending a header",
    "header-invalid": "the server did not answer with an 'OK <size> <sha256>' header (it sent '{sent}')",
    "server-refused": "the server refused: {reason}",
    "body-too-long": "the server sent more than the {size} bytes it announced",
    "body-cut-by-eof": "the connection closed after {received} of {size} bytes",
    "http-head-too-long": "the request line and headers are longer than {limit} bytes",
    "http-too-many-headers": "the request has more than {limit} header lines",
    "http-not-utf8": "the request line is not valid UTF-8 text",
    "http-request-line": "the first line must look like 'GET /path HTTP/1.0': a method, a path and a version, "
                         "separated by single spaces",
    "http-method": "the method (the first word, like GET) contains characters a method may not contain",
    "http-path-control": "the path contains control characters",
    "http-version-form": "the version must look like HTTP/1.0, not '{version}'",
    "http-version": "this little server speaks HTTP/1.0 and HTTP/1.1 only, not {version}",
    "http-folded-header": "a header line starts with a space: folded (continued) header lines are not allowed",
    "http-header-form": "every header line must look like 'Name: value', with no space before the colon",
    "http-header-control": "the value of the header '{name}' contains control characters",
    "http-cut-by-eof": "the connection closed before the request was complete",

    # -- the lab's state and limits (lab/core.py, tcp.py, udp.py, connection.py, scheduler.py) ----
    "too-many-endpoints": "The lab already has {count} endpoints, its limit; stop one first.",
    "no-such-endpoint": "There is no endpoint '{endpoint}' (it may have been stopped already).",
    "not-a-tcp-server-listening": "Only a TCP server has a listening socket; {endpoint} is a {kind}.",
    "not-a-tcp-server-connections": "Only a TCP server has connections to close; {endpoint} is a {kind}.",
    "no-such-connection": "This server has no connection '{conn}' (it may have closed already).",
    "no-client-connected": "No client is connected to this server, so there is nobody to send to.",
    "cannot-send": "A {kind} cannot send.",
    "connection-closed": "Connection {conn} to {address} is closed; nothing can be sent on it.",
    "client-connection-closed": "The connection to {address} is closed; nothing can be sent on it.",
    "already-shut-down": "This side already finished sending (shutdown SHUT_WR), so it cannot send any more.",
    "closed-while-sending": "The connection closed while sending; nothing more can be sent on it.",
    "udp-socket-closed": "This UDP socket is closed; nothing can be sent on it.",
    "datagram-too-large": "A datagram may carry at most {limit} bytes; this one has {size}.",
    "no-peer-yet": "No datagram has arrived yet, so there is no peer to answer; give a 'to' address.",
    "lab-shutting-down": "The lab is shutting down; it takes no new periodic sends.",
    "too-many-periodic-per-endpoint": "This endpoint already has {count} periodic sends running, its limit "
                                      "(SOCKETLAB_MAX_PERIODIC_PER_ENDPOINT); wait for one to finish, or stop the endpoint.",
    "too-many-periodic": "The lab already has {count} periodic sends running, its limit "
                         "(SOCKETLAB_MAX_PERIODIC_TOTAL); wait for one to finish.",

    # -- files and downloads (lab/files.py, core.py, download.py, modes.py) -----------------------
    "file-too-large": "The file is larger than the lab's limit of {limit} bytes.",
    "file-name-too-long": "The file name is too long (more than {limit} bytes).",
    "file-name-not-utf8": "The file name is not valid UTF-8 text.",
    "file-name-empty": "The file name is empty.",
    "file-name-nul": "The file name contains a NUL byte, which no file name may contain.",
    "file-name-percent": "The file name contains percent-encoding (like %2e); send the plain name instead.",
    "file-name-path": "Only a plain file name from the lab's files folder is allowed: no folders, no '..', no absolute paths.",
    "file-name-control": "The file name contains control characters.",
    "no-such-file": "There is no file named '{file}' in the lab's files folder.",
    "file-outside-folder": "'{file}' points outside the lab's files folder, so it is not served.",
    "not-a-regular-file": "'{file}' is not a regular file in the lab's files folder.",
    "too-many-downloads": "{count} downloads are already running, the lab's limit; wait for one to finish.",
    "downloads-folder-full": "The downloads folder holds the lab's limit of {limit} bytes in running downloads; "
                             "wait for one to finish.",
    "no-such-download": "There is no download '{download}'.",
    "download-not-saved": "Download {download} is {state}: there is no saved file to fetch yet.",
    "download-file-gone": "The saved file of download {download} is no longer in the downloads folder.",
    "download-cancelled": "the download was cancelled",
    "download-file-too-large": "the file is {size} bytes, more than the lab's limit of {limit} bytes",
    "download-folder-too-full": "the file is {size} bytes, more than the {limit} bytes the downloads folder may "
                                "still take (SOCKETLAB_MAX_DOWNLOADS_BYTES)",
    "download-too-much-data": "more than the lab's limit of {limit} bytes arrived",
    "download-folder-overflow": "more than the {limit} bytes the downloads folder may still take "
                                "(SOCKETLAB_MAX_DOWNLOADS_BYTES) arrived",
    "checksum-mismatch": "the checksum does not match: expected {expected}, got {actual}",

    # -- the lab's policy (lab/policy.py, endpoint.py) --------------------------------------------
    "policy-bad-port-range": "{variable}: '{entry}' has a bad port range; write it like host:8000-8100.",
    "policy-port-range-outside": "{variable}: '{entry}' has a port range outside 0-65535.",
    "policy-bad-entry": "{variable}: '{entry}' is neither an address, a network (CIDR) nor a known host name.",
    "policy-forbids-reach": "The lab may not reach {address}: its policy allows only {allowed}. "
                            "To allow it, start the dashboard with {variable} set, e.g. {variable}={ip}/32.",
    "policy-forbids-bind": "The lab may not bind {address}: its policy allows only {allowed}. "
                           "To allow it, start the dashboard with {variable} set, e.g. {variable}={ip}/32.",
    "policy-port-range": "Lab servers on {host} may only use ports {low}-{high} ({variable}); "
                         "choose one of those, or 0 to let the lab pick.",

    # -- why the lab closed something (`close` events: code, closed_by "local") ------------------
    "stopped": "the endpoint was stopped",
    "dashboard": "closed from the dashboard",
    "idle-timeout": "idle for {limit} s, the server's idle timeout (SOCKETLAB_MAX_IDLE_SECONDS)",
    "http-timeout": "no complete HTTP request within {limit} s",
    "server-stopped": "server stopped",
    "failed-send": "a send failed",
    "backpressure": "the peer stopped reading",
    "done": "done",
    "download-done": "the download is complete",
    "transfer-failed": "the download failed",  # (not "download-failed": that is the OS error family's)

    # -- event-only problems (refuse, lost, backpressure, error events) ---------------------------
    "accept-failed": "accept() failed: {reason} ({errno}); this server no longer accepts",
    "accept-retry": "accept() failed: {reason} ({errno}); trying again in {retry_ms} ms "
                    "(clients wait in the backlog meanwhile)",
    "crash": "the lab's {what} thread stopped unexpectedly ({exception}: {text}); it no longer works: "
             "stop it and start a new one, and please report this",
    "connection-limit": "accept() returned a socket, but this server is at its limit of {limit} connections: "
                        "closed it at once",
    "impair-loss": "a datagram was lost by impairment (loss {loss}): it never reached the network",
    "delay-line-full": "a datagram was dropped: the delay line already holds {held} datagrams, the lab's limit "
                       "(SOCKETLAB_MAX_DELAY_DATAGRAMS, SOCKETLAB_MAX_DELAY_BYTES)",
    "peer-not-reading": "Connection {conn} to {address} is not reading: its buffers stayed full for {waited_s} s, "
                        "so these {total} bytes were not sent (the connection goes on).",
    "peer-stopped-reading": "Connection {conn} to {address} stopped reading: only {sent} of {total} bytes went out "
                            "within the send timeout "
                            "({timeout_s} s), so the lab closed the connection (the rest would have arrived cut in two).",

    # -- the dashboard's own refusals (webapp/) ---------------------------------------------------
    "bad-input": "The request could not be understood.",
    "no-such-route": "There is no such API route; see docs/api.md for the list.",
    "method-not-allowed": "This route does not accept that HTTP method; see docs/api.md for the list.",
    "too-large": "The request body is too large.",
    "unexpected": "Something went wrong inside the lab (a bug, logged for whoever runs it); the lab keeps running. "
                  "Please report what you did.",
    "local-only": "This dashboard has no access token set, so it only accepts requests from its own machine. "
                  "Start it with SOCKETLAB_TOKEN=<a secret> to allow remote control.",
    "unauthorized": "An access token is needed: open the link with ?token=... that the lab printed, "
                    "or send 'Authorization: Bearer <token>'.",
    "view-only": "This is a view-only link: it can watch the lab but not change it. Ask the teacher for the control link.",
    "unknown-host": "This dashboard does not answer to that host name. Open it by this machine's address or a name "
                    "listed in SOCKETLAB_HOSTS.",
    "cross-origin": "Another web page tried to make the lab act. Only the dashboard's own page, or a script that "
                    "sends no Origin header, may change the lab.",
    "too-many-websockets": "The dashboard is watched by as many viewers as it can serve right now; try again in a minute.",
    "too-many-websockets-from-address": "Too many live views are open from your address; close some tabs and reload.",
    "too-many-pending": "The dashboard has too many unfinished requests right now; try again in a moment.",
    "too-many-pending-from-address": "Too many unfinished requests came from your address; this one was closed.",
    "head-timeout": "The request did not arrive in time, so the dashboard closed the connection.",
    "head-too-large": "The request's headers are too large for the dashboard.",
    "not-json": "The API only accepts request bodies sent as JSON, with 'Content-Type: application/json'.",
    # request bodies, collected before a thread takes the request (webapp/worker.py, webapp/devserver.py)
    "body-timeout": "The request's body did not arrive in time, so the dashboard closed the connection.",
    "length-required": "The dashboard takes a request body only with a Content-Length header, "
                       "not sent in chunks (Transfer-Encoding).",

    # -- the classroom stage and its lessons (lab/stage.py, lab/lessons/registry.py) -----------------------
    "no-such-lesson": "There is no such lesson: lessons are numbered {low} to {high}, or null for a new stage "
                      "without one.",
    "no-lesson": "No lesson is on the stage, so it has no '{action}' button; start a lesson first.",
    "no-such-action": "Lesson {lesson} has no action '{action}'; its actions are: {actions}.",
    "lesson-not-ready": "Lesson {lesson} is still being set up (or failed to start); wait a moment, or start it again.",
    "lesson-no-files": "This lesson needs a file to serve, and the files folder is empty.",
    "lesson-accepted": "Connected: the server is still listening.",
    "lesson-refused": "Refused, as expected: {reason}",
    "lesson-socket-gone": "A socket this lesson made was stopped meanwhile (from its card, or by another page): start the lesson again.",
    "lesson-time-wait-client": "The client closed first, so the kernel keeps its socket {address} in TIME_WAIT "
                               "(about 60 s); the server's side is gone.",
    "lesson-time-wait-server": "The server closed first, so the kernel keeps its socket {address} in TIME_WAIT "
                               "(about 60 s); the client's side is gone.",
    "lesson-no-time-wait": "Neither side is in TIME_WAIT in the kernel's table any more.",
    "lesson-closed-unread": "The server closed with {bytes} bytes it never read, so its kernel sent RST instead of FIN.",
    "lesson-big-send": "One send() of {size} bytes; the path's MTU is {mtu} bytes, so the kernel cut it into segments "
                       "that fit (its segment size now: {mss} bytes).",
    # -- the wire: real loss and rate on the lab's link (lab/wire/link.py, spec "link") -----------------
    "unknown-link-field": "'link' has no field '{field}'; the fields it takes are: {fields}.",
    "link-needs-sandbox": "Real packet loss needs a network of the lab's own, and this lab has none: start the dashboard "
                          "with SOCKETLAB_SANDBOX=1 (or run the lab as root). The seeded UDP loss ('impair') works anywhere.",
    "link-no-nft": "Real packet loss needs the nft program (Debian's nftables package), which this machine lacks.",
    "link-no-tc": "A rate limit needs the tc program (Debian's iproute2 package), which this machine lacks.",
    "link-rate-shared-loopback": "A rate limit slows the whole loopback interface, which the dashboard and every other "
                                 "program here share: it is offered only in the sandbox (SOCKETLAB_SANDBOX=1).",
    "link-failed": "The kernel refused the lab's link rules: {reason}",
    # -- capture (lab/wire/): why this lab shows no packets, and the pcap export ---------------------
    "capture-off": "Packet capture is off for this lab: start the dashboard with SOCKETLAB_SANDBOX=1 to see "
                   "the packets beside the socket calls.",
    "capture-no-sandbox": "This machine refused the class its sandbox (a user and network namespace), so the lab "
                          "cannot capture its packets: lessons 10-14 show their socket calls without them. Where "
                          "AppArmor restricts namespaces (Ubuntu 24.04): sudo sysctl "
                          "kernel.apparmor_restrict_unprivileged_userns=0, then start the class again.",
    "capture-not-permitted": "Packets cannot be captured here: capturing needs root or a sandbox of the lab's own, "
                             "and this lab has neither. Start the dashboard with SOCKETLAB_SANDBOX=1; everything "
                             "else works without it.",
    "pcap-busy": "{n} pcap files are being written already, and this one waited {seconds} s for its turn: try again "
                 "in a moment.",
    "capture-unsupported": "Packets cannot be captured on this system (it has no Linux packet socket on the "
                           "loopback); everything else works without it.",
    "capture-stopped": "Packet capture stopped: its process ended, so no new packets are shown. Start the "
                       "dashboard again to capture again; everything else works without it.",
    "unknown-view": "'{view}' is not a view; the views are: {views}.",
    "name-not-text": "A name is text, like \"Ann\".",
    "name-empty": "The name is empty; type the name the class should see, or leave it out (names are never required).",
    "name-too-long": "That name is too long: at most {max} characters, so it fits on the projector.",
    "name-bad-character": "The name contains a character a name cannot hold ({char}: invisible, or one that changes "
                          "the text around it); type it again with letters, digits, spaces or emoji only.",
    "name-bad-address": "'{address}' is not an IP address; names belong to the address students connect from.",
    "name-too-fast": "Names change at most once a second; wait a moment and try again.",
    "too-many-names": "This stage already has {max} names, the most it keeps; a new stage starts afresh.",
    # -- names that must not pass for someone else (lab/names.py, lab/stage.py) ---------------------
    "name-invisible": "The class would see nothing: type a name with letters, digits or emoji in it.",
    "name-too-many-marks": "Too many accents on one letter (at most {max}): they would cover the names above and below.",
    "name-looks-like-address": "A name cannot look like an address or a port ({found}): the class would take it "
                               "for one. Type your name.",
    "name-reserved": "'{word}' is kept for the teacher and the lab, so nobody can pass for them; type your own name.",
    "name-taken": "Someone in this stage is already called '{name}' (or a name that looks the same); add an "
                  "initial or your family name.",
    "names-too-fast": "The class is changing names faster than the projector can show them; try again in a few "
                      "seconds.",
    # -- joining and students' own tokens (webapp/join.py, webapp/api.py check_access) ---------------
    "join-wrong-code": "That code is not right; check the code on the projector (letters and digits, no spaces).",
    "join-too-many-tries": "Too many wrong codes were typed in the last minute, some from your address; wait "
                           "{seconds} s, then type the code on the projector again (it may have changed).",
    "join-class-full": "This class already has {max} students, the most a dashboard takes; the teacher may revoke "
                       "the tokens of those who left (Join panel).",
    "join-too-many-from-address": "{max} students have joined from your address already, the most one address "
                                  "may hold; the teacher may revoke the tokens of those who left (Join panel).",
    "join-not-kept": "You could not be joined: the dashboard could not save your token ({reason}). Tell the teacher.",
    "no-such-student": "There is no student named '{name}'; the Join panel (GET /api/students) lists them.",
    "control-only": "Only the teacher's control link may do this.",
    "student-only": "A student's token may watch the lab, name its own address and post its own traced programs; "
                    "this needs the teacher's control link.",
    "trace-name-is-agent": "'{name}' is the name of one of the class's labs: trace your program under your own "
                           "name (--name).",
    "student-other-trace": "Your token may post only your own traced programs, under the name '{name}': run the "
                           "tracer with --name {name}.",
    # -- the one-file tracer (webapp/tracer_file.py) ----------------------------------------------
    "trace-file-for-students": "The one-file tracer is made for a student who joined the class, with that student's "
                               "own token in it: join with the code on the projector (/join), then download it from "
                               "your page.",
    # -- lab agents over Redis (agent/, webapp/agents.py) ---------------------------------------
    "no-such-command": "A lab does not know the command '{command}' (the dashboard and the agent may be different versions).",
    "download-too-large-to-fetch": "This download is {size} bytes, more than the {limit} bytes a dashboard fetches from a "
                                   "lab agent; copy it from the agent's downloads folder instead.",
    "agent-error": "The lab agent refused: {reason}",
    "agent-command-expired": "The lab agent took this command after its deadline had passed, so it did not run it; "
                             "try again.",
    "agent-down": "The lab agent '{agent}' is down (since {since}): its sockets cannot be reached until it is back.",
    "agent-timeout": "The lab agent '{agent}' did not answer within {seconds} s; it may be overloaded or cut off.",
    "no-such-agent": "There is no lab agent named '{agent}'; the agents up now are: {agents}.",
    "agent-needed": "Several lab agents are up ({agents}): say which one with \"agent\": \"<name>\".",
    "no-agent-up": "No lab agent is up: start one with python -m agent --redis <url> --name <name>.",
    "redis-unreachable": "The dashboard cannot reach Redis right now; it keeps trying. Check that redis-server runs.",
    # the agent process itself (agent/): its start-up settings and the commands it cannot read
    "redis-url-invalid": "'{url}' is not a Redis URL: use redis://[:password@]host:port/db or unix:///path/to.sock[?db=n].",
    "agent-name-invalid": "'{name}' is not a valid agent name: use 1 to {limit} letters, digits, '.', '_' or '-'.",
    "setting-not-a-whole-number": "{name} must be a whole number of at least 1, not '{value}'.",
    "setting-not-a-switch": "{name} must be 1 (on) or 0 (off), not '{value}'.",
    "setting-not-a-port": "{name} must be a port number from 0 to 65535, not '{value}'.",
    "agent-bad-command": "The lab agent could not read a command: its '{field}' is missing or malformed.",
    "agent-command-too-large": "This command is {size} bytes, more than the {limit} bytes a lab agent takes at once.",
    # numbers and text a lab agent's transport (orjson over Redis) cannot carry, refused at the edge
    "number-too-large": "The number {value} is out of range: the lab takes whole numbers from {low} to {high}.",
    "json-not-encodable": "The request holds text that is not valid Unicode (a lone surrogate such as \\ud800) or is "
                          "nested too deeply, so it cannot be passed on to the lab agent.",
    # Redis users (agent/acl.py) and where a Redis URL comes from
    "redis-password-in-argv": "warning: the Redis URL on the command line holds a password, and every user of this "
                              "machine can read it (ps); set SOCKETLAB_REDIS instead.",
    "redis-acl-refused": "Redis refused to change its users ({reason}): SOCKETLAB_REDIS must be an administrator's URL "
                         "(the default user, or one allowed +acl), of Redis 6 or later.",
    # -- a student's own program under the tracer (agent/trace/): hints for the classic mistakes ---
    "recv-on-listening-socket": "{call}() on a listening socket: a listening socket only accepts connections. "
                                "Call accept() and receive on the socket it returns.",
    "send-str": "{call}() was given a str, but sockets carry bytes: encode it first, e.g. "
                "sock.sendall(text.encode()), or write a bytes literal like b\"hello\".",
    "socket-never-closed": "Socket {socket} was never closed: call close() (or use `with socket.socket() as s:`) "
                           "so the peer sees the end of the stream and the port is freed.",
    "traced-call-failed": "{call}() raised {exception}.",
    "recv-missed-pieces": "Socket {socket} was closed with {unread} received bytes never read: one recv() returns "
                          "what has arrived so far, and TCP may deliver a message in several pieces. Call recv() "
                          "in a loop until the whole message is there (or the peer closes).",
    # the tracer's delivery over HTTP (python -m agent.trace --dashboard) and the route it posts to
    "dashboard-url-invalid": "'{url}' is not a dashboard address: use http://host:port, as the dashboard printed it.",
    "trace-batch-invalid": "A traced program's batch must be a JSON object with \"boot\" (a whole number) and \"events\" (a list of events).",
    "trace-batch-too-large": "A traced program's batch holds at most {limit} events; this one has {count}.",
    "bad-focus": "A focus is null or a list of at most {max} lane names like \"e1/c2\", each at most {chars} characters.",
    # -- exercises: where the lab may connect to a student's own server (lab/exercises/peer.py) ----
    "exercise-port-not-yours": "The lab connects only to a port your own traced program is listening on, and port "
                               "{port} is not one of them (yours: {ports}).",
    "exercise-listener-unreachable": "Your program listens on {address} only, which the lab cannot reach at {host}: "
                                     "bind to '' (every address) so the lab can connect.",
    # -- the class's exercise on the stage (lab/stage.py) -----------------------------------------
    "stage-lesson-and-exercise": "A stage runs a lesson or an exercise, not both: give \"lesson\" (a number) or "
                                 "\"exercise\" (a key such as \"echo-server\"), not the two.",
    # -- exercises: the lab's own servers for a student's client (lab/exercises/serving.py) ----
    "generated-file-invalid": "An exercise's file is named exercise-<name>.bin and holds 1 to {limit} bytes.",
}


def to_js() -> str:
    """static/i18n/errors-en.js: this table as the page's `err.<code>` entries."""
    lines = ["// Generated from lab/messages.py by `python -m lab.messages > static/i18n/errors-en.js`: do not edit;",
             "// tests/lab/test_messages.py fails when it falls out of date.",
             "export default {"]
    lines += [f"  {json.dumps('err.' + code)}: {json.dumps(template, ensure_ascii=False)}," for code, template in MESSAGES.items()]
    lines.append("};")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(to_js(), end="")
