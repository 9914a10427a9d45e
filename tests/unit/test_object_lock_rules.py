"""Object Lock's rules (common/objectlock.py) and its documents and headers (gateway/s3/object_lock_xml.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from common.objectlock import (
    DefaultRetention,
    LockConfiguration,
    LockMode,
    ObjectLocked,
    VersionLock,
    check_delete,
    check_retention_change,
    lock_for_new_version,
)
from gateway.s3.errors import S3Error
from gateway.s3.object_lock_xml import (
    lock_configuration_xml,
    lock_from_headers,
    lock_headers,
    parse_legal_hold,
    parse_lock_configuration,
    parse_retention,
    retention_xml,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=30)
GOV = LockMode.GOVERNANCE
COMP = LockMode.COMPLIANCE


def code(excinfo: pytest.ExceptionInfo[S3Error]) -> str:
    return excinfo.value.code


def test_legal_hold_blocks_deletion_even_with_bypass_and_after_retention() -> None:
    for lock in (VersionLock(legal_hold=True), VersionLock(GOV, NOW - dt.timedelta(days=1), legal_hold=True)):
        with pytest.raises(ObjectLocked):
            check_delete(lock, bypass=True, now=NOW)


def test_compliance_blocks_deletion_until_its_date_and_governance_yields_only_to_bypass() -> None:
    with pytest.raises(ObjectLocked):
        check_delete(VersionLock(COMP, LATER), bypass=True, now=NOW)
    check_delete(VersionLock(COMP, LATER), bypass=False, now=LATER + dt.timedelta(seconds=1))
    with pytest.raises(ObjectLocked):
        check_delete(VersionLock(GOV, LATER), bypass=False, now=NOW)
    check_delete(VersionLock(GOV, LATER), bypass=True, now=NOW)
    check_delete(VersionLock(), bypass=False, now=NOW)


def test_compliance_retention_can_be_extended_but_not_shortened_removed_or_switched() -> None:
    held = VersionLock(COMP, LATER)
    check_retention_change(held, COMP, LATER + dt.timedelta(days=1), bypass=False, now=NOW)
    for mode, until in ((COMP, LATER - dt.timedelta(days=1)), (None, None), (GOV, LATER + dt.timedelta(days=1))):
        with pytest.raises(ObjectLocked):
            check_retention_change(held, mode, until, bypass=True, now=NOW)


def test_governance_retention_changes_need_the_bypass_except_extensions() -> None:
    held = VersionLock(GOV, LATER)
    check_retention_change(held, GOV, LATER + dt.timedelta(days=1), bypass=False, now=NOW)
    for mode, until in ((GOV, NOW + dt.timedelta(days=1)), (COMP, LATER), (None, None)):
        with pytest.raises(ObjectLocked):
            check_retention_change(held, mode, until, bypass=False, now=NOW)
        check_retention_change(held, mode, until, bypass=True, now=NOW)


def test_a_retention_date_in_the_past_is_refused_and_an_expired_one_no_longer_binds() -> None:
    with pytest.raises(ValueError, match="must be in the future"):
        check_retention_change(VersionLock(), GOV, NOW - dt.timedelta(seconds=1), bypass=False, now=NOW)
    expired = VersionLock(COMP, NOW - dt.timedelta(days=1))
    check_retention_change(expired, GOV, LATER, bypass=False, now=NOW)


def test_a_new_version_gets_the_bucket_default_unless_its_write_names_a_retention() -> None:
    config = LockConfiguration(DefaultRetention(COMP, years=1))
    got = lock_for_new_version(config, None, NOW)
    assert got.mode is COMP and got.until == NOW + dt.timedelta(days=365)
    own = VersionLock(GOV, LATER, legal_hold=True)
    assert lock_for_new_version(config, own, NOW) == own
    held = lock_for_new_version(config, VersionLock(legal_hold=True), NOW)
    assert held.legal_hold and held.mode is COMP
    assert lock_for_new_version(None, None, NOW) == VersionLock()
    assert LockConfiguration.from_dict(config.to_dict()) == config


def test_lock_configuration_documents_round_trip_and_bad_ones_get_awss_errors() -> None:
    doc = (b'<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
           b"<ObjectLockEnabled>Enabled</ObjectLockEnabled>"
           b"<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>"
           b"</ObjectLockConfiguration>")  # fmt: skip
    config = parse_lock_configuration(doc)
    assert config == LockConfiguration(DefaultRetention(GOV, days=1))
    assert parse_lock_configuration(lock_configuration_xml(config)) == config

    def bad(rule: str, enabled: str = "Enabled") -> str:
        body = (f"<ObjectLockConfiguration><ObjectLockEnabled>{enabled}</ObjectLockEnabled>"
                f"<Rule><DefaultRetention>{rule}</DefaultRetention></Rule></ObjectLockConfiguration>")  # fmt: skip
        with pytest.raises(S3Error) as e:
            parse_lock_configuration(body.encode())
        return code(e)

    assert bad("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>") == "MalformedXML"
    assert bad("<Mode>governance</Mode><Years>1</Years>") == "MalformedXML"
    assert bad("<Mode>abc</Mode><Years>1</Years>") == "MalformedXML"
    assert bad("<Mode>GOVERNANCE</Mode><Years>1</Years>", enabled="Disabled") == "MalformedXML"
    assert bad("<Mode>GOVERNANCE</Mode><Days>0</Days>") == "InvalidRetentionPeriod"
    assert bad("<Mode>GOVERNANCE</Mode><Years>-1</Years>") == "InvalidRetentionPeriod"


def test_retention_and_legal_hold_documents() -> None:
    mode, until = parse_retention(b"<Retention><Mode>COMPLIANCE</Mode>"
                                  b"<RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>")  # fmt: skip
    assert mode is COMP and until == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert parse_retention(retention_xml(VersionLock(mode, until))) == (mode, until)
    assert parse_retention(b"<Retention/>") == (None, None)
    for body in (b"<Retention><Mode>governance</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate>"
                 b"</Retention>", b"<Retention><Mode>GOVERNANCE</Mode></Retention>"):  # fmt: skip
        with pytest.raises(S3Error) as e:
            parse_retention(body)
        assert code(e) == "MalformedXML"
    assert parse_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>") is True
    assert parse_legal_hold(b"<LegalHold><Status>OFF</Status></LegalHold>") is False
    with pytest.raises(S3Error) as e:
        parse_legal_hold(b"<LegalHold><Status>abc</Status></LegalHold>")
    assert code(e) == "MalformedXML"


def test_lock_headers_on_a_write_and_their_errors() -> None:
    until = "2030-01-01T00:00:00.000Z"
    got = lock_from_headers({"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": until,
                             "x-amz-object-lock-legal-hold": "ON"}, NOW)  # fmt: skip
    assert got == VersionLock(GOV, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), legal_hold=True)
    assert lock_headers(got) == {"x-amz-object-lock-mode": "GOVERNANCE",
                                 "x-amz-object-lock-retain-until-date": until,
                                 "x-amz-object-lock-legal-hold": "ON"}  # fmt: skip
    assert lock_from_headers({}, NOW) is None and lock_headers(VersionLock()) == {}
    cases = [
        ({"x-amz-object-lock-mode": "GOVERNANCE"}, "must both be supplied"),
        ({"x-amz-object-lock-retain-until-date": until}, "must both be supplied"),
        ({"x-amz-object-lock-mode": "FOREVER", "x-amz-object-lock-retain-until-date": until}, "wormMode"),
        ({"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "2020-01-01T00:00:00Z"},
         "must be in the future"),
        ({"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "soon"}, "ISO 8601"),
        ({"x-amz-object-lock-legal-hold": "maybe"}, "either of 'ON' or 'OFF'"),
    ]
    for headers, words in cases:
        with pytest.raises(S3Error) as e:
            lock_from_headers(headers, NOW)
        assert code(e) == "InvalidArgument" and words in (e.value.message or ""), headers


def test_version_ids_never_start_with_a_dash_that_command_lines_would_read_as_an_option() -> None:
    from satellite.db.object_versions import VERSION_ID_RE, new_version_id

    ids = [new_version_id() for _ in range(5000)]  # 1 in 64 would start with "-" by chance
    assert all(VERSION_ID_RE.match(v) and not v.startswith("-") for v in ids)
