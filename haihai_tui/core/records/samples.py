"""Deterministic sample customers for the sample database ``customers`` (demo, tests, benchmarks).

Rows are ``(email, company, name, kana, pref, phone)``. Besides ordinary names they carry the
characters that separate Windows-31J (cp932) from Python's ``shift_jis``: 髙橋, 山﨑, ①, ㈱, ～.
For ``n >= MIN_FOR_SPECIALS`` every result also holds, at fixed positions, exactly:

- one row with an emoji (🍰, not encodable in cp932),
- one malformed address (a full-width ＠, a real-world typing slip),
- one duplicate address differing from an earlier row's only in case,

so pre-flight always has something to find. Every other row is cp932-encodable and has a unique address.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate, islice
from pathlib import Path

from haihai_tui.core.settings.model import Database, FieldDef

SAMPLE_DATABASE = Database(
    "customers",
    "顧客管理",
    [
        FieldDef("email", "メールアドレス", "email"),
        FieldDef("company", "会社名"),
        FieldDef("name", "お名前"),
        FieldDef("kana", "フリガナ"),
        FieldDef("pref", "都道府県"),
        FieldDef("phone", "電話番号"),
    ],
)
FIELD_IDS = tuple(f.id for f in SAMPLE_DATABASE.fields)
DEFAULT_ROWS = 5_000
MIN_FOR_SPECIALS = 20
EMOJI = "\U0001f370"  # 🍰

# (kanji, katakana, romaji, weight)
_FAMILY = [
    ("佐藤", "サトウ", "sato", 9),
    ("鈴木", "スズキ", "suzuki", 9),
    ("高橋", "タカハシ", "takahashi", 6),
    ("髙橋", "タカハシ", "takahashi", 2),
    ("田中", "タナカ", "tanaka", 7),
    ("伊藤", "イトウ", "ito", 6),
    ("渡辺", "ワタナベ", "watanabe", 5),
    ("渡邉", "ワタナベ", "watanabe", 2),
    ("山本", "ヤマモト", "yamamoto", 6),
    ("中村", "ナカムラ", "nakamura", 6),
    ("小林", "コバヤシ", "kobayashi", 6),
    ("加藤", "カトウ", "kato", 5),
    ("吉田", "ヨシダ", "yoshida", 5),
    ("山田", "ヤマダ", "yamada", 5),
    ("佐々木", "ササキ", "sasaki", 4),
    ("山口", "ヤマグチ", "yamaguchi", 4),
    ("松本", "マツモト", "matsumoto", 4),
    ("井上", "イノウエ", "inoue", 4),
    ("木村", "キムラ", "kimura", 4),
    ("林", "ハヤシ", "hayashi", 3),
    ("斎藤", "サイトウ", "saito", 3),
    ("齋藤", "サイトウ", "saito", 1),
    ("清水", "シミズ", "shimizu", 3),
    ("山崎", "ヤマザキ", "yamazaki", 3),
    ("山﨑", "ヤマザキ", "yamazaki", 2),
    ("森", "モリ", "mori", 3),
    ("池田", "イケダ", "ikeda", 3),
    ("橋本", "ハシモト", "hashimoto", 3),
    ("阿部", "アベ", "abe", 3),
    ("石川", "イシカワ", "ishikawa", 3),
    ("山下", "ヤマシタ", "yamashita", 3),
    ("中島", "ナカジマ", "nakajima", 3),
    ("石井", "イシイ", "ishii", 2),
    ("小川", "オガワ", "ogawa", 2),
    ("前田", "マエダ", "maeda", 2),
    ("岡田", "オカダ", "okada", 2),
    ("長谷川", "ハセガワ", "hasegawa", 2),
    ("藤田", "フジタ", "fujita", 2),
    ("後藤", "ゴトウ", "goto", 2),
    ("近藤", "コンドウ", "kondo", 2),
    ("村上", "ムラカミ", "murakami", 2),
    ("遠藤", "エンドウ", "endo", 2),
    ("青木", "アオキ", "aoki", 2),
    ("坂本", "サカモト", "sakamoto", 2),
    ("福田", "フクダ", "fukuda", 2),
    ("太田", "オオタ", "ota", 2),
    ("西村", "ニシムラ", "nishimura", 2),
    ("藤井", "フジイ", "fujii", 2),
    ("宮﨑", "ミヤザキ", "miyazaki", 1),
    ("宮崎", "ミヤザキ", "miyazaki", 2),
    ("柴﨑", "シバザキ", "shibazaki", 1),
]
_GIVEN = [
    ("太郎", "タロウ", "taro"),
    ("一郎", "イチロウ", "ichiro"),
    ("健", "ケン", "ken"),
    ("翔太", "ショウタ", "shota"),
    ("大輔", "ダイスケ", "daisuke"),
    ("拓也", "タクヤ", "takuya"),
    ("直樹", "ナオキ", "naoki"),
    ("誠", "マコト", "makoto"),
    ("浩", "ヒロシ", "hiroshi"),
    ("隆", "タカシ", "takashi"),
    ("蓮", "レン", "ren"),
    ("悠真", "ユウマ", "yuma"),
    ("陽翔", "ハルト", "haruto"),
    ("健太", "ケンタ", "kenta"),
    ("剛", "ツヨシ", "tsuyoshi"),
    ("修", "オサム", "osamu"),
    ("花子", "ハナコ", "hanako"),
    ("陽子", "ヨウコ", "yoko"),
    ("恵子", "ケイコ", "keiko"),
    ("美咲", "ミサキ", "misaki"),
    ("愛", "アイ", "ai"),
    ("結衣", "ユイ", "yui"),
    ("由美", "ユミ", "yumi"),
    ("真由美", "マユミ", "mayumi"),
    ("さくら", "サクラ", "sakura"),
    ("葵", "アオイ", "aoi"),
    ("陽菜", "ヒナ", "hina"),
    ("彩", "アヤ", "aya"),
    ("智子", "トモコ", "tomoko"),
    ("裕子", "ユウコ", "yuko"),
    ("明美", "アケミ", "akemi"),
    ("綾乃", "アヤノ", "ayano"),
    ("千尋", "チヒロ", "chihiro"),
]
_CORE = [
    ("山田", "yamada"),
    ("東海", "tokai"),
    ("北斗", "hokuto"),
    ("日本", "nihon"),
    ("関東", "kanto"),
    ("大和", "yamato"),
    ("富士", "fuji"),
    ("三和", "sanwa"),
    ("中央", "chuo"),
    ("東洋", "toyo"),
    ("朝日", "asahi"),
    ("丸山", "maruyama"),
    ("西日本", "nishinihon"),
    ("平和", "heiwa"),
    ("新興", "shinko"),
    ("第一", "daiichi"),
    ("青葉", "aoba"),
    ("瀬戸内", "setouchi"),
    ("湘南", "shonan"),
    ("信州", "shinshu"),
    ("九州", "kyushu"),
    ("北海", "hokkai"),
    ("みらい", "mirai"),
    ("さくら", "sakura"),
    ("髙木", "takagi"),
    ("山﨑", "yamazaki"),
]
_TRADE = [
    ("商事", "shoji"),
    ("工業", "kogyo"),
    ("製作所", "seisakusho"),
    ("物産", "bussan"),
    ("電機", "denki"),
    ("建設", "kensetsu"),
    ("食品", "shokuhin"),
    ("運輸", "unyu"),
    ("不動産", "fudosan"),
    ("印刷", "insatsu"),
    ("薬品", "yakuhin"),
    ("精機", "seiki"),
    ("システム", "system"),
    ("ソフト", "soft"),
    ("産業", "sangyo"),
    ("化学", "kagaku"),
    ("技研", "giken"),
    ("設計", "sekkei"),
    ("商会", "shokai"),
]
# legal forms, weighted; ㈱ and ㈲ are the one-cell "(株)" characters people paste from Excel
_FORMS = [
    ("株式会社{}", 10),
    ("{}株式会社", 8),
    ("㈱{}", 3),
    ("{}㈱", 2),
    ("有限会社{}", 2),
    ("㈲{}", 1),
    ("合同会社{}", 1),
]
# shops whose names use ① and ～ (FULLWIDTH TILDE, cp932 0x8160)
_SHOPS = [
    ("旬菜～いろどり～", "irodori"),
    ("和カフェ～こもれび～", "komorebi"),
    ("スタジオ①", "studio-one"),
    ("①番館", "ichibankan"),
    ("焼肉 ①丁目", "itchome"),
    ("ヘアサロン～ゆらり～", "yurari"),
]
# (prefecture, area code, weight)
_PREFS = [
    ("北海道", "011", 4),
    ("青森県", "017", 1),
    ("岩手県", "019", 1),
    ("宮城県", "022", 2),
    ("秋田県", "018", 1),
    ("山形県", "023", 1),
    ("福島県", "024", 1),
    ("茨城県", "029", 2),
    ("栃木県", "028", 1),
    ("群馬県", "027", 1),
    ("埼玉県", "048", 5),
    ("千葉県", "043", 5),
    ("東京都", "03", 14),
    ("神奈川県", "045", 7),
    ("新潟県", "025", 2),
    ("富山県", "076", 1),
    ("石川県", "076", 1),
    ("福井県", "0776", 1),
    ("山梨県", "055", 1),
    ("長野県", "026", 1),
    ("岐阜県", "058", 1),
    ("静岡県", "054", 3),
    ("愛知県", "052", 6),
    ("三重県", "059", 1),
    ("滋賀県", "077", 1),
    ("京都府", "075", 2),
    ("大阪府", "06", 7),
    ("兵庫県", "078", 4),
    ("奈良県", "0742", 1),
    ("和歌山県", "073", 1),
    ("鳥取県", "0857", 1),
    ("島根県", "0852", 1),
    ("岡山県", "086", 1),
    ("広島県", "082", 2),
    ("山口県", "083", 1),
    ("徳島県", "088", 1),
    ("香川県", "087", 1),
    ("愛媛県", "089", 1),
    ("高知県", "088", 1),
    ("福岡県", "092", 4),
    ("佐賀県", "0952", 1),
    ("長崎県", "095", 1),
    ("熊本県", "096", 1),
    ("大分県", "097", 1),
    ("宮崎県", "0985", 1),
    ("鹿児島県", "099", 1),
    ("沖縄県", "098", 1),
]
_PERSONAL_DOMAINS = ("example.jp", "example.ne.jp", "example.or.jp")
_CHUNK = 10_000


def _companies() -> list[tuple[str, str, int]]:
    """Every (company, domain, weight) the generator can pick."""
    out = []
    for core, c_rom in _CORE:
        for trade, t_rom in _TRADE:
            for form, w in _FORMS:
                out.append((form.format(core + trade), f"{c_rom}-{t_rom}.example.co.jp", w))
    out += [(shop, f"{rom}.example.co.jp", 4) for shop, rom in _SHOPS]
    return out


_COMPANIES = _companies()
# every (family, given) pair once: name, kana and the four address styles, weighted by the family name
_PEOPLE = [
    (f"{fk}\u3000{gk}", f"{fkana}\u3000{gkana}", (f"{gr}.{fr}", f"{gr[0]}.{fr}", f"{fr}_{gr}", f"{fr}.{gr}"), w)
    for fk, fkana, fr, w in _FAMILY
    for gk, gkana, gr in _GIVEN
]
_CUM = {
    k: list(accumulate(x[-1] for x in seq))
    for k, seq in (("people", _PEOPLE), ("company", _COMPANIES), ("pref", _PREFS))
}


def _chunk(rng: random.Random, start: int, count: int) -> list[tuple[str, ...]]:
    """``count`` random rows; row ``i`` (0-based overall) gets the unique address number ``i + 1``."""
    people = rng.choices(_PEOPLE, cum_weights=_CUM["people"], k=count)
    comps = rng.choices(_COMPANIES, cum_weights=_CUM["company"], k=count)
    prefs = rng.choices(_PREFS, cum_weights=_CUM["pref"], k=count)
    bits = [rng.getrandbits(40) for _ in range(count)]
    rows = []
    for i, (name, kana, locals_, _), (company, cdomain, _), (pref, area, _), b in zip(
        range(start + 1, start + count + 1), people, comps, prefs, bits
    ):
        domain = cdomain if b & 4 else _PERSONAL_DOMAINS[b >> 3 & 1]
        sub, mid = (b >> 6 & 0x3FFF) % 10000, b >> 20 & 0x3FFF
        if b & 0x30 == 0:  # a quarter are mobile numbers
            phone = f"0{9 - mid % 3}0-{mid % 10000:04d}-{sub:04d}"
        else:  # area + exchange (first digit 2-9) + 4-digit subscriber = 10 digits
            w = 5 - len(area)
            phone = f"{area}-{2 + mid % 8}{mid // 8 % 10**w:0{w}d}-{sub:04d}"
        rows.append((f"{locals_[b & 3]}{i}@{domain}", company, name, kana, pref, phone))
    return rows


@dataclass(frozen=True)
class SpecialRows:
    """Positions (0-based) of the rows that carry the guaranteed features for a given ``n``."""

    takahashi: int
    yamasaki: int
    circled_one: int
    kabu: int
    tilde: int
    emoji: int
    malformed: int
    duplicate: int
    duplicate_of: int

    @classmethod
    def for_rows(cls, n: int) -> SpecialRows | None:
        if n < MIN_FOR_SPECIALS:
            return None
        return cls(*(k * n // 9 for k in range(1, 9)), duplicate_of=n // 20)


def _patch(rows: list[tuple[str, ...]], start: int, sp: SpecialRows, first_of_dup: tuple[str, ...] | None) -> None:
    """Force the guaranteed features onto the rows of this chunk that sit at the special positions."""

    def at(pos: int) -> int | None:
        return pos - start if start <= pos < start + len(rows) else None

    def put(pos: int, **cells: str) -> None:
        j = at(pos)
        if j is not None:
            r = dict(zip(FIELD_IDS, rows[j]))
            r.update(cells)
            rows[j] = tuple(r[f] for f in FIELD_IDS)

    put(
        sp.takahashi,
        name="髙橋\u3000一郎",
        kana="タカハシ\u3000イチロウ",
        email=f"ichiro.takahashi{sp.takahashi + 1}@example.jp",
    )
    put(
        sp.yamasaki,
        name="山﨑\u3000陽子",
        kana="ヤマザキ\u3000ヨウコ",
        email=f"yoko.yamazaki{sp.yamasaki + 1}@example.jp",
    )
    put(sp.circled_one, company="スタジオ①", email=f"info{sp.circled_one + 1}@studio-one.example.co.jp")
    put(sp.kabu, company="㈱山田商事", email=f"sales{sp.kabu + 1}@yamada-shoji.example.co.jp")
    put(sp.tilde, company="旬菜～いろどり～", email=f"reserve{sp.tilde + 1}@irodori.example.co.jp")
    put(sp.emoji, company=f"パティスリー{EMOJI}ミエル", email=f"hello{sp.emoji + 1}@miel.example.co.jp")
    j = at(sp.malformed)
    if j is not None:
        put(sp.malformed, email=rows[j][0].replace("@", "\uff20"))
    j = at(sp.duplicate)
    if j is not None and first_of_dup is not None:
        email = first_of_dup[0]
        rows[j] = (email[0].upper() + email[1:],) + first_of_dup[1:]


def generate(n: int = DEFAULT_ROWS, seed: int = 0) -> Iterator[tuple[str, ...]]:
    """Yield ``n`` customers ``(email, company, name, kana, pref, phone)``; same (n, seed), same rows."""
    rng = random.Random(seed)
    sp = SpecialRows.for_rows(n)
    dup_source = None
    for start in range(0, n, _CHUNK):
        rows = _chunk(rng, start, min(_CHUNK, n - start))
        if sp is not None:
            if start <= sp.duplicate_of < start + len(rows):
                dup_source = rows[sp.duplicate_of - start]
            _patch(rows, start, sp, dup_source)
        yield from rows


@dataclass
class WriteResult:
    rows: int  # data rows written
    skipped: list[int] = field(default_factory=list)  # 1-based data-row numbers left out (not encodable)


def write_csv(path: Path, n: int = DEFAULT_ROWS, encoding: str = "cp932", seed: int = 0) -> WriteResult:
    """Write the sample as a CSV file with a label header and CRLF line ends (as Excel writes it).

    ``encoding`` is "cp932" (Windows-31J) or "utf-8". A row that cp932 cannot encode (the emoji row) is
    **skipped** and listed in ``WriteResult.skipped``: the file stays the encoding asked for, so it
    exercises the cp932 import path. Load ``generate()`` with ``RecordStore.insert_rows`` to keep it.
    """
    if encoding not in ("cp932", "utf-8"):
        raise ValueError(f"encoding {encoding!r}: use 'cp932' (Windows-31J) or 'utf-8'")
    result = WriteResult(0)
    rows = generate(n, seed)
    with open(path, "wb") as out:
        out.write(_csv_text([[f.label for f in SAMPLE_DATABASE.fields]]).encode(encoding))
        done = 0
        while True:
            chunk = list(islice(rows, _CHUNK))
            if not chunk:
                break
            try:
                out.write(_csv_text(chunk).encode(encoding))
                result.rows += len(chunk)
            except UnicodeEncodeError:
                for k, row in enumerate(chunk):
                    try:
                        out.write(_csv_text([row]).encode(encoding))
                        result.rows += 1
                    except UnicodeEncodeError:
                        result.skipped.append(done + k + 1)
            done += len(chunk)
    return result


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()
