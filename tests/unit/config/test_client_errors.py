"""What the server answers to a request gunicorn cannot read (kaitong_base/client_errors.py)."""

import json

import pytest
from gunicorn.http import errors

from kaitong_base.client_errors import client_error_answer


def body(message: str) -> dict:
    return {"success": False, "message": message}


class TestClientErrorAnswer:
    @pytest.mark.parametrize(
        ("exc", "status_line", "message"),
        [
            (
                errors.LimitRequestLine(9000, 8190),
                "HTTP/1.1 414 URI Too Long",
                "request line too long (over 8190 bytes)",
            ),
            (
                errors.LimitRequestHeaders("too many"),
                "HTTP/1.1 431 Request Header Fields Too Large",
                "request headers too large",
            ),
            (errors.InvalidRequestLine("GET /?token=abc x"), "HTTP/1.1 400 Bad Request", "malformed request"),
            (errors.InvalidHTTPVersion("HTTP/9"), "HTTP/1.1 400 Bad Request", "malformed request"),
            (errors.InvalidHeaderName("x y"), "HTTP/1.1 400 Bad Request", "malformed request"),
        ],
    )
    def test_unreadable_requests_get_the_applications_json(self, exc, status_line, message):
        answer = client_error_answer(exc, body=body, limit=8190)
        assert answer is not None
        head, _, payload = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0] == status_line
        assert "Content-Type: application/json" in lines and "Connection: close" in lines
        assert f"Content-Length: {len(payload)}" in lines
        assert json.loads(payload) == body(message)
        assert b"token" not in answer  # the request line is never repeated

    @pytest.mark.parametrize(
        "exc",
        [errors.InvalidResponseHeaderName("x y"), errors.UnsupportedTransferCoding("gzip"), ValueError("app bug")],
    )
    def test_everything_else_stays_gunicorns_to_answer(self, exc):
        assert client_error_answer(exc, body=body, limit=8190) is None
