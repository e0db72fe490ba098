"""The error shape of the HaiHai import API: ``{"result":"error","error":{"code","message","field"}}``."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

dumps = functools.partial(json.dumps, ensure_ascii=False)


class ApiError(Exception):
    """Raised anywhere while handling a request; turned into the error body by the route."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"result": "error", "error": {"code": self.code, "message": self.message, "field": self.field}}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=self.headers, dumps=dumps)


def json_ok(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


#: the code a fault-injected status answers with, unless the control names one
DEFAULT_CODE_FOR_STATUS = {
    400: "MALFORMED_MULTIPART",
    401: "INVALID_TOKEN",
    403: "IP_NOT_ALLOWED",
    404: "NOT_FOUND",
    413: "FILE_TOO_LARGE",
    415: "UNSUPPORTED_ENCODING",
    422: "INVALID_PARAMETER",
    429: "DAILY_LIMIT_EXCEEDED",
}


def code_for_status(status: int) -> str:
    return DEFAULT_CODE_FOR_STATUS.get(status, "INTERNAL_ERROR")
