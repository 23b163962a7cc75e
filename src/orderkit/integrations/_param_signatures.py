"""Who sent a request: the signature a platform puts among its parameters."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Final, Literal, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import positive_elapsed, text
from orderkit.errors import InvalidSignature, NaiveDatetime, ValidationError
from orderkit.integrations._reading import read_instant, read_unix, zone_named
from orderkit.integrations._webhooks import _one_of, _secret, check_window


__all__ = ["ParamsVerifier"]

_METHODS: Final = frozenset({"md5", "hmac-md5", "hmac-sha256"})
_HMAC_DIGESTS: Final = {"hmac-md5": "md5", "hmac-sha256": "sha256"}
# How a platform writes a local time (TOP's "2016-01-01 12:00:00").
_LOCAL_TIME: Final = "%Y-%m-%d %H:%M:%S"


def _names(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        # A bare string would leave out each of its letters.
        raise ValidationError(
            "unsigned", value, "must be a collection of parameter names"
        )
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValidationError(
                "unsigned", value, "every name must be non-empty text"
            )
    return frozenset(names)


def _wrapped_default(instance: ParamsVerifier) -> bool:
    return instance.method == "md5"


def _wrapped(instance: ParamsVerifier, _attribute: object, value: object) -> None:
    if not isinstance(value, bool):
        raise ValidationError("wrapped", value, "must be True or False")
    if instance.method == "md5" and not value:
        # An MD5 of the parameters alone is no signature: anyone can compute it.
        raise ValidationError(
            "wrapped", value, "must be True for md5: the secret is its only key"
        )


def _uppercase(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, bool):
        raise ValidationError("uppercase", value, "must be True or False")


def _timestamp_param(
    instance: ParamsVerifier, _attribute: object, value: str | None
) -> None:
    if value is None:
        return
    text("timestamp_param")(instance, _attribute, value)
    if value in instance.unsigned or value == instance.param:
        raise ValidationError(
            "timestamp_param", value, "must be signed: an unsigned time bounds nothing"
        )


def _zone(instance: ParamsVerifier, _attribute: object, value: str | None) -> None:
    if value is None:
        return
    if instance.timestamp_param is None:
        raise ValidationError(
            "zone", value, "reads the timestamp_param's local times: name it"
        )
    if not isinstance(value, str):
        raise ValidationError("zone", value, "must be an IANA zone name")
    zone_named(value)


@final
@attrs.frozen(slots=True)
class ParamsVerifier:
    """Checks that a request came from its platform: a signature among its parameters.

    Taobao (TOP), Pinduoduo, JD and Douyin (抖店) do not sign a body in a
    header, as `WebhookVerifier` checks: they sign the request's parameters
    (query or form) and send the signature as one more, `sign`. The
    parameters other than the signature, sorted by name, are written out
    name then value with nothing between (`app_key12345678formatjson...`);
    a parameter whose value is empty is left out, as TOP's SDKs leave it.
    Then, by `method`:

    - `"md5"` (TOP's `sign_method=md5`, Pinduoduo, JD, Douyin's `md5`): the
      MD5 of the secret, that text and the secret again;
    - `"hmac-md5"` (TOP's `sign_method=hmac`) and `"hmac-sha256"` (TOP's
      `hmac-sha256`): the HMAC of that text keyed by the secret. Douyin's
      `hmac-sha256` puts the secret around the text as well: `wrapped=True`.

    MD5, keyed by putting the secret around the text, is weak by today's
    measure; it is what these platforms sign with, not a choice of ours.
    It still authenticates the request: nobody without the secret can
    compute it. Only names and values are signed, one after the other, so
    `ab=c` and `a=bc` sign alike: read the parameters by the names the
    platform documents.

    Verify the very mapping you then read: a parameter sent twice is one
    value in Django's `request.GET` or Starlette's `query_params` (the
    last), and that value is the one the signature checks. A list of values
    (`urllib.parse.parse_qs`) is refused; use `dict(parse_qsl(query))`.

    With `timestamp_param`, `verify` needs `now` and refuses a request
    signed more than `tolerance` from it, one captured and sent again
    later. The timestamp is read as whole Unix seconds (Pinduoduo, Douyin),
    or as a local time (TOP's `"2016-01-01 12:00:00"`) in `zone`.

    Attributes:
        secret: The shared secret (the app secret, `client_secret`), as
            text (its UTF-8 bytes are the key) or bytes. Kept out of `repr`
            and of every error message.
        method: `"md5"` (the default), `"hmac-md5"` or `"hmac-sha256"`.
        param: The parameter holding the signature: `"sign"` by default.
            It is never signed.
        unsigned: Other parameters the platform leaves out of what it signs
            (Douyin's `access_token` and `sign_method`); none by default:
            TOP, Pinduoduo and JD sign every parameter but the signature.
        wrapped: Whether the secret goes before and after the text signed:
            always for `"md5"`, else `False` by default (TOP's HMACs).
        uppercase: Whether `sign` writes the hex digest upper-case, as TOP,
            Pinduoduo and JD do (the default); Douyin's is lower-case.
            `verify` takes either case.
        timestamp_param: The parameter holding when the platform signed
            the request (`"timestamp"`); `None` (the default) checks no
            time. It must be signed.
        zone: The IANA zone of a timestamp written as a local time without
            an offset (`"Asia/Shanghai"`); `None` (the default) for whole
            Unix seconds. `signed` writes local times when it is set.
        tolerance: How far from `now` a signed timestamp may be: five
            minutes by default.

    Example:
        >>> verifier = ParamsVerifier("s3cret")
        >>> request = verifier.signed({"app_key": "abc", "type": "order"})
        >>> verifier.verify(request)
        >>> verifier.verify({**request, "type": "refund"})
        Traceback (most recent call last):
        ...
        orderkit.errors.InvalidSignature: sign: ...

    .. versionadded:: 0.1.0
    """

    secret: bytes = attrs.field(converter=_secret, repr=False)
    method: Literal["md5", "hmac-md5", "hmac-sha256"] = attrs.field(
        default="md5", validator=_one_of("method", _METHODS)
    )
    param: str = attrs.field(default="sign", kw_only=True, validator=text("param"))
    unsigned: frozenset[str] = attrs.field(
        default=frozenset(), kw_only=True, converter=_names
    )
    wrapped: bool = attrs.field(
        default=attrs.Factory(_wrapped_default, takes_self=True),
        kw_only=True,
        validator=_wrapped,
    )
    uppercase: bool = attrs.field(default=True, kw_only=True, validator=_uppercase)
    timestamp_param: str | None = attrs.field(
        default=None, kw_only=True, validator=_timestamp_param
    )
    zone: str | None = attrs.field(default=None, kw_only=True, validator=_zone)
    tolerance: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=5),
        kw_only=True,
        validator=positive_elapsed("tolerance"),
    )

    def sign(self, params: Mapping[str, str], *, at: dt.datetime | None = None) -> str:
        """The signature the platform would send with `params`.

        For tests and fakes that send signed requests to a host's endpoint;
        `signed` gives the parameters with it. A signature already among
        `params` is not signed.

        Args:
            params: The parameters, names and values as text.
            at: When the platform signs them (timezone-aware), for a
                verifier with a `timestamp_param`: it is signed as that
                parameter, in whole seconds. Without it, `params` are
                signed as given.

        Raises:
            ValidationError: `params` is not a mapping of text to text, or
                `at` is given to a verifier without a `timestamp_param`, or
                `params` hold that parameter already.
            NaiveDatetime: `at` has no UTC offset.
        """
        return self._signature(self._stamped(params, at))

    def signed(
        self, params: Mapping[str, str], *, at: dt.datetime | None = None
    ) -> dict[str, str]:
        """`params` as the platform would send them: its time, its signature added.

        Raises:
            ValidationError: As `sign`.
            NaiveDatetime: As `sign`.
        """
        stamped = self._stamped(params, at)
        return {**stamped, self.param: self._signature(stamped)}

    def verify(
        self, params: Mapping[str, str], *, now: dt.datetime | None = None
    ) -> None:
        """Return if `params` carry their signature by the secret; raise otherwise.

        Args:
            params: The request's parameters, query or form, as received
                and decoded: Django's `request.GET`, Starlette's
                `query_params`, or a plain mapping of text to text.
            now: The time now (timezone-aware, your clock's), for a verifier
                with a `timestamp_param`; a signed time more than
                `tolerance` from it is refused.

        Raises:
            InvalidSignature: The signature is missing, or does not sign
                these parameters (a value changed, one added or left out,
                another secret); the timestamp is missing, not a time, or
                more than `tolerance` from `now` (`field` is the parameter,
                `value` what it held).
            ValidationError: `params` is not a mapping of text to text (a
                value that is a list of values too), or `now` is missing
                for a verifier with a `timestamp_param`.
            NaiveDatetime: `now` has no UTC offset.
        """
        given = _text_params(params)
        when = self._now(now)
        received = given.get(self.param)
        if not received:
            raise InvalidSignature(
                self.param, received, "is missing: the request is not signed"
            )
        sent = self._sent(given)
        # A digest is ASCII; anything else cannot match, and compare_digest
        # refuses non-ASCII text.
        if not received.isascii():
            raise InvalidSignature(self.param, received, "is not a signature")
        expected = self._signature(given)
        # Compared in constant time: a timing difference would let a forger
        # find the signature byte by byte. Hex has no case to sign.
        match = hmac.compare_digest(
            received.strip().lower().encode(), expected.lower().encode()
        )
        # The signature these parameters need stays in no frame an error
        # reporter might record.
        del expected
        if not match:
            raise InvalidSignature(
                self.param, received, "does not sign these parameters"
            )
        if sent is not None and when is not None:
            self._check_window(given, sent, when)

    def _signature(self, params: Mapping[str, str]) -> str:
        left_out = self.unsigned | {self.param}
        # Sorted by code point, which is the order of their UTF-8 bytes.
        joined = "".join(
            name + value
            for name, value in sorted(params.items())
            if value and name not in left_out
        )
        # surrogatepass: a lone surrogate signs as some bytes rather than
        # failing; no platform sends one, so it matches nothing.
        message = joined.encode("utf-8", "surrogatepass")
        if self.wrapped:
            message = self.secret + message + self.secret
        if self.method == "md5":
            # MD5: the platforms' scheme, keyed by the secret around the text.
            digest = hashlib.md5(message).hexdigest()  # noqa: S324
        else:
            digest = hmac.new(
                self.secret, message, _HMAC_DIGESTS[self.method]
            ).hexdigest()
        return digest.upper() if self.uppercase else digest

    def _stamped(
        self, params: Mapping[str, str], at: dt.datetime | None
    ) -> dict[str, str]:
        given = _text_params(params)
        if at is None:
            return given
        name = self.timestamp_param
        if name is None:
            raise ValidationError("at", at, "is signed only with a timestamp_param")
        if name in given:
            raise ValidationError(
                "at", at, f"is given twice: params hold {name} already"
            )
        instant = to_utc(at, "at")
        if self.zone is None:
            stamp = str(int(instant.timestamp()))
        else:
            stamp = instant.in_timezone(self.zone).strftime(_LOCAL_TIME)
        return {**given, name: stamp}

    def _now(self, now: dt.datetime | None) -> pendulum.DateTime | None:
        if self.timestamp_param is None:
            return None
        if now is None:
            raise ValidationError(
                "now",
                None,
                f"is needed: {self.timestamp_param} must be checked against it",
            )
        return to_utc(now, "now")

    def _sent(self, params: Mapping[str, str]) -> pendulum.DateTime | None:
        """The instant the timestamp parameter names."""
        name = self.timestamp_param
        if name is None:
            return None
        stamp = params.get(name)
        if not stamp:
            raise InvalidSignature(name, stamp, "is missing: the request is not dated")
        try:
            if stamp.isascii() and stamp.isdigit():
                return read_unix(stamp, path=name)
            return read_instant(stamp, path=name, zone=self.zone)
        except NaiveDatetime:
            raise InvalidSignature(
                name, stamp, "is a local time: name the zone the platform writes"
            ) from None
        except ValidationError:
            raise InvalidSignature(name, stamp, "is not a time") from None

    def _check_window(
        self, params: Mapping[str, str], sent: pendulum.DateTime, now: pendulum.DateTime
    ) -> None:
        name = self.timestamp_param
        assert name is not None  # noqa: S101 - only with a timestamp parameter
        check_window(name, params[name], sent, now, self.tolerance, "a request sent")


def _text_params(params: object) -> dict[str, str]:
    """`params` as a dict of text, refusing anything else by name and type only."""
    items = getattr(params, "items", None)
    if not isinstance(params, Mapping) or not callable(items):
        # Only the type: the parameters may hold an access token.
        problem = "must be the request's parameters (a mapping of text to text)"
        raise ValidationError("params", type(params).__name__, problem)
    given: dict[str, str] = {}
    for name, value in items():
        if not isinstance(name, str):
            raise ValidationError("params", type(name).__name__, "names must be text")
        if not isinstance(value, str):
            problem = (
                "must be one text value: pass a mapping of one value per name"
                " (request.GET, dict(parse_qsl(query)))"
            )
            raise ValidationError(name, type(value).__name__, problem)
        given[name] = value
    return given
