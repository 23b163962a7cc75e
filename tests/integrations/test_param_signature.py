"""ParamsVerifier: a request is taken only with the signature among its parameters."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import pickle

import pendulum
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from orderkit.errors import (
    ConfigurationError,
    InvalidSignature,
    NaiveDatetime,
    ValidationError,
)
from orderkit.integrations import ParamsVerifier


# Published: the example of TOP's documentation ("签名算法", open.taobao.com):
# secret "helloworld", these parameters, sign_method=md5, and the signature
# it gives, hex(md5(helloworld + the sorted names and values + helloworld)).
TOP_SECRET = "helloworld"  # noqa: S105 - published
TOP_PARAMS = {
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}
TOP_SIGN = "66987CB115214E59E6EC978214934FB8"
TOP_TEXT = (
    "app_key12345678fieldsnum_iid,title,nick,price,numformatjson"
    "methodtaobao.item.seller.getnum_iid11223344sessiontestsign_methodmd5"
    "timestamp2016-01-01 12:00:00v2.0"
)

# Computed here, step by step with hashlib and hmac, not by the code under test.
SECRET = "s3cret"  # noqa: S105 - a test's
PDD_PARAMS = {
    "type": "pdd.order.information.get",
    "client_id": "abc",
    "timestamp": "1794326585",
    "order_sn": "261111-012345678901234",
    "data_type": "JSON",
}
PDD_TEXT = (
    "client_idabcdata_typeJSONorder_sn261111-012345678901234"
    "timestamp1794326585typepdd.order.information.get"
)


def md5_wrapped(secret: str, text: str) -> str:
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()  # noqa: S324


def hmac_hex(secret: str, text: str, digest: str) -> str:
    return hmac.new(secret.encode(), text.encode(), digest).hexdigest()


class TestPublishedVector:
    def test_top_md5(self) -> None:
        assert md5_wrapped(TOP_SECRET, TOP_TEXT) == TOP_SIGN
        verifier = ParamsVerifier(TOP_SECRET)
        assert verifier.sign(TOP_PARAMS) == TOP_SIGN
        verifier.verify({**TOP_PARAMS, "sign": TOP_SIGN})


class TestMethods:
    def test_md5_wraps_the_sorted_names_and_values_in_the_secret(self) -> None:
        expected = md5_wrapped(SECRET, PDD_TEXT)
        verifier = ParamsVerifier(SECRET)
        assert verifier.sign(PDD_PARAMS) == expected
        verifier.verify({**PDD_PARAMS, "sign": expected})

    def test_the_users_jd_repro(self) -> None:
        # /tmp/ch27/t9_signature.py: what its hand-written jd_sign gave.
        params = {
            "app_key": "abc",
            "timestamp": "1794326585",
            "type": "order",
            "order_sn": "261111-012345678901234",
        }
        text = "app_keyabcorder_sn261111-012345678901234timestamp1794326585typeorder"
        assert md5_wrapped(SECRET, text) == "C7ADB8723B97CF6F593F7F39A67F24C4"
        assert ParamsVerifier(SECRET).sign(params) == "C7ADB8723B97CF6F593F7F39A67F24C4"

    @pytest.mark.parametrize(
        ("method", "digest"), [("hmac-md5", "md5"), ("hmac-sha256", "sha256")]
    )
    def test_top_hmac_keys_the_text_alone(self, method: str, digest: str) -> None:
        params = {**TOP_PARAMS, "sign_method": "hmac"}
        text = TOP_TEXT.replace("sign_methodmd5", "sign_methodhmac")
        expected = hmac_hex(TOP_SECRET, text, digest).upper()
        verifier = ParamsVerifier(TOP_SECRET, method)  # type: ignore[arg-type]
        assert verifier.wrapped is False
        assert verifier.sign(params) == expected
        verifier.verify({**params, "sign": expected})

    def test_douyin_hmac_sha256_wraps_and_signs_five_params(self) -> None:
        params = {
            "app_key": "7000000000000000001",
            "method": "order.orderDetail",
            "param_json": '{"shop_order_id":"4781320682406083640"}',
            "timestamp": "1794326585",
            "v": "2",
        }
        text = (
            "app_key7000000000000000001methodorder.orderDetail"
            'param_json{"shop_order_id":"4781320682406083640"}'
            "timestamp1794326585v2"
        )
        expected = hmac_hex(SECRET, SECRET + text + SECRET, "sha256")
        douyin = ParamsVerifier(
            SECRET,
            "hmac-sha256",
            wrapped=True,
            uppercase=False,
            unsigned={"access_token", "sign_method"},
        )
        assert douyin.sign(params) == expected
        sent = {
            **params,
            "access_token": "token",
            "sign_method": "hmac-sha256",
            "sign": expected,
        }
        douyin.verify(sent)
        # Left out of the signature: the platform does not sign them.
        douyin.verify({**sent, "access_token": "another"})

    def test_douyin_md5_is_lower_case(self) -> None:
        text = "app_keykmethodmparam_json{}timestamp1v2"
        expected = hashlib.md5(f"{SECRET}{text}{SECRET}".encode()).hexdigest()  # noqa: S324
        params = {"app_key": "k", "method": "m", "param_json": "{}", "timestamp": "1"}
        verifier = ParamsVerifier(SECRET, uppercase=False)
        assert verifier.sign({**params, "v": "2"}) == expected

    def test_signed_adds_the_signature(self) -> None:
        assert ParamsVerifier(SECRET).signed(PDD_PARAMS) == {
            **PDD_PARAMS,
            "sign": md5_wrapped(SECRET, PDD_TEXT),
        }

    def test_an_other_param_name(self) -> None:
        verifier = ParamsVerifier(SECRET, param="signature")
        signed = verifier.signed(PDD_PARAMS)
        assert signed["signature"] == md5_wrapped(SECRET, PDD_TEXT)
        verifier.verify(signed)


def pdd_request() -> dict[str, str]:
    return {**PDD_PARAMS, "sign": md5_wrapped(SECRET, PDD_TEXT)}


class TestRefused:
    def test_a_changed_value(self) -> None:
        with pytest.raises(InvalidSignature) as caught:
            ParamsVerifier(SECRET).verify({**pdd_request(), "type": "pdd.refund.get"})
        assert caught.value.field == "sign"
        assert caught.value.value == pdd_request()["sign"]
        assert "does not sign these parameters" in str(caught.value)

    def test_a_missing_param(self) -> None:
        request = pdd_request()
        del request["order_sn"]
        with pytest.raises(InvalidSignature, match=r"^sign: does not sign"):
            ParamsVerifier(SECRET).verify(request)

    def test_an_extra_param(self) -> None:
        with pytest.raises(InvalidSignature, match=r"^sign: does not sign"):
            ParamsVerifier(SECRET).verify({**pdd_request(), "refund": "1"})

    def test_an_empty_param_is_not_signed(self) -> None:
        # As TOP's SDKs: an empty value is left out of the text signed.
        ParamsVerifier(SECRET).verify({**pdd_request(), "page": ""})

    def test_where_a_name_ends_is_not_signed(self) -> None:
        # The platforms' scheme, documented: names and values run together,
        # so data_typ=eJSON signs as data_type=JSON does.
        request = pdd_request()
        del request["data_type"]
        ParamsVerifier(SECRET).verify({**request, "data_typ": "eJSON"})

    def test_another_secret(self) -> None:
        with pytest.raises(InvalidSignature, match=r"^sign: does not sign"):
            ParamsVerifier("another").verify(pdd_request())

    def test_another_method(self) -> None:
        with pytest.raises(InvalidSignature):
            ParamsVerifier(SECRET, "hmac-md5").verify(pdd_request())
        with pytest.raises(InvalidSignature):
            ParamsVerifier(SECRET, "hmac-md5", wrapped=True).verify(pdd_request())

    @pytest.mark.parametrize("sign", [None, ""], ids=["absent", "empty"])
    def test_a_missing_signature(self, sign: str | None) -> None:
        request: dict[str, str] = dict(PDD_PARAMS)
        if sign is not None:
            request["sign"] = sign
        with pytest.raises(InvalidSignature) as caught:
            ParamsVerifier(SECRET).verify(request)
        assert (caught.value.field, caught.value.value) == ("sign", sign)
        assert "is missing" in str(caught.value)

    @pytest.mark.parametrize("sign", ["签名", "C7ADB8723B97CF6F593F7F39A67F24C"])
    def test_not_a_signature(self, sign: str) -> None:
        with pytest.raises(InvalidSignature):
            ParamsVerifier(SECRET).verify({**PDD_PARAMS, "sign": sign})

    def test_either_case_of_hex_verifies(self) -> None:
        # Hex has no case to sign: TOP writes upper, Douyin lower.
        request = pdd_request()
        ParamsVerifier(SECRET).verify({**request, "sign": request["sign"].lower()})
        ParamsVerifier(SECRET, uppercase=False).verify(request)


NOW = pendulum.datetime(2026, 11, 11, 2, 0)


class TestTimestamp:
    def unix(self) -> ParamsVerifier:
        return ParamsVerifier(SECRET, timestamp_param="timestamp")

    def test_within_the_tolerance(self) -> None:
        request = self.unix().signed({"type": "order"}, at=NOW)
        assert request["timestamp"] == str(int(NOW.timestamp()))
        self.unix().verify(request, now=NOW.add(minutes=4))
        self.unix().verify(request, now=NOW.subtract(minutes=5))

    @pytest.mark.parametrize(
        ("now", "side"),
        [(NOW.add(minutes=6), "before"), (NOW.subtract(hours=1), "after")],
    )
    def test_stale_or_early(self, now: pendulum.DateTime, side: str) -> None:
        request = self.unix().signed({"type": "order"}, at=NOW)
        with pytest.raises(InvalidSignature) as caught:
            self.unix().verify(request, now=now)
        assert caught.value.field == "timestamp"
        assert caught.value.value == request["timestamp"]
        assert f"s {side} now, more than the tolerance of 300 s" in str(caught.value)

    def test_the_signature_is_checked_first(self) -> None:
        request = self.unix().signed({"type": "order"}, at=NOW)
        request["timestamp"] = str(int(NOW.timestamp()) + 1)
        with pytest.raises(InvalidSignature, match=r"^sign: "):
            self.unix().verify(request, now=NOW)

    def test_a_tolerance_of_our_own(self) -> None:
        verifier = ParamsVerifier(
            SECRET, timestamp_param="timestamp", tolerance=dt.timedelta(hours=2)
        )
        verifier.verify(verifier.signed({}, at=NOW), now=NOW.add(hours=1))

    def test_top_local_time_in_its_zone(self) -> None:
        top = ParamsVerifier(
            TOP_SECRET, timestamp_param="timestamp", zone="Asia/Shanghai"
        )
        request = {**TOP_PARAMS, "sign": TOP_SIGN}
        sent = pendulum.datetime(2016, 1, 1, 4, 0)  # 12:00 in Beijing
        top.verify(request, now=sent.add(minutes=1))
        with pytest.raises(InvalidSignature, match=r"^timestamp: is 3600 s before"):
            top.verify(request, now=sent.add(hours=1))
        params = {k: v for k, v in TOP_PARAMS.items() if k != "timestamp"}
        assert top.signed(params, at=sent) == {**TOP_PARAMS, "sign": TOP_SIGN}

    def test_a_local_time_without_a_zone(self) -> None:
        request = {**TOP_PARAMS, "sign": TOP_SIGN}
        with pytest.raises(InvalidSignature, match=r"^timestamp: is a local time"):
            ParamsVerifier(TOP_SECRET, timestamp_param="timestamp").verify(
                request, now=NOW
            )

    @pytest.mark.parametrize(
        "stamp",
        [None, "", "yesterday", "1794326585000"],
        ids=["absent", "empty", "words", "milliseconds"],
    )
    def test_a_missing_or_unreadable_timestamp(self, stamp: str | None) -> None:
        params = {} if stamp is None else {"timestamp": stamp}
        request = self.unix().signed(params)
        with pytest.raises(InvalidSignature) as caught:
            self.unix().verify(request, now=NOW)
        assert (caught.value.field, caught.value.value) == ("timestamp", stamp)

    def test_now_is_needed(self) -> None:
        request = self.unix().signed({}, at=NOW)
        with pytest.raises(ValidationError, match=r"^now: is needed"):
            self.unix().verify(request)
        with pytest.raises(NaiveDatetime):
            self.unix().verify(request, now=dt.datetime(2026, 11, 11))  # noqa: DTZ001

    def test_at_needs_a_timestamp_param(self) -> None:
        with pytest.raises(ValidationError, match=r"^at: is signed only with"):
            ParamsVerifier(SECRET).sign({}, at=NOW)
        with pytest.raises(ValidationError, match=r"^at: is given twice"):
            self.unix().sign({"timestamp": "1"}, at=NOW)
        with pytest.raises(NaiveDatetime):
            self.unix().sign({}, at=dt.datetime(2026, 11, 11))  # noqa: DTZ001


class TestInputs:
    def test_a_list_of_values_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ParamsVerifier(SECRET).verify({**pdd_request(), "type": ["a", "b"]})  # type: ignore[dict-item]
        assert not isinstance(caught.value, InvalidSignature)
        assert (caught.value.field, caught.value.value) == ("type", "list")

    @pytest.mark.parametrize("params", [[("sign", "x")], "sign=x", None])
    def test_not_a_mapping(self, params: object) -> None:
        with pytest.raises(ValidationError, match=r"^params: "):
            ParamsVerifier(SECRET).verify(params)  # type: ignore[arg-type]

    def test_a_name_that_is_not_text(self) -> None:
        with pytest.raises(ValidationError, match=r"^params: names must be text"):
            ParamsVerifier(SECRET).sign({1: "x"})  # type: ignore[dict-item]

    def test_the_secret_stays_out_of_repr_and_errors(self) -> None:
        verifier = ParamsVerifier("top-secret-value")
        assert "top-secret-value" not in repr(verifier)
        with pytest.raises(InvalidSignature) as caught:
            verifier.verify(pdd_request())
        assert "top-secret-value" not in str(caught.value)

    def test_text_and_bytes_secrets_are_the_same_key(self) -> None:
        assert ParamsVerifier("秘密") == ParamsVerifier("秘密".encode())

    def test_the_error_crosses_processes(self) -> None:
        with pytest.raises(InvalidSignature) as caught:
            ParamsVerifier(SECRET).verify({})
        copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
        assert (copy.field, copy.value, str(copy)) == ("sign", None, str(caught.value))


class TestConfiguration:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"method": "sha1"}, "method"),
            ({"method": "md5", "wrapped": False}, "wrapped"),
            ({"param": ""}, "param"),
            ({"unsigned": "access_token"}, "unsigned"),
            ({"unsigned": [""]}, "unsigned"),
            (
                {"timestamp_param": "timestamp", "unsigned": ["timestamp"]},
                "timestamp_param",
            ),
            ({"timestamp_param": "sign"}, "timestamp_param"),
            ({"zone": "Asia/Shanghai"}, "zone"),
            ({"uppercase": "yes"}, "uppercase"),
            ({"method": "hmac-md5", "wrapped": 1}, "wrapped"),
            ({"tolerance": dt.timedelta(0)}, "tolerance"),
        ],
    )
    def test_refused(self, kwargs: dict[str, object], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            ParamsVerifier(SECRET, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field

    @pytest.mark.parametrize("secret", ["", b"", None], ids=["text", "bytes", "none"])
    def test_a_secret_is_needed(self, secret: object) -> None:
        with pytest.raises(ValidationError, match=r"^secret: "):
            ParamsVerifier(secret)

    def test_an_unknown_zone(self) -> None:
        with pytest.raises(ConfigurationError):
            ParamsVerifier(SECRET, timestamp_param="timestamp", zone="Mars/Olympus")

    def test_wrapped_follows_the_method(self) -> None:
        assert ParamsVerifier(SECRET).wrapped is True
        assert ParamsVerifier(SECRET, "hmac-sha256").wrapped is False


names = st.text(min_size=1, max_size=12)
values = st.text(min_size=1, max_size=24)
methods = st.sampled_from(["md5", "hmac-md5", "hmac-sha256"])


@given(
    params=st.dictionaries(names.filter(lambda n: n != "sign"), values, max_size=8),
    secret=st.text(min_size=1, max_size=16).filter(lambda s: s.isprintable()),
    method=methods,
)
def test_sign_then_verify_round_trips(
    params: dict[str, str], secret: str, method: str
) -> None:
    verifier = ParamsVerifier(secret, method)  # type: ignore[arg-type]
    verifier.verify(verifier.signed(params))


@given(
    params=st.dictionaries(
        names.filter(lambda n: n != "sign"), values, min_size=1, max_size=8
    ),
    method=methods,
    data=st.data(),
)
def test_any_one_character_changed_is_refused(
    params: dict[str, str], method: str, data: st.DataObject
) -> None:
    verifier = ParamsVerifier(SECRET, method)  # type: ignore[arg-type]
    request = verifier.signed(params)
    name = data.draw(st.sampled_from(sorted(request)), label="name")
    value = request[name]
    at = data.draw(st.integers(0, len(value) - 1), label="at")
    if name == "sign":
        # Another hex digit: a change of case only is the same signature.
        other = data.draw(st.sampled_from("0123456789ABCDEF"), label="other")
        assume(other != value[at])
    else:
        other = data.draw(st.characters(), label="other")
        assume(other != value[at])
    request[name] = value[:at] + other + value[at + 1 :]
    with pytest.raises(InvalidSignature, match=r"^sign: "):
        verifier.verify(request)
