"""The KEY/VALUE grid (リクエストパラメータ) of a HaiHai import: its rules and what a run will do, in words.

The rules are those of docs/haihai-api.md ("import_settings" and its dependency rules); the settings check
and the run share them. Values are strings as the grid holds them; a blank optional value means HaiHai's
default.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from haihai_tui.core.settings.model import IMPORT_TYPES, KNOWN_PARAMS, OVERWRITE_TYPE

_TARGET = "gid (配信グループID, delivery group) or spid (ステップメールプランID, step-mail plan)"
_DEFAULTS = {
    "is_overwrite": "0",
    "overwrite_type": "1",
    "gid": "no delivery group",
    "spid": "no step-mail plan",
    "report_option": "1",
}  # optional keys and what leaving them out means
_TYPES = ", ".join(f"{k} {en} ({ja})" for k, (ja, en) in IMPORT_TYPES.items())


@dataclass(frozen=True)
class ParamIssue:
    key: str | None  # the grid key the issue is about; None for the grid as a whole
    severity: Literal["error", "warning"]
    message: str
    code: str = ""  # the HaiHai error code the server would answer with, when there is one


def _values(params: Mapping[str, object]) -> dict[str, str]:
    """Every value as a stripped string (issues about types and spaces are reported separately)."""
    return {k: ("" if v is None else str(v)).strip() for k, v in params.items()}


def param_findings(params: Mapping[str, object]) -> list[ParamIssue]:
    """Every problem of the grid, errors and warnings, in a stable order."""
    out: list[ParamIssue] = []

    def err(key, msg, code="INVALID_PARAMETER"):
        out.append(ParamIssue(key, "error", msg, code))

    for key, raw in params.items():
        if not key.strip():
            err(None, "a parameter has a blank KEY; remove the row or fill in the key")
            continue
        if key not in KNOWN_PARAMS:
            if key.strip() in KNOWN_PARAMS:
                err(key, f"the key {key!r} has spaces around it; write {key.strip()!r}")
            else:
                hint = difflib.get_close_matches(key.lower(), KNOWN_PARAMS, n=1, cutoff=0.6)
                out.append(
                    ParamIssue(
                        key,
                        "warning",
                        f"unknown parameter {key!r} is sent as it is but HaiHai does not "
                        f"know it"
                        + (f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(KNOWN_PARAMS)}"),
                    )
                )
        if not isinstance(raw, str):
            err(key, f'{key} must be a string: write "{raw}" in quotes')
        elif not raw.strip():
            if key in _DEFAULTS:
                err(
                    key,
                    f"{key} is blank, and a blank value is sent as it is (an empty gid could even turn a "
                    f"group delete into a database delete): remove the row to use the default "
                    f"({_DEFAULTS[key]}) or give a value",
                )
        elif raw != raw.strip():
            err(
                key,
                f"{key} = {raw!r} has spaces around the value; HaiHai compares values exactly: write {raw.strip()!r}",
            )
    v = _values(params)
    it, io, ot = v.get("import_type", ""), v.get("is_overwrite", ""), v.get("overwrite_type", "")
    gid, spid = v.get("gid", ""), v.get("spid", "")

    if not v.get("login_id"):
        err(
            "login_id",
            "login_id is required: the HaiHai login ID the import runs as (it also decides who "
            "gets HaiHai's own report mail)",
        )
    if not it:
        err("import_type", f"import_type is required: {_TYPES}")
    elif it == "4":
        err("import_type", f"import_type 4: there is no 4 (HaiHai numbers them 0, 1, 2, 3, 5); use one of {_TYPES}")
    elif it not in IMPORT_TYPES:
        err("import_type", f"import_type {it!r} is not valid; use one of {_TYPES}")

    if io and io not in ("0", "1"):
        err(
            "is_overwrite",
            f"is_overwrite {io!r} is not valid: 0 keeps existing customers (they count as その他), "
            f"1 overwrites them; blank means 0",
        )
    elif io and it in IMPORT_TYPES and it not in ("0", "5"):
        err(
            "is_overwrite",
            f"is_overwrite only applies to import_type 0 (register) and 5 (make deliverable "
            f"again), not to {it} ({IMPORT_TYPES[it][1]}); remove it",
            "PARAM_NOT_APPLICABLE",
        )
    if ot and ot not in OVERWRITE_TYPE:
        err(
            "overwrite_type",
            f"overwrite_type {ot!r} is not valid: 1 keeps HaiHai's value where a cell is blank, "
            f"2 blanks it; blank means 1",
        )
    elif ot and (io == "0" or "is_overwrite" not in params):  # (a bad is_overwrite is reported above)
        err(
            "overwrite_type",
            "overwrite_type only applies when is_overwrite = 1; set is_overwrite to 1 or remove overwrite_type",
            "PARAM_NOT_APPLICABLE",
        )

    for key, what in (
        ("gid", "delivery group ID (配信グループID)"),
        ("spid", "step-mail plan ID (ステップメールプランID)"),
    ):
        val = v.get(key, "")
        if val and not (val.isascii() and val.isdigit()):
            wide = "; full-width digits are not accepted" if val.isdigit() else ""
            err(key, f"{key} {val!r} must be the {what} as shown in HaiHai, in ASCII digits only{wide}")
    if gid and spid:
        err(
            "gid",
            "gid and spid are both set; an import works on one delivery group or one step-mail plan: clear one of them",
            "TARGET_CONFLICT",
        )
    elif not gid and not spid and it in ("2", "3", "5"):
        err("import_type", f"import_type {it} ({IMPORT_TYPES[it][1]}) needs {_TARGET}", "TARGET_REQUIRED")
    elif not gid and not spid and it == "1":
        out.append(
            ParamIssue("import_type", "warning", f"{is_dangerous(params)}; every run asks for explicit confirmation")
        )

    ro = v.get("report_option", "")
    if ro and ro not in ("0", "1", "2"):
        err(
            "report_option",
            f"report_option {ro!r} is not valid: 0 no HaiHai report mail, 1 always, 2 only on error; blank means 1",
        )
    return out


def is_dangerous(params: Mapping[str, object]) -> str | None:
    """The reason when the run deletes customers from the whole HaiHai database (import_type 1, no gid/spid)."""
    v = _values(params)
    if v.get("import_type") != "1" or v.get("gid") or v.get("spid"):
        return None
    return (
        "import_type 1 (削除 delete) without gid or spid deletes the customers from the whole HaiHai customer "
        "database, not just from one delivery group: their history (配信停止 / 配信禁止 flags) is lost, and "
        "HaiHai's terms forbid routine delete-and-re-register cycles"
    )


def _customers(n: int) -> str:
    return f"{n:,} customer" + ("" if n == 1 else "s")


def describe_run(params: Mapping[str, object], rows: int, requests: int = 1) -> str:
    """What the run will do, in plain words, for the confirmation screen and the history."""
    v = _values(params)
    it, gid, spid = v.get("import_type", ""), v.get("gid", ""), v.get("spid", "")
    n = _customers(rows)
    target = f"delivery group {gid}" if gid else f"step-mail plan {spid}" if spid else ""
    if gid and spid:
        target = f"delivery group {gid} and step-mail plan {spid}"
    if it == "0":
        what = f"register {n} into {target or 'the HaiHai customer database'}"
    elif it == "1":
        what = (
            f"remove {n} from {target}"
            if target
            else f"DELETE {n} from the whole HaiHai customer database (their history is lost)"
        )
    elif it in ("2", "3", "5"):
        verb = {"2": f"stop delivery to {n}", "3": f"prohibit delivery to {n}", "5": f"make {n} deliverable again"}[it]
        what = f"{verb} in {target}" if target else f"{verb} (no gid or spid: HaiHai will refuse this)"
    else:
        what = f"run import_type {it!r} (not valid) on {n}"
    if requests > 1:
        what += f" in {requests:,} requests"
    parts = [what]
    if it in ("0", "5"):
        if v.get("is_overwrite") == "1":
            ot = v.get("overwrite_type") or "1"
            parts.append("overwrite existing customers, " + OVERWRITE_TYPE.get(ot, ("", f"overwrite_type {ot!r}"))[1])
        else:
            parts.append("keep existing customers unchanged (they count as その他)")
    report = {
        "0": "no HaiHai report mail",
        "1": "HaiHai report mail always",
        "2": "HaiHai report mail only on error",
    }.get(v.get("report_option") or "1", f"report_option {v.get('report_option')!r}")
    return ", ".join(parts) + "; " + report
