"""Keyset paging with the next request sent early: a wrong early guess of the last `_id`, or a body cut
short, never changes which submissions are read."""

from __future__ import annotations

import orjson

from extract.kobo_pages import keyset_pages, last_id_in


class FakeKpi:
    """A KPI data endpoint over ids 1..n whose rows can end with a misleading nested `_id`."""

    def __init__(self, n: int, decoy: bool = False, cut_first: bool = False) -> None:
        self.ids = list(range(1, n + 1))
        self.decoy = decoy
        self.cut_first = cut_first
        self.requests: list[int | None] = []

    def _page(self, params: dict) -> dict:
        query = orjson.loads(params.get("query", "{}"))
        after = query.get("_id", {}).get("$gt")
        self.requests.append(after)
        rest = [i for i in self.ids if after is None or i > after]
        rows = [{"_id": i, "q": str(i)} for i in rest[: params["limit"]]]
        if self.decoy and rows:
            rows[-1]["_attachments"] = [{"_id": 999_999}]  # rfind sees this one first
        more = len(rest) > params["limit"]
        return {"count": len(rest), "next": "http://x/next" if more else None, "results": rows}

    def get_bytes(self, url: str, params: dict) -> bytes:
        body = orjson.dumps(self._page(params))
        if self.cut_first:
            self.cut_first = False
            return body[: len(body) // 2]
        return body

    def get_json(self, url: str, params: dict) -> dict:
        return self._page(params)


def _read(kpi: FakeKpi, max_pages: int | None = None) -> list[int]:
    return [r["_id"] for page in keyset_pages(kpi, "uid", 10, {}, None, max_pages) for r in page.rows]


def test_pages_read_every_id_once() -> None:
    kpi = FakeKpi(95)
    assert _read(kpi) == kpi.ids
    assert kpi.requests[:3] == [None, 10, 20]


def test_wrong_early_guess_is_asked_again() -> None:
    kpi = FakeKpi(35, decoy=True)
    assert last_id_in(kpi.get_bytes("", {"limit": 10})) == 999_999  # every early guess is wrong
    kpi.requests.clear()
    assert _read(kpi) == kpi.ids
    assert [r for r in kpi.requests if r != 999_999] == [None, 10, 20, 30]


def test_body_cut_short_is_fetched_again() -> None:
    kpi = FakeKpi(25, cut_first=True)
    assert _read(kpi) == kpi.ids


def test_bounded_run_stops_at_max_pages() -> None:
    kpi = FakeKpi(100)
    assert _read(kpi, max_pages=3) == kpi.ids[:30]
    assert max(r or 0 for r in kpi.requests) <= 20  # no request beyond the bound


def test_last_id_from_raw_body() -> None:
    assert last_id_in(b'{"results":[{"_id":3},{"x":"y","_id" : 41}]}') == 41
    assert last_id_in(b'{"results":[]}') is None
