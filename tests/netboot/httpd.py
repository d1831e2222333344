#!/usr/bin/env python3
"""A small HTTP/1.1 file server for the netboot tests, with faults chosen per run.

    httpd.py serve DIR --port-file FILE [--log FILE] [--rate BYTES_PER_S]
                       [--cut-after PATH:BYTES] [--stop-after PATH:BYTES [--stop-mode close|hang]]
    httpd.py relay HOST:PORT

serve: serves the files under DIR (no listings, nothing outside DIR) on 127.0.0.1, on a port
the kernel picks; the port is written to FILE (atomically: the file appears complete or not at
all) once the socket listens, so a test never races another for a port. GET and HEAD, with
Content-Length, persistent connections, and one byte range per request (bytes=N-, bytes=N-M,
bytes=-N: 206 with Content-Range; 416 with "Content-Range: bytes */SIZE" when N is at or past
the end). Every request is one line in the log: time, method, path, Range, status, bytes of body
sent, and what the fault did.

Faults (PATH is the URL path without its leading slash, e.g. gapbox/system.sfs; BYTES an offset
in that file, with an optional K or M suffix):
  --cut-after PATH:BYTES   the first response that would send PATH's byte at offset BYTES sends
                           everything before it and then closes the connection; from then on
                           the file is served normally: a dropped connection to resume from.
  --stop-after PATH:BYTES  the same cut, after which the server answers nothing: every further
                           request is dropped (the connection closed, no status line), or with
                           --stop-mode hang, held open and never answered. The listening socket
                           stays bound, so no other program takes the port: the server that
                           never comes back.
  --rate BYTES_PER_S       no response body goes faster than this (per connection), so that a
                           cut lands mid-transfer whatever the host's speed.

relay: copies stdin to a TCP connection to HOST:PORT and the answer to stdout; it is what
QEMU's guestfwd=tcp:ADDR:PORT-cmd:... runs for each connection a guest opens, since a guestfwd
to a chardev is one connection for the life of the VM.
"""

import argparse
import http.server
import os
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

CHUNK = 64 * 1024


def parse_size(text):
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale > 1 else text) * scale


def parse_fault(text):
    path, sep, size = text.rpartition(":")
    if not sep or not path:
        raise argparse.ArgumentTypeError("%r: expected PATH:BYTES" % text)
    try:
        return path.lstrip("/"), parse_size(size)
    except ValueError:
        raise argparse.ArgumentTypeError("%r: BYTES must be a number (K or M suffix allowed)" % text)


