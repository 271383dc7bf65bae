"""Fault injection on both emulators (docs/contracts.md section 2), each fault seen by real HTTP clients."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import requests

from demo.emulators import running


@pytest.fixture(scope="module")
def servers(demo_world: Path):
    # A private pair of servers: armed faults must never leak into other tests' requests.
    with running(demo_world) as running_servers:
        yield running_servers


@pytest.fixture(autouse=True)
def _no_faults_left(servers):
    yield
    for url in (servers.kobo_url, servers.odk_url):
        httpx.delete(f"{url}/_emulator/faults")


@pytest.fixture(scope="module")
def targets(servers) -> dict[str, tuple[str, dict[str, str]]]:
    """One authenticated data URL per server."""
    kobo_headers = {"Authorization": f"Token {os.environ['SANGAM_KOBO_TOKEN']}"}
    assets = httpx.get(f"{servers.kobo_url}/api/v2/assets/", headers=kobo_headers).json()["results"]
    session = httpx.post(
        f"{servers.odk_url}/v1/sessions",
        json={"email": os.environ["SANGAM_ODK_EMAIL"], "password": os.environ["SANGAM_ODK_PASSWORD"]},
    ).json()
    odk_headers = {"Authorization": f"Bearer {session['token']}"}
    return {
        "kobo": (assets[0]["data"] + "?limit=50", kobo_headers),
        "odk": (f"{servers.odk_url}/v1/projects/1/forms/anc_visit.svc/Submissions?$top=50", odk_headers),
    }


def _arm(url: str, **fault: object) -> httpx.Response:
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    response = httpx.post(f"{base}/_emulator/faults", json=fault)
    assert response.status_code == 201, response.text
    return response


SERVERS = ["kobo", "odk"]


@pytest.mark.parametrize("server", SERVERS)
def test_429_has_retry_after_then_the_next_request_succeeds(targets, server: str) -> None:
    url, headers = targets[server]
    _arm(url, fault="429", times=1, retry_after=7)
    throttled = httpx.get(url, headers=headers)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "7"
    body = throttled.json()
    assert ("detail" in body) if server == "kobo" else (body["code"] == 429.1)
    assert httpx.get(url, headers=headers).status_code == 200


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_for_the_next_n_matching_requests(targets, server: str, status: int) -> None:
    url, headers = targets[server]
    _arm(url, fault=str(status), times=2)
    assert [httpx.get(url, headers=headers).status_code for _ in range(3)] == [status, status, 200]


def test_503_from_nginx_carries_retry_after_when_asked(targets) -> None:
    url, headers = targets["odk"]
    _arm(url, fault="503", retry_after=3)
    response = httpx.get(url, headers=headers)
    assert response.status_code == 503 and response.headers["retry-after"] == "3"
    assert "nginx" in response.text


def test_path_contains_limits_which_requests_fail(servers, targets) -> None:
    url, headers = targets["kobo"]
    _arm(url, fault="500", times=1, path_contains="/data/")
    # the asset list does not match, so it is served and the fault stays armed
    assert httpx.get(f"{servers.kobo_url}/api/v2/assets/", headers=headers).status_code == 200
    assert httpx.get(url, headers=headers).status_code == 500
    assert httpx.get(url, headers=headers).status_code == 200
    _arm(url, fault="500", path_contains="start=100")
    assert httpx.get(url, headers=headers).status_code == 200
    assert httpx.get(url.replace("limit=50", "limit=50&start=100"), headers=headers).status_code == 500


@pytest.mark.parametrize("server", SERVERS)
def test_slow_delays_then_answers(targets, server: str) -> None:
    url, headers = targets[server]
    _arm(url, fault="slow", delay=0.6)
    began = time.monotonic()
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200 and time.monotonic() - began >= 0.6
    with pytest.raises(httpx.ReadTimeout):
        _arm(url, fault="slow", delay=2)
        httpx.get(url, headers=headers, timeout=0.5)


@pytest.mark.parametrize("server", SERVERS)
def test_drop_closes_the_connection_without_a_response(targets, server: str) -> None:
    url, headers = targets[server]
    _arm(url, fault="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, headers=headers)
    _arm(url, fault="drop")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=headers, timeout=10)
    assert httpx.get(url, headers=headers).status_code == 200


@pytest.mark.parametrize("server", SERVERS)
def test_truncate_sends_fewer_bytes_than_content_length(targets, server: str) -> None:
    url, headers = targets[server]
    full = httpx.get(url, headers=headers).content
    _arm(url, fault="truncate")
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        lines = [
            f"GET {parts.path}?{parts.query} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Connection: keep-alive",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    assert length == len(full) and 0 < len(body) < length
    assert full.startswith(body)
    _arm(url, fault="truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, headers=headers)
    _arm(url, fault="truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, headers=headers, timeout=10).json()


def test_faults_are_listed_cleared_and_validated(servers, targets) -> None:
    url, headers = targets["odk"]
    _arm(url, fault="500", times=3, path_contains="anc_visit")
    listed = httpx.get(f"{servers.odk_url}/_emulator/faults").json()["faults"]
    assert listed == [
        {"fault": "500", "times": 3, "path_contains": "anc_visit", "retry_after": 1, "delay": 1.0}
    ]
    assert httpx.delete(f"{servers.odk_url}/_emulator/faults").json() == {"faults": []}
    assert httpx.get(url, headers=headers).status_code == 200
    for bad in ({"fault": "418"}, {"fault": "500", "times": 0}, {"fault": "slow", "delay": -1}, [1]):
        response = httpx.post(f"{servers.odk_url}/_emulator/faults", json=bad)
        assert response.status_code == 400 and "bad fault" in response.json()["error"]


def test_emulator_endpoints_are_never_faulted_and_need_no_auth(servers) -> None:
    _arm(servers.kobo_url, fault="500", times=5)
    assert httpx.post(f"{servers.kobo_url}/_emulator/reload").status_code == 200
    assert httpx.get(f"{servers.kobo_url}/_emulator/faults").json()["faults"][0]["times"] == 5
