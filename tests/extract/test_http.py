"""The retrying client on its own: what is retried, how long it waits, what it says when it gives up."""

from __future__ import annotations

import time

import httpx
import pytest

from extract.http import ExtractError, HttpClient, _retry_after
from extract.prefetch import prefetch
from extract.run import scrub


def client_with(responses: list, **kwargs) -> tuple[HttpClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    c = HttpClient(
        "http://kobo.test", source="kobo", headers={"Authorization": "Token s3cret-value"}, **kwargs
    )
    c._client = httpx.Client(base_url="http://kobo.test", transport=httpx.MockTransport(handler),
                             headers={"Authorization": "Token s3cret-value"})  # fmt: skip
    return c, seen


def test_transient_failures_are_retried_with_retry_after() -> None:
    c, seen = client_with(
        [
            httpx.Response(503),
            httpx.Response(429, headers={"Retry-After": "0.3"}),
            httpx.ConnectError("dropped"),
            httpx.Response(200, content=b'{"count": 1, "resul'),  # truncated body
            httpx.Response(200, json={"count": 1, "results": [{"_id": 1}]}),
        ],
        backoff_base_s=0.01,
    )
    t0 = time.perf_counter()
    assert c.get_json("/api/v2/assets/x/data/") == {"count": 1, "results": [{"_id": 1}]}
    assert time.perf_counter() - t0 >= 0.3  # Retry-After honoured
    assert c.retries == 4 and len(seen) == 5


def test_client_errors_fail_at_once_with_status_and_no_secret() -> None:
    c, seen = client_with([httpx.Response(404, json={"detail": "Not found."})], backoff_base_s=0.01)
    with pytest.raises(ExtractError) as err:
        c.get_json("/api/v2/assets/nope/")
    assert err.value.status == 404 and len(seen) == 1
    assert str(err.value) == "kobo: GET /api/v2/assets/nope/ failed: HTTP 404 Not Found: Not found."
    assert "s3cret" not in str(err.value)


def test_gives_up_after_max_retries() -> None:
    c, seen = client_with([httpx.Response(500)] * 3, max_retries=2, backoff_base_s=0.01)
    with pytest.raises(ExtractError, match="failed after 3 attempts: HTTP 500"):
        c.get_json("/x")
    assert len(seen) == 3


def test_retry_after_forms() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("100000") == 300.0  # capped
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def test_scrub_replaces_secret_values() -> None:
    assert scrub("token abcd1234 leaked", ["abcd1234"]) == "token *** leaked"


def test_prefetch_keeps_order_and_reraises() -> None:
    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))

    def boom():
        yield 1
        raise ValueError("page 2 broke")

    got = []
    with pytest.raises(ValueError, match="page 2 broke"):
        for x in prefetch(boom()):
            got.append(x)
    assert got == [1]
    gen = prefetch(iter(range(1000)), depth=1)
    assert next(gen) == 0
    gen.close()  # a bounded run stops early: the producer thread must not hang
