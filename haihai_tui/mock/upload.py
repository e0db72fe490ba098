"""Reading the two-part import form from the wire, streaming, with aiohttp's multipart reader.

Structural problems give 400 (``MALFORMED_MULTIPART``, ``MISSING_PART``, ``INVALID_JSON``), an
oversize CSV part 413 ``FILE_TOO_LARGE`` (found while streaming, not after buffering the body), and
bytes that are not valid in the declared charset 415 ``UNSUPPORTED_ENCODING``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiohttp import BodyPartReader, web

from haihai_tui.mock.errors import ApiError

CHUNK = 64 * 1024
MAX_JSON_BYTES = 64 * 1024
SJIS_NAMES = {
    "shift_jis",
    "shift-jis",
    "sjis",
    "x-sjis",
    "s-jis",
    "windows-31j",
    "cp932",
    "ms932",
    "ms_kanji",
    "csshiftjis",
    "cswindows31j",
}
UTF8_NAMES = {"utf-8", "utf8"}


@dataclass
class Upload:
    settings: dict[str, Any]
    csv_bytes: bytes
    csv_content_type: str
    csv_filename: str | None
    encoding: str = ""  # "cp932" | "utf-8"
    text: str = ""


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """``'text/csv; charset="Shift_JIS"'`` -> ``('text/csv', {'charset': 'Shift_JIS'})``.

    Parsed by the standard library's e-mail header parser, which honours quoting (a ``;`` inside a quoted
    boundary does not split it).
    """
    msg = Message()
    msg["Content-Type"] = value
    params = {k.lower(): v for k, v in msg.get_params(failobj=[], unquote=True)[1:]}
    return msg.get_content_type() if value.strip() else "", params


async def _read_part(part: BodyPartReader, limit: int, on_over: ApiError) -> bytes:
    buf = bytearray()
    while True:
        chunk = await part.read_chunk(CHUNK)
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise on_over


async def read_upload(
    request: web.Request, json_name: str, csv_name: str, max_bytes: int, record: dict[str, Any]
) -> Upload:
    """Stream the form; fill ``record`` (the /_mock/requests entry) with what arrived."""
    ctype, params = parse_content_type(request.headers.get("Content-Type", ""))
    if ctype != "multipart/form-data" or not params.get("boundary"):
        raise ApiError(
            400,
            "MALFORMED_MULTIPART",
            f"Content-Type must be multipart/form-data with a boundary, got {ctype or 'none'!r}",
        )
    raw_json: bytes | None = None
    json_ctype = ""
    csv: tuple[bytes, str, str | None] | None = None
    too_big = ApiError(
        413,
        "FILE_TOO_LARGE",
        f"{csv_name} is larger than {max_bytes:,} bytes; split the list into smaller runs",
        csv_name,
    )
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "MALFORMED_MULTIPART", "nested multipart parts are not accepted")
            name = part.name
            if name in (json_name, csv_name) and (raw_json if name == json_name else csv) is not None:
                raise ApiError(400, "MALFORMED_MULTIPART", f"part {name!r} appears more than once", name)
            if name == json_name:
                json_ctype = part.headers.get("Content-Type", "")
                raw_json = await _read_part(
                    part,
                    MAX_JSON_BYTES,
                    ApiError(400, "INVALID_JSON", f"{json_name} is larger than {MAX_JSON_BYTES:,} bytes", json_name),
                )
            elif name == csv_name:
                ctype_csv = part.headers.get("Content-Type", "")
                record["csv"] = {"content_type": ctype_csv, "filename": part.filename, "size": None}
                data = await _read_part(part, max_bytes, too_big)
                csv = (data, ctype_csv, part.filename)
            else:
                record.setdefault("other_parts", []).append(name)
                await part.release()
    except ApiError:
        raise
    except (ValueError, AssertionError, RuntimeError, LookupError, TypeError) as exc:
        raise ApiError(400, "MALFORMED_MULTIPART", f"the multipart body cannot be read: {exc}") from None

    if csv is not None:
        record["csv"] = csv_record(*csv)
    if raw_json is None:
        raise ApiError(400, "MISSING_PART", f"the form has no part named {json_name!r} (the JSON settings)", json_name)
    settings = parse_settings(raw_json, json_ctype, json_name, record)
    if csv is None:
        raise ApiError(400, "MISSING_PART", f"the form has no part named {csv_name!r} (the CSV file)", csv_name)
    return Upload(settings, csv[0], csv[1], csv[2])


def csv_record(data: bytes, ctype: str, filename: str | None) -> dict[str, Any]:
    """The CSV part as /_mock/requests shows it: raw bytes (base64) and the text when it decodes."""
    _, params = parse_content_type(ctype)
    text = None
    for enc in (codec_for(params.get("charset"), multilang=True), "utf-8", "cp932"):
        try:
            text = data.decode(enc or "cp932")
            break
        except (UnicodeDecodeError, LookupError):
            continue
    return {
        "content_type": ctype,
        "filename": filename,
        "size": len(data),
        "raw_b64": base64.b64encode(data).decode("ascii"),
        "text": text,
    }


def parse_settings(raw: bytes, ctype: str, name: str, record: dict[str, Any]) -> dict[str, Any]:
    charset = parse_content_type(ctype)[1].get("charset", "utf-8")
    try:
        text = raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise ApiError(400, "INVALID_JSON", f"{name} is not valid {charset} text; send UTF-8 JSON", name) from None
    record["settings_text"] = text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "INVALID_JSON", f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", name
        ) from None
    record["settings"] = value
    if not isinstance(value, dict):
        raise ApiError(400, "INVALID_JSON", f"{name} must be a JSON object of KEY: VALUE pairs", name)
    return value


def codec_for(charset: str | None, multilang: bool) -> str | None:
    """Python codec for a declared charset; None when the account cannot take it."""
    if charset is None:
        return "cp932"  # HaiHai's default is SJIS (Windows-31J)
    low = charset.strip().lower()
    if low in SJIS_NAMES:
        return "cp932"
    if low in UTF8_NAMES:
        return "utf-8-sig" if multilang else None
    return None


def decode_csv(upload: Upload, csv_name: str, multilang: bool) -> None:
    """Decode the CSV part per its declared charset (415 on anything else); sets ``upload.text``."""
    charset = parse_content_type(upload.csv_content_type)[1].get("charset")
    codec = codec_for(charset, multilang)
    if codec is None:
        if charset and charset.strip().lower() in UTF8_NAMES:
            msg = "UTF-8 needs HaiHai's multi-language option on this account; send Windows-31J (cp932)"
        else:
            msg = f"charset {charset!r} is not supported; send Shift_JIS (Windows-31J)"
        raise ApiError(415, "UNSUPPORTED_ENCODING", msg, csv_name)
    try:
        upload.text = upload.csv_bytes.decode(codec)
    except UnicodeDecodeError as exc:
        line = upload.csv_bytes.count(b"\n", 0, exc.start) + 1
        shown = "Shift_JIS (Windows-31J)" if codec == "cp932" else "UTF-8"
        raise ApiError(
            415,
            "UNSUPPORTED_ENCODING",
            f"{csv_name} is not valid {shown}: bad bytes {upload.csv_bytes[exc.start : exc.end]!r} "
            f"at line {line} (byte offset {exc.start})",
            csv_name,
        ) from None
    upload.encoding = "cp932" if codec == "cp932" else "utf-8"
