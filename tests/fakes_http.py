"""A client connection of the fast HTTP server core, faked for handler unit tests."""

from __future__ import annotations

from matinee.platform.httpserver import Request


class RecordingConnection:
    """What the server core gives a request: collects every byte the handler writes."""

    def __init__(self, client: str = "203.0.113.9") -> None:
        self.client = client
        self.closing = False
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data

    def response_done(self, request: Request) -> None: ...

    def abort(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def body_buffered(self, size: int) -> None: ...

    def body_consumed(self, size: int) -> None: ...

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """Return status, lower-cased headers and body of what was written."""
        head, _, body = self.written.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
        return int(lines[0].split()[1]), headers, body
