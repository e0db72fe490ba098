"""Rules of the KEY/VALUE grid, the dangerous-run check and the plain-words description."""

from __future__ import annotations

import pytest

from haihai_tui.core.settings.params import ParamIssue, describe_run, is_dangerous, param_findings

BASE = {
    "login_id": "ops01",
    "import_type": "0",
    "is_overwrite": "1",
    "overwrite_type": "1",
    "gid": "12",
    "report_option": "2",
}


def issues(**changes):
    p = dict(BASE)
    for k, v in changes.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return param_findings(p)


def only(found, severity="error"):
    got = [i for i in found if i.severity == severity]
    assert len(got) == 1, got
    return got[0]


def test_the_sample_grid_is_clean():
    assert param_findings(BASE) == []


@pytest.mark.parametrize("key", ["login_id", "import_type"])
@pytest.mark.parametrize("value", [None, ""])
def test_required_keys(key, value):
    i = only(issues(**{key: value}))
    assert i.key == key and "required" in i.message


def test_import_type_values():
    for ok in ("0", "1", "2", "3", "5"):
        assert not [i for i in issues(import_type=ok, is_overwrite=None, overwrite_type=None) if i.severity == "error"]
    i = only(issues(import_type="4"))
    assert i.key == "import_type" and "there is no 4" in i.message and "5 make deliverable" in i.message
    i = only(issues(import_type="register"))
    assert "'register' is not valid" in i.message and "0 register (新規登録)" in i.message


def test_is_overwrite_values_and_applicability():
    assert "is_overwrite 'yes' is not valid" in only(issues(is_overwrite="yes")).message
    assert not issues(is_overwrite=None, overwrite_type=None)  # left out = default 0
    assert not issues(import_type="5", is_overwrite="1")
    for t in ("1", "2", "3"):
        for v in ("1", "0"):  # HaiHai (and the mock) refuse the key itself for these types
            i = only(issues(import_type=t, is_overwrite=v, overwrite_type=None))
            assert (i.key, i.code) == ("is_overwrite", "PARAM_NOT_APPLICABLE") and f"not to {t}" in i.message


def test_overwrite_type_values_and_dependency():
    assert "overwrite_type '3' is not valid" in only(issues(overwrite_type="3")).message
    assert not issues(overwrite_type=None)  # left out = default 1
    assert not issues(overwrite_type="2")
    for v in ("1", "2"):
        i = only(issues(is_overwrite="0", overwrite_type=v))
        assert (i.key, i.code) == ("overwrite_type", "PARAM_NOT_APPLICABLE")
    assert only(issues(is_overwrite=None, overwrite_type="1")).key == "overwrite_type"


@pytest.mark.parametrize("key", ["is_overwrite", "overwrite_type", "gid", "spid", "report_option"])
def test_blank_optional_values_are_sent_as_blank_so_they_are_errors(key):
    i = only(issues(**{key: ""}))
    assert i.key == key and "is blank" in i.message and "remove the row" in i.message


@pytest.mark.parametrize("t", ["2", "3", "5"])
def test_stop_prohibit_deliverable_need_a_target(t):
    i = only(issues(import_type=t, gid=None, is_overwrite=None, overwrite_type=None))
    assert i.code == "TARGET_REQUIRED" and "needs gid" in i.message and "spid" in i.message
    assert not issues(import_type=t, gid=None, spid="7", is_overwrite=None, overwrite_type=None)


def test_gid_and_spid_not_both_and_digits_only():
    i = only(issues(spid="3"))
    assert (i.key, i.code) == ("gid", "TARGET_CONFLICT")
    i = only(issues(gid="g12"))
    assert i.key == "gid" and "ASCII digits" in i.message
    assert "full-width" in only(issues(gid="１２")).message
    assert only(issues(gid=None, spid="-1")).key == "spid"


def test_report_option_values():
    for ok in ("0", "1", "2", None):
        assert not issues(report_option=ok)
    assert "report_option '3' is not valid" in only(issues(report_option="3")).message


def test_unknown_keys_are_warnings_with_a_suggestion():
    w = only(issues(improt_type="0"), "warning")
    assert w.key == "improt_type" and "did you mean 'import_type'?" in w.message
    w = only(issues(Report_Option="1"), "warning")
    assert "did you mean 'report_option'?" in w.message
    w = only(issues(colour="blue"), "warning")
    assert "known keys: login_id" in w.message


def test_whitespace_and_types():
    i = only(issues(gid=" 12"))
    assert i.key == "gid" and "spaces around the value" in i.message and "'12'" in i.message
    i = only(issues(**{" gid": "12", "gid": None}))
    assert i.key == " gid" and "spaces around it" in i.message
    i = only(issues(import_type=0))
    assert 'must be a string: write "0" in quotes' in i.message
    assert only(issues(**{"": "x"})).key is None


def test_delete_from_the_whole_database():
    p = {"login_id": "ops01", "import_type": "1"}
    reason = is_dangerous(p)
    assert reason and "whole HaiHai customer database" in reason and "history" in reason
    w = only(param_findings(p), "warning")
    assert w.key == "import_type" and "confirmation" in w.message
    assert not [i for i in param_findings(p) if i.severity == "error"]
    assert is_dangerous({**p, "gid": "12"}) is None
    assert is_dangerous({**p, "spid": "4"}) is None
    assert is_dangerous({**p, "gid": " "}) is not None  # blank is no target (and itself an error)
    assert is_dangerous(BASE) is None


def test_describe_run_examples():
    assert describe_run(BASE, 1234) == (
        "register 1,234 customers into delivery group 12, overwrite existing "
        "customers, keep HaiHai's value where a cell is blank; HaiHai report mail "
        "only on error"
    )
    assert describe_run({**BASE, "overwrite_type": "2"}, 1) == (
        "register 1 customer into delivery group 12, overwrite existing customers, blank HaiHai's value where a "
        "cell is blank; HaiHai report mail only on error"
    )
    assert describe_run({"login_id": "a", "import_type": "0", "spid": "3"}, 20_000, 2) == (
        "register 20,000 customers into step-mail plan 3 in 2 requests, keep existing customers unchanged "
        "(they count as その他); HaiHai report mail always"
    )
    assert describe_run({"import_type": "1", "gid": "12", "report_option": "0"}, 5) == (
        "remove 5 customers from delivery group 12; no HaiHai report mail"
    )
    assert describe_run({"import_type": "1"}, 5).startswith(
        "DELETE 5 customers from the whole HaiHai customer database (their history is lost)"
    )
    assert describe_run({"import_type": "2", "gid": "12"}, 3).startswith(
        "stop delivery to 3 customers in delivery group 12;"
    )
    assert describe_run({"import_type": "3", "spid": "9"}, 3).startswith(
        "prohibit delivery to 3 customers in step-mail plan 9;"
    )
    assert describe_run({"import_type": "5", "gid": "1", "is_overwrite": "1"}, 2).startswith(
        "make 2 customers deliverable again in delivery group 1, overwrite existing customers, keep HaiHai's value"
    )
    assert "not valid" in describe_run({"import_type": "4"}, 1)


def test_param_issue_shape():
    i = ParamIssue("gid", "error", "m")
    assert (i.key, i.severity, i.message, i.code) == ("gid", "error", "m", "")
