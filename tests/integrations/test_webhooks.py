"""WebhookVerifier: a webhook is taken only with its channel's signature."""

from __future__ import annotations

import base64
import datetime as dt
import pickle
from pathlib import Path

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.channels import ShopifyPayloads, WooCommercePayloads
from orderkit.errors import InvalidSignature, NaiveDatetime, ValidationError
from orderkit.integrations import WebhookVerifier, load_json


FIXTURES = Path(__file__).parents[1] / "fixtures" / "channels"

# RFC 4231 test case 2 (HMAC-SHA-256, HMAC-SHA-512) and RFC 2202 test case 2
# (HMAC-SHA-1): published vectors, not computed by the code under test.
RFC_KEY = "Jefe"
RFC_DATA = b"what do ya want for nothing?"
RFC_VECTORS = {
    "sha1": "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    "sha256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "sha512": (
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    ),
}


class TestPublishedVectors:
    """The signatures are HMACs as the RFCs define them, in either encoding."""

    @pytest.mark.parametrize("digest", sorted(RFC_VECTORS))
    def test_hex(self, digest: str) -> None:
        verifier = WebhookVerifier(
            "X-Sig",
            RFC_KEY,
            digest=digest,  # type: ignore[arg-type]
            encoding="hex",
        )
        assert verifier.sign(RFC_DATA) == RFC_VECTORS[digest]
        verifier.verify(RFC_DATA, {"X-Sig": RFC_VECTORS[digest].upper()})

    @pytest.mark.parametrize("digest", sorted(RFC_VECTORS))
    def test_base64(self, digest: str) -> None:
        verifier = WebhookVerifier("X-Sig", RFC_KEY.encode(), digest=digest)  # type: ignore[arg-type]
        signature = base64.b64encode(bytes.fromhex(RFC_VECTORS[digest])).decode()
        assert verifier.sign(RFC_DATA) == signature
        verifier.verify(RFC_DATA, {"X-Sig": signature})

    def test_the_default_is_base64_sha256(self) -> None:
        verifier = WebhookVerifier("X-Sig", RFC_KEY)
        assert verifier.sign(RFC_DATA) == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="


class TestChannels:
    """Shopify and WooCommerce: their header, base64 HMAC-SHA256 of the body."""

    BODY = (
        FIXTURES / "shopify" / "order-3-line-items-discount-shipping.json"
    ).read_bytes()

    def test_shopify_signs_in_its_header(self) -> None:
        verifier = ShopifyPayloads.webhook_verifier("shpss_app-secret")
        assert verifier.header == "X-Shopify-Hmac-Sha256"
        reference = WebhookVerifier("X-Shopify-Hmac-Sha256", "shpss_app-secret")
        signature = reference.sign(self.BODY)
        # As Django and Starlette hand them over: lower-case names.
        verifier.verify(self.BODY, {"x-shopify-hmac-sha256": signature})
        records = ShopifyPayloads().parse(load_json(self.BODY), topic="orders/create")
        assert records

    def test_woocommerce_signs_in_its_header(self) -> None:
        verifier = WooCommercePayloads.webhook_verifier(b"wc-secret")
        assert verifier.header == "X-WC-Webhook-Signature"
        assert (verifier.digest, verifier.encoding) == ("sha256", "base64")

    def test_a_forged_paid_notice_is_refused(self) -> None:
        verifier = ShopifyPayloads.webhook_verifier("shpss_app-secret")
        signature = verifier.sign(self.BODY)
        forged = self.BODY.replace(b'"financial_status": "', b'"financial_status": "x')
        assert forged != self.BODY
        with pytest.raises(InvalidSignature) as caught:
            verifier.verify(forged, {"X-Shopify-Hmac-Sha256": signature})
        assert caught.value.field == "X-Shopify-Hmac-Sha256"
        assert caught.value.value == signature

    def test_another_shops_secret_is_refused(self) -> None:
        ours = ShopifyPayloads.webhook_verifier("ours")
        theirs = ShopifyPayloads.webhook_verifier("theirs")
        with pytest.raises(InvalidSignature):
            ours.verify(self.BODY, {"X-Shopify-Hmac-Sha256": theirs.sign(self.BODY)})


