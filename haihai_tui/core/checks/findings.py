"""The findings side of a CSV build: the Finding type, and the collector that counts and caps the
findings and runs the checks that produce most of them (header labels, e-mail addresses, duplicate
addresses, characters the encoding lacks or changes, control characters, formula-like cells; the rules of the
last three are in cells.py). The writing side (files, limits, splitting) is csvbuild.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Literal

from haihai_tui.core.addresses import EMAIL_FAST, EMAIL_MAX, email_problem
from haihai_tui.core.checks.cells import CONTROL_CHARS, CONTROL_RE, control_name, looks_like_formula
from haihai_tui.core.checks.charset import changed_message, roundtrip_changes, unencodable_chars, unencodable_message
from haihai_tui.core.settings.model import EMAIL_LABEL
from haihai_tui.core.text import one_line


@dataclass(frozen=True)
class Finding:
    severity: Literal["error", "warning"]
    code: str
    message: str
    row: int | None = None  # 1-based data row in the whole result (header not counted)
    column: str | None = None  # column label
    char: str | None = None
    codepoint: str | None = None  # "U+1F600"
    rowid: object = None  # the record id of that row, when the caller passed rowids

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row:,}" + (f" (record {self.rowid})" if self.rowid is not None else ""))
        if self.column is not None:
            where.append(one_line(self.column))
        return f"{', '.join(where)}: {self.message}" if where else self.message

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def cell_text(v) -> str:
    """A cell as csv.writer writes it: None -> "", anything else -> str()."""
    return "" if v is None else v if isinstance(v, str) else str(v)


_FIRST = itemgetter(slice(0, 1))


def _excerpt(v: str, n: int = 40) -> str:
    return v if len(v) <= n else v[:n] + ".."


class Findings:
    """Collects the findings of one build: exact counts, at most ``max_findings`` row findings of each
    severity kept. ``on_error`` is called on every error (the builder drops its files)."""

    def __init__(
        self,
        labels: Sequence[str],
        enc: str,
        header: bool,
        rowids: Sequence | None,
        max_findings: int,
        on_error: Callable[[], None],
    ):
        self.labels, self.enc, self.header, self.rowids = list(labels), enc, header, rowids
        self.max_findings, self.on_error = max_findings, on_error
        self.row_findings: list[Finding] = []  # capped while collecting
        self.file_findings: list[Finding] = []  # few, never capped
        self.counts: dict[str, int] = {}
        self.n_err = self.n_warn = 0
        self.email_ix = self.labels.index(EMAIL_LABEL) if EMAIL_LABEL in self.labels else None
        self.email_col = EMAIL_LABEL
        self.seen: set | None = set()  # lower-cased addresses while no duplicate was met
        self.hist: list = []  # (keys, rows) pairs kept to build ``first`` lazily
        self.first: dict[str, int] | None = None
        self.changes = roundtrip_changes(enc)
        self.changes_re = re.compile("[" + "".join(map(re.escape, self.changes)) + "]") if self.changes else None

    def add(
        self,
        severity: str,
        code: str,
        message: str,
        row: int | None = None,
        column: str | None = None,
        char: str | None = None,
        codepoint: str | None = None,
    ) -> None:
        self.counts[code] = self.counts.get(code, 0) + 1
        if severity == "error":
            self.n_err += 1
            self.on_error()
        else:
            self.n_warn += 1
        rowid = None
        if row is not None and self.rowids is not None and 0 < row <= len(self.rowids):
            rowid = self.rowids[row - 1]
        f = Finding(severity, code, message, row, column, char, codepoint, rowid)  # type: ignore[arg-type]
        if row is None:
            self.file_findings.append(f)
        elif (self.n_err if severity == "error" else self.n_warn) <= self.max_findings:
            self.row_findings.append(f)  # at most max_findings of each severity are kept

    def findings(self) -> list[Finding]:
        """Errors first; capped at max_findings plus one "... and N more"."""
        all_ = sorted(self.file_findings + self.row_findings, key=lambda f: (f.severity != "error", f.row is not None))
        total = self.n_err + self.n_warn
        if total <= self.max_findings:
            return all_
        kept = all_[: self.max_findings]
        e = self.n_err - sum(f.is_error for f in kept)
        w = self.n_warn - (len(kept) - sum(f.is_error for f in kept))
        more = f"... and {total - len(kept):,} more ({e:,} errors, {w:,} warnings) not listed"
        return kept + [Finding("error" if e else "warning", "more", more)]

    def unencodable(self, row: int | None, what: str, ch: str, count: int, column: str) -> None:
        self.add(
            "error",
            "unencodable",
            unencodable_message(ch, count, self.enc, what if row is None else None),
            row=row,
            column=column,
            char=ch,
            codepoint=f"U+{ord(ch):04X}",
        )

    def unencodable_cells(self, row: int, cells: Sequence) -> None:
        """Every character of a row that the encoding lacks, cell by cell."""
        for j, cell in enumerate(cells):
            label = self.labels[j] if j < len(self.labels) else f"column {j + 1}"
            for ch, cnt in unencodable_chars(cell_text(cell), self.enc):
                if ch not in CONTROL_CHARS:  # those are reported as control characters (chars())
                    self.unencodable(row, label, ch, cnt, label)

    # what cells hold besides encodable text (rules in cells.py) ----------------------------------
    def char_rows(self, rows: list, base: int, lines: Sequence[str], chars_re) -> None:
        """Control characters and characters the encoding changes, in the rows whose CSV line has one."""
        search = chars_re.search
        for i, line in enumerate(lines):
            if search(line):
                self.chars(base + i + 1, rows[i])

    def chars(self, row: int, cells: Sequence) -> None:
        """Control characters and characters the encoding changes: one row, cell by cell."""
        for j, cell in enumerate(cells):
            v = cell_text(cell)
            label = self.labels[j] if j < len(self.labels) else f"column {j + 1}"
            if CONTROL_RE.search(v):
                for ch, n in Counter(c for c in v if c in CONTROL_CHARS).items():
                    times = f" {n} times" if n > 1 else ""
                    self.add(
                        "error",
                        "control_char",
                        f"the cell holds the control character {control_name(ch)}"
                        f"{times}: it is not text, and in a mail or on a screen it can garble what follows or "
                        f"act on the terminal; remove it in 楽楽販売 (it usually comes from copying out of "
                        f"another program); the cell: {one_line(_excerpt(v))}",
                        row=row,
                        column=label,
                        char=ch,
                        codepoint=f"U+{ord(ch):04X}",
                    )
            if self.changes_re is not None and self.changes_re.search(v):
                for ch, n in Counter(c for c in v if c in self.changes).items():
                    self.add(
                        "warning",
                        "changed_char",
                        changed_message(ch, self.changes[ch], n, self.enc),
                        row=row,
                        column=label,
                        char=ch,
                        codepoint=f"U+{ord(ch):04X}",
                    )

    def formula_cells(self, rows: list, base: int, ok_width: bool) -> None:
        """Formula-like cells of a chunk, column by column: a column whose cells' first characters hold no
        = + - @ is passed over at C speed; only a column that has one is looked at cell by cell."""
        hits = []
        try:
            if not ok_width:
                raise TypeError
            for j in range(len(self.labels)):
                col = list(map(itemgetter(j), rows))
                firsts = "".join(map(_FIRST, col))  # TypeError if a cell is not a str
                if "=" in firsts or "+" in firsts or "-" in firsts or "@" in firsts:
                    hits += [(i, j, v) for i, v in enumerate(col) if looks_like_formula(v)]
        except TypeError:  # ragged rows or cells that are not text: row by row
            hits = [
                (i, j, v) for i, r in enumerate(rows) for j, c in enumerate(r) if looks_like_formula(v := cell_text(c))
            ]
        for i, j, v in sorted(hits, key=itemgetter(0, 1)):
            label = self.labels[j] if j < len(self.labels) else f"column {j + 1}"
            self.add(
                "warning",
                "formula",
                f"the cell starts with '{v[0]}' and reads like a spreadsheet formula "
                f"({one_line(_excerpt(v))}): HaiHai keeps it as text, but Excel runs it when someone opens a "
                f"list exported from HaiHai (formula injection); if it is not meant as data, correct it in "
                f"楽楽販売 (it is sent as it is)",
                row=base + i + 1,
                column=label,
            )

    # header --------------------------------------------------------------------------------------
    def check_labels(self) -> None:
        if self.email_ix is None:
            self.add(
                "error",
                "no_email_column",
                f"there is no {EMAIL_LABEL} (e-mail) column; HaiHai needs it as the "
                f"customer key (EMAIL_COLUMN_MISSING): add the e-mail field to the menu's columns (メニュー設定)",
            )
        if not self.header:
            self.add(
                "warning",
                "no_header",
                "the CSV has no header row (1行目にヘッダ(項目名)を付ける is off); HaiHai "
                "reads the first row as the column labels, so turn csv_header on",
            )
            return
        where: dict[str, int] = {}
        for i, label in enumerate(self.labels, 1):
            if not label.strip():
                self.add(
                    "error",
                    "header_label",
                    f"column {i} has a blank label; every column needs the HaiHai field label (項目名) as its header",
                    column=label,
                )
            elif label != label.strip():
                self.add(
                    "error",
                    "header_label",
                    f"the label of column {i} has spaces around it, so HaiHai will not "
                    f"recognise it (UNKNOWN_COLUMN); remove them in the field settings",
                    column=label,
                )
            if label in where:
                self.add(
                    "error",
                    "header_label",
                    f"columns {where[label]} and {i} have the same label; each field "
                    f"may appear once: remove one of them from the menu's columns",
                    column=label,
                )
            where.setdefault(label, i)
            for ch in dict.fromkeys(c for c in label if c in CONTROL_CHARS):
                self.add(
                    "error",
                    "header_label",
                    f"the label of column {i} holds the control character "
                    f"{control_name(ch)}; correct the field label in db.toml",
                    column=label,
                    char=ch,
                    codepoint=f"U+{ord(ch):04X}",
                )
            for ch in dict.fromkeys(c for c in label if c in self.changes):
                self.add(
                    "warning",
                    "changed_char",
                    f"in the header label of column {i}: " + changed_message(ch, self.changes[ch], 1, self.enc),
                    column=label,
                    char=ch,
                    codepoint=f"U+{ord(ch):04X}",
                )

    def unencodable_labels(self) -> None:
        for label in self.labels:
            for ch, n in unencodable_chars(label, self.enc):
                if ch not in CONTROL_CHARS:  # reported by check_labels
                    self.unencodable(None, "in the header label", ch, n, label)

    # e-mail addresses ----------------------------------------------------------------------------
    def emails(self, rows: list, base: int, ok_width: bool) -> None:
        """The e-mail column of a chunk: one regex match for the whole chunk, row by row only on failure."""
        ix = self.email_ix
        if ix is None:
            return
        if ok_width:
            em = list(map(itemgetter(ix), rows))
        else:
            em = [r[ix] if len(r) > ix else "" for r in rows]
        self.email_values(em, base)

    def email_values(self, em: list, base: int) -> None:
        """The e-mail cells of a chunk's rows (row ``base + 1`` first): one regex match, row by row on failure."""
        try:
            joined = "\n".join(em)
        except TypeError:
            return self._emails_slow(em, base)
        if joined.count("\n") != len(em) - 1 or EMAIL_FAST.fullmatch(joined) is None or max(map(len, em)) > EMAIL_MAX:
            return self._emails_slow(em, base)
        low = joined.lower()
        self._dups(em if low == joined else low.split("\n"), range(base + 1, base + 1 + len(em)), em)

    def _emails_slow(self, em: list, base: int) -> None:
        keys, nums, values = [], [], []
        col = self.email_col
        for i, v in enumerate(em):
            v, row = cell_text(v), base + i + 1
            if not v.strip():
                self.add(
                    "error",
                    "email_blank",
                    f"{EMAIL_LABEL} is blank; HaiHai would count the row as 失敗 "
                    f"(failure): fill in the address in 楽楽販売 or filter the row out",
                    row=row,
                    column=col,
                )
                continue
            why = email_problem(v)
            if why:
                self.add(
                    "error",
                    "email_malformed",
                    f"{v!r} is not an e-mail address: {why}; correct it in 楽楽販売 "
                    f"(HaiHai would count the row as 失敗)",
                    row=row,
                    column=col,
                )
            keys.append(v.lower())
            nums.append(row)
            values.append(v)
        self._dups(keys, nums, values)

    def _dups(self, keys: list[str], rows: Sequence[int], values: list) -> None:
        """Duplicate addresses: a plain set while there are none; a key -> first row dict from the first one."""
        if self.first is None:
            seen = self.seen
            n0 = len(seen)
            seen.update(keys)  # one pass: it grows by len(keys) exactly when no key was met before
            if len(seen) - n0 == len(keys):
                self.hist.append((keys, rows))
                return
            self.first = {}  # built from the chunks before this one; ``seen`` is dropped
            for k, r in self.hist:
                self.first.update(zip(k, r, strict=True))
            self.seen = self.hist = None
        first = self.first
        for k, r, v in zip(keys, rows, values, strict=True):
            r0 = first.setdefault(k, r)
            if r0 != r:
                self.add(
                    "warning",
                    "email_duplicate",
                    f"duplicate address {v!r} (also on row {r0:,}, compared "
                    f"ignoring case); HaiHai registers it once and counts this row as その他 (other)",
                    row=r,
                    column=self.email_col,
                )
