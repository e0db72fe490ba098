"""422 validation of ``import_settings`` and of the CSV's shape, and the 413 row limit.

Rules (docs/haihai-api.md, "import_settings" and "The answer", with the mock's ASSUMED strictness written down):

- values are JSON strings or integers -> else ``INVALID_PARAMETER``; an empty value counts as the key
  being absent (as the client's pre-flight reads the grid: "blank means the default"); ``login_id`` and
  ``import_type`` are required; an unknown key is ignored and named in the success body's ``warnings``;
- ``login_id`` must be one of the account's -> ``UNKNOWN_LOGIN_ID``;
- ``gid`` and ``spid`` together -> ``TARGET_CONFLICT``; import_type 2/3/5 without either ->
  ``TARGET_REQUIRED``;
- ``is_overwrite`` = 1 with import_type 1/2/3, or ``overwrite_type`` = 2 unless ``is_overwrite`` = 1 ->
  ``PARAM_NOT_APPLICABLE`` (the default values are harmless anywhere);
- unknown ``gid`` / ``spid`` -> ``UNKNOWN_GROUP`` / ``UNKNOWN_PLAN``;
- CSV: no data rows -> ``EMPTY_FILE``; no メールアドレス column -> ``EMAIL_COLUMN_MISSING``; a label that
  is not a field of the account, blank or repeated -> ``UNKNOWN_COLUMN``; more rows than allowed ->
  413 ``TOO_MANY_ROWS``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from haihai_tui.mock.config import EMAIL_LABEL, MockAccount
from haihai_tui.mock.errors import ApiError

KEYS = ("login_id", "import_type", "is_overwrite", "overwrite_type", "gid", "spid", "report_option")
CHOICES = {
    "import_type": ("0", "1", "2", "3", "5"),
    "is_overwrite": ("0", "1"),
    "overwrite_type": ("1", "2"),
    "report_option": ("0", "1", "2"),
}
HINTS = {
    "import_type": "0 register, 1 delete, 2 stop delivery, 3 prohibit delivery, 5 make deliverable (there is no 4)",
    "is_overwrite": "0 keep existing customers, 1 overwrite them",
    "overwrite_type": "1 keep HaiHai's value where a cell is blank, 2 blank it",
    "report_option": "0 no report mail, 1 always, 2 only on error",
}


def _bad(field: str, message: str) -> ApiError:
    return ApiError(422, "INVALID_PARAMETER", message, field)


def validate_settings(raw: dict[str, Any], acc: MockAccount, warnings: list[str] | None = None) -> dict[str, str]:
    """Check ``import_settings`` against the account; return the known, non-empty keys as strings.

    Unknown keys are left out and described in ``warnings`` (when a list is given).
    """
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _bad(key, f"{key} must be a string or an integer, got {type(value).__name__}")
        if key not in KEYS:
            if warnings is not None:
                warnings.append(f"unknown key {key!r} in import_settings was ignored; known keys: {', '.join(KEYS)}")
            continue
        text = str(value)
        if text != "":
            out[key] = text
    for key in ("login_id", "import_type"):
        if key not in out:
            raise _bad(key, f"{key} is required in import_settings")
    for key, allowed in CHOICES.items():
        if key in out and out[key] not in allowed:
            raise _bad(key, f"{key} = {out[key]!r} is not valid; use {HINTS[key]}")
    for key in ("gid", "spid"):
        if key in out and not (out[key].isascii() and out[key].isdigit()):
            raise _bad(key, f"{key} = {out[key]!r} must be a number (the ID shown in HaiHai)")

    if out["login_id"] not in acc.login_ids:
        raise ApiError(
            422, "UNKNOWN_LOGIN_ID", f"login_id {out['login_id']!r} is not a login of this account", "login_id"
        )
    itype = out["import_type"]
    if "gid" in out and "spid" in out:
        raise ApiError(422, "TARGET_CONFLICT", "give gid (delivery group) or spid (step-mail plan), not both", "spid")
    if itype in ("2", "3", "5") and "gid" not in out and "spid" not in out:
        raise ApiError(
            422, "TARGET_REQUIRED", f"import_type {itype} needs gid (delivery group) or spid (step-mail plan)", "gid"
        )
    if out.get("is_overwrite") == "1" and itype in ("1", "2", "3"):
        raise ApiError(
            422,
            "PARAM_NOT_APPLICABLE",
            f"is_overwrite = 1 applies only to import_type 0 and 5, not {itype}; set 0 or remove it",
            "is_overwrite",
        )
    if out.get("overwrite_type") == "2" and out.get("is_overwrite") != "1":
        raise ApiError(
            422,
            "PARAM_NOT_APPLICABLE",
            "overwrite_type = 2 applies only when is_overwrite = 1; set 1 or remove it",
            "overwrite_type",
        )
    if "gid" in out and out["gid"] not in acc.groups:
        raise ApiError(422, "UNKNOWN_GROUP", f"delivery group gid {out['gid']} does not exist in this account", "gid")
    if "spid" in out and out["spid"] not in acc.plans:
        raise ApiError(422, "UNKNOWN_PLAN", f"step-mail plan spid {out['spid']} does not exist in this account", "spid")
    return out


def parse_csv(text: str, acc: MockAccount, csv_name: str, max_rows: int) -> tuple[list[str], list[list[str]]]:
    """Header and data rows (blank lines skipped), after the shape checks."""
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    except csv.Error as exc:
        raise _bad(csv_name, f"{csv_name} is not readable CSV: {exc}") from None
    if not rows:
        raise ApiError(
            422, "EMPTY_FILE", f"{csv_name} is empty; it needs a header row and at least one customer", csv_name
        )
    header, data = rows[0], rows[1:]
    if EMAIL_LABEL not in header:
        raise ApiError(
            422,
            "EMAIL_COLUMN_MISSING",
            f"the header row has no {EMAIL_LABEL} column (the customer key); add it",
            EMAIL_LABEL,
        )
    seen: set[str] = set()
    for i, label in enumerate(header, 1):
        if label == "":
            raise ApiError(422, "UNKNOWN_COLUMN", f"column {i} of the header row has no label", csv_name)
        if label in seen:
            raise ApiError(422, "UNKNOWN_COLUMN", f"column {label!r} appears twice in the header row", label)
        seen.add(label)
        if label not in acc.fields:
            raise ApiError(
                422,
                "UNKNOWN_COLUMN",
                f"column {label!r} (column {i}) is not a field of this HaiHai account; "
                f"use the field labels exactly as HaiHai shows them",
                label,
            )
    if not data:
        raise ApiError(422, "EMPTY_FILE", f"{csv_name} has a header row but no customers", csv_name)
    if len(data) > max_rows:
        raise ApiError(
            413,
            "TOO_MANY_ROWS",
            f"{csv_name} has {len(data):,} rows; at most {max_rows:,} per request — split the run",
            csv_name,
        )
    return header, data