class TestRefusals:
    """Every way a signature can be absent or wrong is one typed error."""

    VERIFIER = WebhookVerifier("X-Sig", "secret")
    BODY = b'{"id": 1}'

    def test_missing_header(self) -> None:
        with pytest.raises(InvalidSignature) as caught:
            self.VERIFIER.verify(self.BODY, {"Content-Type": "application/json"})
        assert (caught.value.field, caught.value.value) == ("X-Sig", None)
        assert "missing" in str(caught.value)

    def test_a_header_looked_up_and_not_found_is_missing(self) -> None:
        # A host passing `{"X-Sig": request.headers.get("X-Sig")}`.
        with pytest.raises(InvalidSignature) as caught:
            self.VERIFIER.verify(self.BODY, {"X-Sig": None})
        assert (caught.value.field, caught.value.value) == ("X-Sig", None)
        assert "missing" in str(caught.value)

    @pytest.mark.parametrize("value", [12345, ["sig"]], ids=["number", "list"])
    def test_a_value_that_is_not_text_is_named_as_given(self, value: object) -> None:
        with pytest.raises(InvalidSignature) as caught:
            self.VERIFIER.verify(self.BODY, {"X-Sig": value})
        assert (caught.value.field, caught.value.value) == ("X-Sig", value)
        assert "is not a signature" in str(caught.value)

    def test_header_given_twice_with_different_values(self) -> None:
        good = self.VERIFIER.sign(self.BODY)
        with pytest.raises(InvalidSignature, match="twice"):
            self.VERIFIER.verify(self.BODY, {"X-Sig": good, "x-sig": "forged"})

    def test_header_given_twice_alike_is_one(self) -> None:
        good = self.VERIFIER.sign(self.BODY)
        self.VERIFIER.verify(self.BODY, {"X-Sig": good, "x-sig": good})

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "   ",
            "not base64 at all",
            "签名",
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
        ],
        ids=["empty", "blank", "garbage", "non-ascii", "other-body"],
    )
    def test_wrong_signature(self, value: str) -> None:
        with pytest.raises(InvalidSignature) as caught:
            self.VERIFIER.verify(self.BODY, {"X-Sig": value})
        assert caught.value.field == "X-Sig"

    def test_surrounding_whitespace_is_not_part_of_the_signature(self) -> None:
        self.VERIFIER.verify(
            self.BODY, {"X-Sig": f" {self.VERIFIER.sign(self.BODY)}\t"}
        )

    @pytest.mark.parametrize(
        "body", ['{"id": 1}', None, 1], ids=["text", "none", "number"]
    )
    def test_the_body_must_be_raw_bytes(self, body: object) -> None:
        with pytest.raises(ValidationError) as caught:
            self.VERIFIER.verify(body, {"X-Sig": "x"})  # type: ignore[arg-type]
        assert caught.value.field == "body"

    def test_bytearray_and_memoryview_are_bytes(self) -> None:
        good = {"X-Sig": self.VERIFIER.sign(self.BODY)}
        self.VERIFIER.verify(bytearray(self.BODY), good)  # type: ignore[arg-type]
        self.VERIFIER.verify(memoryview(self.BODY), good)  # type: ignore[arg-type]

    def test_headers_must_have_items(self) -> None:
        cookie = "Cookie: session=do-not-log-me"
        with pytest.raises(ValidationError) as caught:
            self.VERIFIER.verify(self.BODY, [("X-Sig", "x"), cookie])  # type: ignore[arg-type]
        assert caught.value.field == "headers"
        # Only the type is named: headers carry cookies and tokens.
        assert "do-not-log-me" not in str(caught.value)

    def test_headers_that_are_not_a_mapping_but_have_items(self) -> None:
        class Headers:
            """As werkzeug's (Flask's): not a Mapping, items() of pairs."""

            def __init__(self, *pairs: tuple[str, str]) -> None:
                self._pairs = pairs

            def items(self, lower: bool = False) -> list[tuple[str, str]]:  # noqa: FBT002 - werkzeug's signature
                return [(k.lower() if lower else k, v) for k, v in self._pairs]

        good = self.VERIFIER.sign(self.BODY)
        self.VERIFIER.verify(self.BODY, Headers(("Host", "shop"), ("X-Sig", good)))
        with pytest.raises(InvalidSignature, match="twice"):
            self.VERIFIER.verify(self.BODY, Headers(("X-Sig", good), ("X-Sig", "x")))

    def test_bytes_names_and_values_are_read_as_http_reads_them(self) -> None:
        # ASGI's raw headers: lower-case names and values in bytes.
        good = self.VERIFIER.sign(self.BODY).encode()
        self.VERIFIER.verify(self.BODY, {b"x-sig": good})
        with pytest.raises(InvalidSignature) as caught:
            self.VERIFIER.verify(b"{}", {b"x-sig": good})
        assert caught.value.value == good.decode()


