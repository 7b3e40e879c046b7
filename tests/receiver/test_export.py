"""`emoface receiver export`: one row per stored session, CSV and Parquet, from SQLite and
PostgreSQL; numbers only (no free text); `--since`; clear errors."""

from __future__ import annotations

import csv
import uuid

import pyarrow.parquet as pq
import pytest

from device.cli import main as emoface
from device.session.questionnaires import GAD7, PHQ9, incomplete, score
from device.wire.envelope import Header
from device.wire.summary import validate_summary
from receiver.export import export, parse_since, session_row
from receiver.store import Store
from tests.support.delivery_helpers import make_summary

FREE_TEXT = "patient said she felt unwell"


def kiosk_like(i: int, code: str) -> dict:
    """The parts of a kiosk summary the export reads, with a free-text field in several
    places that must never reach the table."""
    s = make_summary(i, FREE_TEXT)
    s["kind"] = "kiosk_session"
    s["language"] = "en"
    s["completion"] = {"status": "complete" if i % 2 == 0 else "incomplete", "reason": FREE_TEXT}
    s["questionnaires"] = {
        "PHQ-9": score(PHQ9, [1, 0, 2, 1, 0, 0, 1, 0, i % 2]),
        "GAD-7": score(GAD7, [0, 1, 1, 0, 2, 0, 1]) if i % 2 == 0 else incomplete(GAD7, [0, 1]),
    }
    s["flags"] = {"phq9_item9": bool(i % 2)}
    s["capture"] = {"fps": 29.5, "dropped": i}
    s["session"]["code"] = code
    s["session"]["biomarkers"] = {
        "blinks": {"count": 10 + i, "rate_per_min": 14.5 + i, "note": FREE_TEXT},
        "gaze": {"fixations": 3, "saccades": 7},
    }
    s["session"]["rejected"] = {"blurred": 2, "no_face": i}
    validate_summary(s)
    return s


CODES = ["K7QM2X", "AB3DEF", "ZZ9PQR"]


def fill(url: str) -> list[str]:
    s = Store(url)
    ids = []
    for i, code in enumerate(CODES):
        h = Header("dev-a", "k" * 16, uuid.uuid4().hex, i)
        s.insert(h, kiosk_like(i, code), 1_780_000_000.0 + 86400 * i)  # one day apart
        ids.append(h.message_id)
    s.commit()
    s.close()
    return ids


def test_a_row_holds_numbers_and_the_session_code_but_no_text():
    row = session_row(
        {
            "message_id": "m",
            "device_id": "dev-a",
            "session_code": "K7QM2X",
            "created": 0.0,
            "received": 1.0,
            "summary": kiosk_like(1, "K7QM2X"),
        }
    )
    assert row["session_code"] == "K7QM2X"
    assert row["completion"] == "incomplete"
    assert row["questionnaire.PHQ-9.total"] == 6.0
    assert row["questionnaire.PHQ-9.item9_flag"] == 1.0
    assert row["questionnaire.GAD-7.complete"] == 0.0
    assert "questionnaire.GAD-7.total" not in row  # an incomplete form has no total
    assert row["session.biomarkers.blinks.rate_per_min"] == 15.5
    assert row["session.frames_used"] == 90.0
    assert row["session.rejected.no_face"] == 1.0
    assert row["capture.fps"] == 29.5
    assert not any("items" in k for k in row)  # per-item answers stay out
    assert FREE_TEXT not in repr(row)


def test_csv_export_has_one_row_per_session(store_url, tmp_path):
    ids = fill(store_url)
    out = tmp_path / "out.csv"
    s = Store(store_url)
    n = export(s, out, "csv")
    s.close()
    assert n == 3
    text = out.read_text()
    assert FREE_TEXT not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["message_id"] for r in rows] == ids
    assert [r["session_code"] for r in rows] == CODES
    assert rows[0]["created_utc"].endswith("Z")
    assert float(rows[2]["session.biomarkers.blinks.count"]) == 12.0
    assert rows[1]["questionnaire.GAD-7.total"] == ""  # missing, not zero


def test_parquet_export_since_a_date(store_url, tmp_path):
    fill(store_url)
    out = tmp_path / "out.parquet"
    s = Store(store_url)
    since = parse_since("2026-05-29")  # after the first session's day
    n = export(s, out, "parquet", since=since)
    s.close()
    table = pq.read_table(out)
    assert n == table.num_rows == 2
    assert table.column("session_code").to_pylist() == CODES[1:]
    assert table.schema.field("questionnaire.PHQ-9.total").type == "double"
    assert table.column("questionnaire.PHQ-9.total").to_pylist() == [6.0, 5.0]
    assert FREE_TEXT.encode() not in out.read_bytes()


def test_export_command(store_url, tmp_path, capsys):
    fill(store_url)
    out = tmp_path / "x.parquet"
    rc = emoface(
        ["receiver", "export", "--store", store_url, "--format", "parquet", "--out", str(out)]
    )
    assert rc == 0
    assert "3 sessions written" in capsys.readouterr().out
    assert pq.read_table(out).num_rows == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "last tuesday"], "--since 'last tuesday'"),
        (["--store", "{missing}"], "no receiver store"),
    ],
)
def test_export_errors_are_clear(argv, message, tmp_path, capsys):
    argv = [a.replace("{missing}", str(tmp_path / "none.sqlite")) for a in argv]
    if "--store" not in argv:
        Store(str(tmp_path / "s.sqlite")).close()
        argv += ["--store", str(tmp_path / "s.sqlite")]
    rc = emoface(["receiver", "export", *argv, "--out", str(tmp_path / "o.csv")])
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()
    assert not (tmp_path / "none.sqlite").exists()
