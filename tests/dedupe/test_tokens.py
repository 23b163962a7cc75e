"""Claim tokens drawn in batches look and spread like `secrets.token_urlsafe(16)`."""

import base64
import collections
import ctypes
import os
import re

from orderkit.dedupe import _tokens
from orderkit.dedupe._tokens import draw_token


# token_urlsafe(16): 21 characters of 6 random bits, then 2 random bits and
# 4 zero bits.
TOKEN = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")


def test_a_token_is_16_random_bytes_in_url_safe_base64() -> None:
    for _ in range(3 * _tokens._BATCH):
        token = draw_token()
        assert TOKEN.fullmatch(token), token
        raw = base64.urlsafe_b64decode(token + "==")
        assert len(raw) == 16
        assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == token


def test_tokens_do_not_repeat_across_batches() -> None:
    tokens = [draw_token() for _ in range(50 * _tokens._BATCH)]
    assert len(set(tokens)) == len(tokens)


def test_every_character_position_is_random() -> None:
    tokens = [draw_token() for _ in range(200 * _tokens._BATCH)]
    last = collections.Counter(token[-1] for token in tokens)
    assert set(last) == set("AQgw")
    assert min(last.values()) > len(tokens) / 4 * 0.8
    for position in (0, 10, 20):
        spread = collections.Counter(token[position] for token in tokens)
        assert len(spread) == 64
        assert max(spread.values()) < len(tokens) / 64 * 1.5


def test_a_batch_is_drawn_only_when_the_pool_is_empty() -> None:
    _tokens._pool.clear()
    draw_token()
    assert len(_tokens._pool) == _tokens._BATCH - 1


def test_a_child_forked_without_python_hooks_draws_its_own_tokens() -> None:
    """A fork made by C code (a pre-forking server) runs no at-fork hook."""
    libc = ctypes.CDLL(None, use_errno=True)
    draw_token()  # the parent holds tokens it has not handed out
    read, write = os.pipe()
    child = libc.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, draw_token().encode())
        os._exit(0)
    os.close(write)
    try:
        childs = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(child, 0)
    assert TOKEN.fullmatch(childs)
    assert childs != draw_token()