def parse_range(header, size):
    """(start, end) inclusive for a single satisfiable range, "416" for an unsatisfiable one,
    None to serve the whole file (no Range, or one this server does not honour: RFC 9110 lets a
    server ignore it)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, dash, last = header[len("bytes="):].strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "416"
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "416"
    if end < start:
        return None
    return start, min(end, size - 1)


class State:
    """What the faults have done so far; shared by the connection threads."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.cut = args.cut_after
        self.stop = args.stop_after
        self.stop_mode = args.stop_mode
        self.cut_done = False
        self.stopped = False
        self.rate = args.rate
        self.log = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def fault_at(self, path, start, end):
        """The offset in [start, end] at which this response must be cut, and why, or None."""
        with self.lock:
            for fault, name in ((self.cut, "cut"), (self.stop, "stop")):
                if not fault or fault[0] != path or (name == "cut" and self.cut_done):
                    continue
                if start <= fault[1] <= end:
                    return fault[1], name
        return None

    def record(self, line):
        with self.lock:
            self.log.write("%s %s\n" % (time.strftime("%H:%M:%S"), line))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gapbox-test-httpd"

    def version_string(self):
        return self.server_version

    def log_message(self, *args):
        pass  # one line per request, written by record(), not the base class's

    def handle(self):
        state = self.server.state
        if state.stopped:
            self.drop("connection after the stop")
            return
        super().handle()

    def drop(self, why):
        state = self.server.state
        state.record("- - - - - %s: %s" % (state.stop_mode == "hang" and "held" or "dropped", why))
        if state.stop_mode == "hang":
            # Held open, never answered, until the server goes away.
            while True:
                time.sleep(3600)
        self.close_connection = True

    def do_HEAD(self):
        self.serve(body=False)

    def do_GET(self):
        self.serve(body=True)

    def serve(self, body):
        state = self.server.state
        if state.stopped:
            self.drop("%s %s after the stop" % (self.command, self.path))
            return
        rng = self.headers.get("Range")
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        root = self.server.root
        full = os.path.realpath(os.path.join(root, path))
        if (full != root and not full.startswith(root + os.sep)) or not os.path.isfile(full):
            self.answer(404, path, rng, b"not found: /%s\n" % path.encode(), body)
            return
        with open(full, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            r = parse_range(rng, size)
            if r == "416":
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                state.record("%s /%s range=%s 416 sent=0" % (self.command, path, rng))
                return
            start, end = r if r else (0, size - 1)
            self.send_response(206 if r else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            if r:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            status = 206 if r else 200
            if not body or size == 0:
                state.record("%s /%s range=%s %d sent=0" % (self.command, path, rng or "-", status))
                return
            fault = state.fault_at(path, start, end)
            stop_at = fault[0] if fault else end + 1
            f.seek(start)
            sent, began = 0, time.monotonic()
            try:
                while start + sent < stop_at:
                    data = f.read(min(CHUNK, stop_at - start - sent))
                    if not data:
                        break
                    self.wfile.write(data)
                    sent += len(data)
                    if state.rate:
                        ahead = sent / state.rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
                self.wfile.flush()
            except OSError as e:
                state.record("%s /%s range=%s %d sent=%d client went away: %s" % (
                    self.command, path, rng or "-", status, sent, e))
                self.close_connection = True
                return
            note = ""
            if fault:
                with state.lock:
                    if fault[1] == "cut":
                        state.cut_done = True
                    else:
                        state.stopped = True
                note = " %s at byte %d: connection closed%s" % (
                    fault[1], fault[0], fault[1] == "stop" and ", the server answers no more" or "")
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            state.record("%s /%s range=%s %d sent=%d%s" % (self.command, path, rng or "-", status, sent, note))

    def answer(self, status, path, rng, text, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if body:
            self.wfile.write(text)
        self.server.state.record("%s /%s range=%s %d sent=%d" % (
            self.command, path, rng or "-", status, len(text) if body else 0))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer (a fetch stopped at its size cap) is not an error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def serve(args):
    root = os.path.realpath(args.dir)
    if not os.path.isdir(root):
        sys.exit("httpd.py: %s is not a folder" % args.dir)
    server = Server(("127.0.0.1", 0), Handler)
    server.root = root
    server.state = State(args)
    port = server.server_address[1]
    tmp = "%s.%d.tmp" % (args.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    server.state.record("serving %s on 127.0.0.1:%d (cut=%s stop=%s/%s rate=%s)" % (
        root, port, args.cut_after, args.stop_after, args.stop_mode, args.rate))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


def relay(args):
    host, _, port = args.target.rpartition(":")
    try:
        sock = socket.create_connection((host, int(port)), timeout=10)
    except OSError as e:
        sys.stderr.write("httpd.py relay: cannot connect to %s: %s\n" % (args.target, e))
        return 1
    sock.settimeout(None)
    readers = [0, sock]
    while readers:
        for r in select.select(readers, [], [])[0]:
            if r is sock:
                data = sock.recv(CHUNK)
                if not data:
                    return 0  # the server is done: exiting closes the guest's side
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]
            else:
                data = os.read(0, CHUNK)
                if data:
                    sock.sendall(data)
                else:
                    sock.shutdown(socket.SHUT_WR)  # the guest is done asking; read the rest
                    readers.remove(0)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("dir")
    s.add_argument("--port-file", required=True)
    s.add_argument("--log")
    s.add_argument("--rate", type=parse_size, default=0)
    s.add_argument("--cut-after", type=parse_fault)
    s.add_argument("--stop-after", type=parse_fault)
    s.add_argument("--stop-mode", choices=("close", "hang"), default="close")
    r = sub.add_parser("relay")
    r.add_argument("target")
    args = p.parse_args()
    return serve(args) if args.cmd == "serve" else relay(args)


if __name__ == "__main__":
    sys.exit(main())
