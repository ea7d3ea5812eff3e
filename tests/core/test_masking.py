"""Masking of sensitive values: the planted-secret corpus, look-alikes left alone, frames and nested data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.masking import PATTERNS, find_sensitive, luhn_valid, mask_frame, mask_obj, mask_text

CORPUS = [json.loads(line) for line in (Path(__file__).parent / "masking_corpus.jsonl").read_text().splitlines()
          if line.strip()]
SECRET_LINES = [r for r in CORPUS if r["secrets"]]
PLAIN_LINES = [r for r in CORPUS if not r["secrets"]]


def test_corpus_covers_every_pattern():
    names = {name for r in SECRET_LINES for name, _ in find_sensitive(r["text"])}
    assert names == {p.name for p in PATTERNS}
    assert len(SECRET_LINES) >= 30 and len(PLAIN_LINES) >= 20


@pytest.mark.parametrize("row", SECRET_LINES, ids=lambda r: r["text"][:40])
def test_every_planted_secret_is_masked(row):
    masked = mask_text(row["text"])
    for secret in row["secrets"]:
        assert secret not in masked
    assert "[" in masked
    assert mask_text(masked) == masked  # idempotent: a masked text stays as it is


@pytest.mark.parametrize("row", PLAIN_LINES, ids=lambda r: r["text"][:40])
def test_ordinary_log_lines_are_unchanged(row):
    assert mask_text(row["text"]) == row["text"]
    assert find_sensitive(row["text"]) == []


def test_labels_say_what_was_there():
    assert mask_text("mail a@b.example from 10.1.2.3") == "mail [email] from [ip]"
    assert mask_text("Authorization: Bearer abcdefgh12345") == "Authorization: Bearer [token]"
    assert mask_text("password: hunter2") == "password: [secret]"
    assert mask_text("card 4111-1111-1111-1111") == "card [card]"


def test_card_numbers_need_luhn_and_issuer_prefix():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert mask_text("4111111111111112") == "4111111111111112"
    # Luhn-valid but no card issuer starts with 1 (epoch ms, order ids)
    assert luhn_valid("1234567812345670")
    assert mask_text("id 1234567812345670") == "id 1234567812345670"


def test_non_strings_pass_through():
    assert mask_text(None) is None
    assert mask_text(12.5) == 12.5
    assert mask_text("") == ""


def test_mask_obj_reaches_nested_values_and_keys():
    data = {"user": "x@y.example", "hits": [{"ip": "10.0.0.1", "n": 3}], "t": ("sk-abcdefghijklmnopqrstu",),
            "a@b.example": 1, "score": 0.5}
    out = mask_obj(data)
    assert out == {"user": "[email]", "hits": [{"ip": "[ip]", "n": 3}], "t": ("[api key]",),
                   "[email]": 1, "score": 0.5}
    assert data["user"] == "x@y.example"  # the input is not changed


def test_mask_frame_masks_text_columns_only():
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(["2024-05-01T00:00:00Z", "2024-05-01T00:01:00Z"]),
        "message": ["login by a@b.example", "ok 2024-05-01 12:00:00"],
        "client": pd.Series(["10.0.0.1", None], dtype="string"),
        "value": [1.5, 2.5],
    })
    out = mask_frame(frame)
    assert out["message"].tolist() == ["login by [email]", "ok 2024-05-01 12:00:00"]
    assert out["client"].iloc[0] == "[ip]" and pd.isna(out["client"].iloc[1])
    assert out["value"].tolist() == [1.5, 2.5]
    assert out["timestamp"].equals(frame["timestamp"])
    assert frame["message"].iloc[0] == "login by a@b.example"


def test_every_pattern_is_documented_in_the_module_docstring():
    import core.masking

    for p in PATTERNS:
        assert p.name in core.masking.__doc__


def test_issue_14_families_are_masked_with_their_labels():
    assert mask_text("postgresql://app:p@ssw0rd@db.internal:5432/x") == "postgresql://app:[secret]@db.internal:5432/x"
    assert mask_text("redis://:r3disPa55@cache:6379/0") == "redis://:[secret]@cache:6379/0"
    assert mask_text("Cookie: a=1; b=2") == "Cookie: a=[secret]; b=[secret]"
    assert mask_text("SECRET_KEY='two words'") == "SECRET_KEY='[secret]'"
    assert mask_text("Authorization: bearer abc123def456") == "Authorization: bearer [token]"
    assert mask_text("IBAN DE89 3704 0044 0532 0130 00 OK") == "IBAN [iban] OK"
    assert mask_text("call +1 415 555 0132 now") == "call [phone] now"
    assert mask_text("to bob%40example.com") == "to [email]"
    assert mask_text("card 4111.1111.1111.1111") == "card [card]"
    assert mask_text("AccountKey=Zm9vYmFy==;EndpointSuffix=x") == "AccountKey=[secret];EndpointSuffix=x"
    assert mask_text("https://hooks.slack.com/services/T0AB1CD2E/B0FG3HI4J/abcDEFghi") == "[webhook]"
    # prose look-alikes stay
    for text in ("bearer of bad news", "version 1.2.3 on 2024.05.01", "Cookie policy", "phone number missing"):
        assert mask_text(text) == text


def test_mask_obj_masks_dataclasses_and_keeps_enums_and_unchanged_objects():
    from datetime import datetime, timezone

    from core.models import EventKind, Incident, TimelineEvent

    inc = Incident(id="inc-1", title="leak of sk-abcdefghijklmnopqrstu", service="db 10.0.0.5",
                   roles={"commander": "a@b.example"})
    ev = TimelineEvent(id=1, incident_id="inc-1", timestamp=datetime(2024, 5, 1, tzinfo=timezone.utc),
                       kind=EventKind.DEPLOY, title="deploy", details={"url": "redis://:pw12345@h:1/0"},
                       author="ops@corp.example")
    out = mask_obj({"incident": inc, "events": (ev,), "kpi": pd.DataFrame({"label": ["10.1.1.1"], "v": [1.0]})})
    assert out["incident"].title == "leak of [api key]" and out["incident"].service == "db [ip]"
    assert out["incident"].roles == {"commander": "[email]"} and out["incident"].id == "inc-1"
    assert out["events"][0].kind is EventKind.DEPLOY and out["events"][0].author == "[email]"
    assert out["events"][0].details == {"url": "redis://:[secret]@h:1/0"}
    assert out["kpi"]["label"].tolist() == ["[ip]"]
    plain = Incident(id="x", title="nothing to hide")
    assert mask_obj(plain) is plain
