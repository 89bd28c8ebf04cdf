"""http.server (on socketserver) in a thread, and urllib as its client: no socket call of its own."""
import http.server
import threading
import urllib.request


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from http.server\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # (its log has the time of day: not comparable run to run)
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
thread = threading.Thread(target=server.serve_forever, name="http-server")
thread.start()
with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/") as answer:
    print(answer.status, answer.read().decode(), end="")
server.shutdown()
server.server_close()
thread.join()