class TestConfiguration:
    """A verifier is checked when made, and never shows its secret."""

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"header": "", "secret": "s"}, "header"),
            ({"header": "X\n", "secret": "s"}, "header"),
            ({"header": "X", "secret": ""}, "secret"),
            ({"header": "X", "secret": b""}, "secret"),
            ({"header": "X", "secret": 42}, "secret"),
            ({"header": "X", "secret": "s", "digest": "md5"}, "digest"),
            ({"header": "X", "secret": "s", "digest": ["sha256"]}, "digest"),
            ({"header": "X", "secret": "s", "encoding": "base32"}, "encoding"),
        ],
        ids=[
            "empty-header",
            "control-header",
            "empty-secret",
            "empty-bytes-secret",
            "number-secret",
            "md5",
            "unhashable-digest",
            "base32",
        ],
    )
    def test_refused(self, kwargs: dict[str, object], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            WebhookVerifier(**kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_the_secret_is_never_shown(self) -> None:
        secret = "shpss_do-not-log-me"  # noqa: S105 - a made-up one, to look for
        verifier = WebhookVerifier("X-Sig", secret)
        assert secret not in repr(verifier)
        with pytest.raises(InvalidSignature) as caught:
            verifier.verify(b"{}", {"X-Sig": "forged"})
        assert secret not in str(caught.value)
        with pytest.raises(ValidationError) as refused:
            WebhookVerifier("X-Sig", secret, digest="md5")  # type: ignore[arg-type]
        assert secret not in str(refused.value)

    def test_a_secret_that_is_not_utf8_text_is_refused_unseen(self) -> None:
        # What os.environ gives for bytes that are not UTF-8.
        secret = "TOPSECRETVALUE\udcff"  # noqa: S105 - made up, to look for
        with pytest.raises(ValidationError) as caught:
            WebhookVerifier("X-Sig", secret)
        assert caught.value.field == "secret"
        assert "TOPSECRET" not in repr(caught.value.args)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__

    def test_text_and_bytes_secrets_are_the_same_key(self) -> None:
        assert WebhookVerifier("X", "秘密") == WebhookVerifier("X", "秘密".encode())

    def test_the_error_crosses_processes(self) -> None:
        with pytest.raises(InvalidSignature) as caught:
            WebhookVerifier("X", "s").verify(b"{}", {})
        copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
        assert (copy.field, copy.value, str(copy)) == ("X", None, str(caught.value))


@given(body=st.binary(max_size=512), secret=st.binary(min_size=1, max_size=64))
def test_a_signature_verifies_only_its_own_body(body: bytes, secret: bytes) -> None:
    verifier = WebhookVerifier("X-Sig", secret)
    signature = verifier.sign(body)
    verifier.verify(body, {"X-Sig": signature})
    with pytest.raises(InvalidSignature):
        verifier.verify(body + b" ", {"X-Sig": signature})


# Published vectors of channels that sign more than the body: GitHub's
# (docs.github.com, "Validating webhook deliveries": a prefix) and Slack's
# ("Verifying requests from Slack": a prefix and a signed timestamp).
GITHUB_SECRET = "It's a Secret to Everybody"  # noqa: S105 - published
GITHUB_SIGNATURE = (
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # noqa: S105 - published
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&"
    b"user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url="
    b"https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F"
    b"96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    b"803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SLACK_SENT = pendulum.from_timestamp(1531420618)


def slack() -> WebhookVerifier:
    return WebhookVerifier(
        "X-Slack-Signature",
        SLACK_SECRET,
        encoding="hex",
        prefix="v0=",
        timestamp_header="X-Slack-Request-Timestamp",
        signed="v0:{timestamp}:{body}",
    )


def slack_headers(
    signature: str = SLACK_SIGNATURE, sent: str = "1531420618"
) -> dict[str, str]:
    return {"x-slack-signature": signature, "x-slack-request-timestamp": sent}


class TestPrefix:
    """A header that writes a prefix before the digest (GitHub's `sha256=`)."""

    def test_the_published_vector_verifies(self) -> None:
        github = WebhookVerifier(
            "X-Hub-Signature-256", GITHUB_SECRET, encoding="hex", prefix="sha256="
        )
        assert github.sign(b"Hello, World!") == GITHUB_SIGNATURE
        github.verify(b"Hello, World!", {"x-hub-signature-256": GITHUB_SIGNATURE})
        # The digest's case is free; the prefix is the channel's text.
        github.verify(
            b"Hello, World!",
            {"x-hub-signature-256": "sha256=" + GITHUB_SIGNATURE[7:].upper()},
        )

    @pytest.mark.parametrize(
        "signature",
        [
            GITHUB_SIGNATURE.removeprefix("sha256="),
            "sha1=" + GITHUB_SIGNATURE[7:],
            "sha256=",
        ],
        ids=["bare digest", "other prefix", "prefix alone"],
    )
    def test_a_signature_without_the_prefix_is_refused(self, signature: str) -> None:
        github = WebhookVerifier(
            "X-Hub-Signature-256", GITHUB_SECRET, encoding="hex", prefix="sha256="
        )
        with pytest.raises(InvalidSignature) as caught:
            github.verify(b"Hello, World!", {"x-hub-signature-256": signature})
        assert (caught.value.field, caught.value.value) == (
            "X-Hub-Signature-256",
            signature,
        )


class TestSignedTimestamp:
    """A channel signs when it sent the webhook: one posted again late is refused."""

    def test_the_published_vector_verifies_within_the_window(self) -> None:
        for now in (
            SLACK_SENT,
            SLACK_SENT.add(minutes=5),
            SLACK_SENT.subtract(minutes=5),
        ):
            slack().verify(SLACK_BODY, slack_headers(), now=now)

    def test_sign_and_headers_make_what_the_channel_sends(self) -> None:
        assert slack().sign(SLACK_BODY, at=SLACK_SENT) == SLACK_SIGNATURE
        assert slack().headers(SLACK_BODY, at=SLACK_SENT.add(microseconds=900_000)) == {
            "X-Slack-Signature": SLACK_SIGNATURE,
            "X-Slack-Request-Timestamp": "1531420618",
        }

    @pytest.mark.parametrize(
        ("minutes", "side"), [(6, "before"), (-6, "after")], ids=["replayed", "ahead"]
    )
    def test_a_time_outside_the_tolerance_is_refused(
        self, minutes: int, side: str
    ) -> None:
        with pytest.raises(InvalidSignature, match=f"360 s {side} now") as caught:
            slack().verify(
                SLACK_BODY, slack_headers(), now=SLACK_SENT.add(minutes=minutes)
            )
        assert caught.value.field == "X-Slack-Request-Timestamp"
        assert caught.value.value == "1531420618"

    def test_just_past_the_tolerance_says_how_far(self) -> None:
        now = SLACK_SENT.add(minutes=5, microseconds=1)
        with pytest.raises(InvalidSignature, match=r"300\.000001 s before now"):
            slack().verify(SLACK_BODY, slack_headers(), now=now)

    def test_the_tolerance_is_the_hosts(self) -> None:
        lenient = attrs.evolve(slack(), tolerance=dt.timedelta(minutes=10))
        lenient.verify(SLACK_BODY, slack_headers(), now=SLACK_SENT.add(minutes=6))

    def test_a_moved_timestamp_breaks_the_signature(self) -> None:
        # A replayer who writes a fresh time cannot sign it.
        with pytest.raises(InvalidSignature, match="does not sign this body"):
            slack().verify(SLACK_BODY, slack_headers(sent="1531420900"), now=SLACK_SENT)

    @pytest.mark.parametrize(
        "sent",
        ["1531420618000", "-1531420618", "1531420618.5", "soon", ""],
        ids=["millis", "signed", "fraction", "word", "empty"],
    )
    def test_a_timestamp_not_in_unix_seconds_is_named(self, sent: str) -> None:
        with pytest.raises(InvalidSignature, match="whole Unix seconds") as caught:
            slack().verify(SLACK_BODY, slack_headers(sent=sent), now=SLACK_SENT)
        assert (caught.value.field, caught.value.value) == (
            "X-Slack-Request-Timestamp",
            sent,
        )

    def test_a_missing_timestamp_is_named(self) -> None:
        with pytest.raises(InvalidSignature, match="is missing") as caught:
            slack().verify(
                SLACK_BODY, {"x-slack-signature": SLACK_SIGNATURE}, now=SLACK_SENT
            )
        assert caught.value.field == "X-Slack-Request-Timestamp"

    def test_now_is_needed_and_must_be_aware(self) -> None:
        with pytest.raises(ValidationError) as caught:
            slack().verify(SLACK_BODY, slack_headers())
        assert caught.value.field == "now"
        naive = dt.datetime(2018, 7, 12, 18, 36)  # noqa: DTZ001 - on purpose
        with pytest.raises(NaiveDatetime):
            slack().verify(SLACK_BODY, slack_headers(), now=naive)

    def test_at_is_needed_to_sign_a_time_and_refused_without_one(self) -> None:
        with pytest.raises(ValidationError) as caught:
            slack().sign(SLACK_BODY)
        assert caught.value.field == "at"
        with pytest.raises(ValidationError) as caught:
            WebhookVerifier("X-Sig", "s").sign(b"{}", at=SLACK_SENT)
        assert caught.value.field == "at"

    @pytest.mark.parametrize(
        ("options", "field"),
        [
            ({"signed": "{timestamp}.{body}"}, "signed"),
            ({"timestamp_header": "X-Time"}, "signed"),
            (
                {
                    "timestamp_header": "X-Time",
                    "signed": "{timestamp}{timestamp}{body}",
                },
                "signed",
            ),
            ({"signed": "{body}{body}"}, "signed"),
            ({"prefix": "版本="}, "prefix"),
            ({"tolerance": dt.timedelta(0)}, "tolerance"),
            (
                {"timestamp_header": " ", "signed": "{timestamp}.{body}"},
                "timestamp_header",
            ),
        ],
        ids=[
            "time without header",
            "header without time",
            "time twice",
            "body twice",
            "non-ascii prefix",
            "zero tolerance",
            "blank header",
        ],
    )
    def test_a_scheme_that_cannot_work_is_refused(
        self, options: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            WebhookVerifier("X-Sig", "s", **options)  # type: ignore[arg-type]
        assert caught.value.field == field
