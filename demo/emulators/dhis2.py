"""A DHIS2 Web API emulator for aggregate data: metadata lists, dataValueSets import and export, completeness.

Followed (dhis2/dhis2-core, the 2.42 line unless noted):
- import: `dhis-services/dhis-service-dxf2/.../datavalueset/DefaultDataValueSetService.java` (the order
  data set → values; `importCount` imported / updated / ignored / deleted; an unchanged value is ignored; a
  zero for a data element whose zeroIsSignificant is false is skipped; status WARNING when any conflict, and
  ERROR when the data set level aborts) and `DataValueSetImportValidator.java` with the conflict codes of
  `DataValueImportConflict.java` / `DataValueSetImportConflict.java` and the messages of
  `feedback/ErrorCode.java`
  (E7600 data set, E7603 org unit of the set, E7610 data element, E7611 period, E7612 org unit, E7613 /
  E7615 option combos, E7618 no value, E7619 value type);
- the conflict JSON: `dhis-api/.../dxf2/importsummary/ImportConflict.java` (object, objects, value,
  errorCode, property, indexes) and `ImportSummary.java` (responseType, status, importOptions, description,
  importCount, conflicts, rejectedIndexes, dataSetComplete), wrapped in a WebMessage
  (`dxf2/webmessage/WebMessageUtils.importSummary`: 200 OK / 200 WARNING / 409 Conflict ERROR);
- completeDate: registers the data set complete for the set's org unit and period (handleComplete), even
  in a dry run, as 2.42 does (2.43's `DataEntryPipeline` no longer does): a client must not send completeDate
  with dryRun=true;
- export: `GET /api/dataValueSets` needs a data set, a period and an org unit (errors E2001, E2002, E2006),
  with `children`, and writes ids in the requested idScheme / dataElementIdScheme / orgUnitIdScheme;
- `GET|POST /api/completeDataSetRegistrations` (CompleteDataSetRegistrationController);
- auth: HTTP Basic, or `Authorization: ApiToken <token>` (`security/apikey/ApiTokenResolver.java`); a
  failure is 401 with the WebMessage `unauthorized(...)` body (FormLoginBasicAuthenticationEntryPoint,
  DhisApiTokenAuthenticationEntryPoint: `WWW-Authenticate: ApiToken` and "The API token does not exists").

Values are kept in memory (a restarted emulator is an empty server); `POST /_emulator/reset` empties it.
Credentials: SANGAM_DHIS2_TOKEN and/or SANGAM_DHIS2_USERNAME + SANGAM_DHIS2_PASSWORD; never logged.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hmac
import io
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demo.emulators.dhis2_metadata import TYPES, Metadata, QueryError, metadata_file
from demo.emulators.faults import FaultInjector, FaultMiddleware

STRATEGIES = ("CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE")
_PERIOD_RES = [
    re.compile(r"^\d{4}$"),
    re.compile(r"^\d{4}(0[1-9]|1[0-2])$"),
    re.compile(r"^\d{4}Q[1-4]$"),
    re.compile(r"^\d{4}W([1-9]|[1-4]\d|5[0-3])$"),
    re.compile(r"^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"),
]
_INT_RE = re.compile(r"^(0|-?[1-9]\d*)$")
_NUM_RE = re.compile(r"^(-?0|-?[1-9]\d*)(\.\d+)?$")
# the i18n strings of ValidationUtils.valueIsValid keys (i18n_global.properties)
_VALUE_ERRORS = {
    "value_not_numeric": "Data value is not numeric",
    "value_not_integer": "Data value is not an integer",
    "value_not_positive_integer": "Data value is not a positive integer",
    "value_not_zero_or_positive_integer": "Data value is not zero or positive integer",
    "value_not_percentage": "Data value is not a percentage",
}


@dataclass(frozen=True)
class Dhis2Accounts:
    username: str | None = None
    password: str | None = None
    token: str | None = None


def dhis2_accounts_from_env() -> Dhis2Accounts:
    return Dhis2Accounts(
        os.environ.get("SANGAM_DHIS2_USERNAME") or None,
        os.environ.get("SANGAM_DHIS2_PASSWORD") or None,
        os.environ.get("SANGAM_DHIS2_TOKEN") or None,
    )


def valid_period(iso: str | None) -> bool:
    return bool(iso) and any(r.match(iso) for r in _PERIOD_RES)


def value_error(value: str, value_type: str) -> str | None:
    """ValidationUtils.valueIsValid for the numeric types aggregate reporting uses (other types pass)."""
    if value_type == "NUMBER":
        return None if _NUM_RE.match(value) else "value_not_numeric"
    if value_type == "PERCENTAGE":
        return None if _NUM_RE.match(value) and 0 <= float(value) <= 100 else "value_not_percentage"
    if value_type == "INTEGER":
        return None if _INT_RE.match(value) else "value_not_integer"
    if value_type == "INTEGER_POSITIVE":
        return None if re.match(r"^[1-9]\d*$", value) else "value_not_positive_integer"
    if value_type == "INTEGER_ZERO_OR_POSITIVE":
        return None if re.match(r"^(0|[1-9]\d*)$", value) else "value_not_zero_or_positive_integer"
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _message(http: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    names = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}
    return {
        "httpStatus": names.get(http, str(http)),
        "httpStatusCode": http,
        "status": status,
        "message": message,
        **extra,
    }


def _web_message(http: int, status: str, message: str, headers: dict | None = None, **extra: Any) -> Response:
    return JSONResponse(_message(http, status, message, **extra), http, headers=headers)


@dataclass
class _Summary:
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: list[int] = field(default_factory=list)
    aborted: bool = False

    def conflict(
        self, code: str, message: str, objects: dict[str, str], prop: str | None, index: int
    ) -> None:
        # ImportConflict groups by error code and objects; the indexes of the values accumulate
        key = code + ":" + ":".join(objects.values())
        found = self.conflicts.get(key)
        if found is None:
            found = {
                "object": next(iter(objects.values()), None),
                "objects": objects,
                "value": message,
                "errorCode": code,
                "property": prop,
            }
            found = {k: v for k, v in found.items() if v is not None}
            self.conflicts[key] = found
        if index >= 0:
            found.setdefault("indexes", []).append(index)


class Dhis2App:
    """The Starlette app serving one metadata file and an in-memory data value store."""

    def __init__(self, metadata: Metadata, accounts: Dhis2Accounts) -> None:
        self.meta = metadata
        self.accounts = accounts
        self.values: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        self.completions: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.imports: list[dict[str, Any]] = []  # one entry per POST /api/dataValueSets: for tests
        self.faults = FaultInjector()
        routes = [
            Route("/api/system/info", self.system_info),
            Route("/api/me", self.me),
            *(Route(f"/api/{kind}", self._lister(kind)) for kind in TYPES),
            Route("/api/dataValueSets", self.data_value_sets, methods=["GET", "POST"]),
            Route("/api/dataValueSets.json", self.data_value_sets, methods=["GET"]),
            Route("/api/completeDataSetRegistrations", self.registrations, methods=["GET", "POST"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
        ]
        self.starlette = Starlette(routes=routes)
        self.asgi = FaultMiddleware(self.starlette, self.faults, self._fault_body)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    @staticmethod
    def _fault_body(status: int, fault: Any) -> dict[str, Any]:
        return _message(status, "ERROR", "Too many requests" if status == 429 else "Internal server error")

    # ------------------------------------------------------------------ auth

    def _authenticate(self, request: Request) -> tuple[Response | None, str]:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "apitoken":
            token = credentials.strip()
            if (
                self.accounts.token
                and token
                and hmac.compare_digest(token.encode(), self.accounts.token.encode())
            ):
                return None, self.accounts.username or "sangam"
            return _web_message(
                401, "ERROR", "The API token does not exists", headers={"WWW-Authenticate": "ApiToken"}
            ), ""
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            a = self.accounts
            if (
                a.username
                and a.password
                and hmac.compare_digest(user.encode(), a.username.encode())
                and hmac.compare_digest(password.encode(), a.password.encode())
            ):
                return None, user
        return _web_message(
            401, "ERROR", "Unauthorized", headers={"WWW-Authenticate": 'Basic realm="DHIS2"'}
        ), ""

    # ------------------------------------------------------------------ small endpoints

    async def system_info(self, request: Request) -> Response:
        denied, _ = self._authenticate(request)
        if denied:
            return denied
        return JSONResponse(
            {**self.meta.system, "serverDate": _now(), "contextPath": str(request.base_url).rstrip("/")}
        )

    async def me(self, request: Request) -> Response:
        denied, user = self._authenticate(request)
        if denied:
            return denied
        return JSONResponse({"username": user, "name": user})

    def _lister(self, kind: str):
        async def handler(request: Request) -> Response:
            denied, _ = self._authenticate(request)
            if denied:
                return denied
            try:
                body = self.meta.list(kind, request.query_params, str(request.base_url).rstrip("/"))
            except QueryError as exc:
                return _web_message(400, "ERROR", str(exc))
            return JSONResponse(body)

        handler.__name__ = kind
        return handler

    async def reset(self, request: Request) -> Response:
        self.values.clear()
        self.completions.clear()
        self.imports.clear()
        return JSONResponse({"reset": True})

    # ------------------------------------------------------------------ data value sets

    async def data_value_sets(self, request: Request) -> Response:
        denied, user = self._authenticate(request)
        if denied:
            return denied
        if request.method == "GET":
            return self._export(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        raw = await request.body()
        try:
            if ctype == "application/json":
                doc = orjson.loads(raw or b"{}")
                if not isinstance(doc, dict):
                    raise ValueError("a data value set is a JSON object")
            elif ctype in ("application/csv", "text/csv"):
                doc = _csv_set(raw.decode("utf-8"))
            else:
                return _web_message(415, "ERROR", f"Content type '{ctype}' not supported")
        except (ValueError, orjson.JSONDecodeError) as exc:
            return _web_message(400, "ERROR", f"The import process failed: {exc}")
        summary, options = self._import(doc, request.query_params, user)
        self.imports.append({"dryRun": options["dryRun"], "values": len(doc.get("dataValues") or [])})
        return self._summary_response(summary, options, doc)

    def _import(self, doc: dict[str, Any], params: Any, user: str) -> tuple[_Summary, dict[str, Any]]:
        q = params
        dry = str(doc.get("dryRun", q.get("dryRun", "false"))).lower() == "true"
        strategy = (q.get("importStrategy") or q.get("strategy") or "CREATE_AND_UPDATE").upper()
        generic = (doc.get("idScheme") or q.get("idScheme") or "UID").upper()
        de_scheme = (doc.get("dataElementIdScheme") or q.get("dataElementIdScheme") or generic).upper()
        ou_scheme = (doc.get("orgUnitIdScheme") or q.get("orgUnitIdScheme") or generic).upper()
        ds_scheme = (doc.get("dataSetIdScheme") or q.get("dataSetIdScheme") or generic).upper()
        options = {
            "idSchemes": {
                "idScheme": generic,
                "dataElementIdScheme": de_scheme,
                "orgUnitIdScheme": ou_scheme,
                "dataSetIdScheme": ds_scheme,
            },
            "dryRun": dry,
            "importStrategy": strategy,
        }
        s = _Summary()
        meta = self.meta
        ds = meta.find("dataSets", doc.get("dataSet"), ds_scheme)
        set_ou = meta.find("organisationUnits", doc.get("orgUnit"), ou_scheme)
        set_aoc = meta.find("categoryOptionCombos", doc.get("attributeOptionCombo"), generic)
        if doc.get("dataSet") and ds is None:
            s.conflict(
                "E7600",
                f"Data set not found or not accessible: `{doc['dataSet']}`",
                {"dataSet": doc["dataSet"]},
                None,
                -1,
            )
        if doc.get("orgUnit") and set_ou is None:
            s.conflict(
                "E7603",
                f"Org unit not found or not accessible: `{doc['orgUnit']}`",
                {"organisationUnit": doc["orgUnit"], "dataSet": doc.get("dataSet") or ""},
                None,
                -1,
            )
        if doc.get("attributeOptionCombo") and set_aoc is None:
            aoc = doc["attributeOptionCombo"]
            s.conflict(
                "E7604",
                f"Attribute option combo not found or not accessible: `{aoc}`",
                {"categoryOptionCombo": aoc, "dataSet": doc.get("dataSet") or ""},
                None,
                -1,
            )
        if s.conflicts:
            s.aborted = True
            return s, options
        default = meta.default_combo()["id"]
        stamp = _now()
        for index, dv in enumerate(doc.get("dataValues") or []):
            if not isinstance(dv, dict):
                s.ignored += 1
                s.rejected.append(index)
                continue
            key, record = self._value(
                dv, doc, index, s, set_ou, set_aoc, default, (generic, de_scheme, ou_scheme)
            )
            if key is None:
                s.ignored += 1
                s.rejected.append(index)
                continue
            de = meta.find("dataElements", key[0])
            existing = self.values.get(key)
            value = record["value"]
            zero_insignificant = (
                value is not None
                and _NUM_RE.match(value) is not None
                and float(value) == 0
                and not de.get("zeroIsSignificant", False)
                and de.get("aggregationType") not in ("AVERAGE", "AVERAGE_SUM_ORG_UNIT")
            )
            if zero_insignificant and (existing is None or strategy == "CREATE"):
                continue  # skipped: DHIS2 stores no insignificant zeros
            if existing is not None:
                if strategy in ("CREATE_AND_UPDATE", "UPDATE"):
                    if value is None or zero_insignificant or dv.get("deleted") is True:
                        s.deleted += 1
                        if not dry:
                            del self.values[key]
                    elif existing["value"] == value and existing.get("comment") == record.get("comment"):
                        s.ignored += 1
                    else:
                        s.updated += 1
                        if not dry:
                            self.values[key] = {
                                **record,
                                "storedBy": user,
                                "created": existing["created"],
                                "lastUpdated": stamp,
                            }
                elif strategy == "DELETE":
                    s.deleted += 1
                    if not dry:
                        del self.values[key]
                else:
                    s.ignored += 1
                    s.rejected.append(index)
            elif strategy in ("CREATE_AND_UPDATE", "CREATE") and value is not None:
                s.imported += 1
                if not dry:
                    self.values[key] = {**record, "storedBy": user, "created": stamp, "lastUpdated": stamp}
            else:
                s.ignored += 1
                if strategy not in ("CREATE_AND_UPDATE", "CREATE"):
                    s.rejected.append(index)
        complete = doc.get("completeDate")
        s_complete = "false"
        if ds is not None and complete and str(complete).lower() != "false":
            if set_ou is None or not valid_period(doc.get("period")):
                what = "OrganisationUnit" if set_ou is None else "Period"
                s.conflict("E7600", "Must be provided to complete data set", {what: what}, None, -1)
            else:
                when = date.today().isoformat() if str(complete).lower() == "true" else str(complete)[:10]
                s_complete = when
                # 2.42's handleComplete does not look at dryRun
                reg_key = (ds["id"], doc["period"], set_ou["id"], set_aoc["id"] if set_aoc else default)
                self.completions[reg_key] = {"date": when, "storedBy": user, "lastUpdated": stamp}
        options["dataSetComplete"] = s_complete
        return s, options

    def _value(
        self,
        dv: dict[str, Any],
        doc: dict[str, Any],
        index: int,
        s: _Summary,
        set_ou: Any,
        set_aoc: Any,
        default: str,
        schemes: tuple[str, str, str],
    ):
        generic, de_scheme, ou_scheme = schemes
        meta = self.meta
        de = meta.find("dataElements", dv.get("dataElement"), de_scheme)
        if de is None:
            ident = str(dv.get("dataElement"))
            s.conflict(
                "E7610",
                f"Data element not found or not accessible: `{ident}`",
                {"dataElement": ident},
                "dataElement",
                index,
            )
            return None, None
        period = dv.get("period") or doc.get("period")
        if not valid_period(period):
            s.conflict("E7611", f"Period not valid: `{period}`", {"period": str(period)}, "period", index)
            return None, None
        ou = meta.find("organisationUnits", dv.get("orgUnit"), ou_scheme) if dv.get("orgUnit") else set_ou
        if ou is None:
            ident = str(dv.get("orgUnit") or doc.get("orgUnit"))
            s.conflict(
                "E7612",
                f"Organisation unit not found or not accessible: `{ident}`",
                {"organisationUnit": ident},
                "orgUnit",
                index,
            )
            return None, None
        coc_id = dv.get("categoryOptionCombo")
        coc = meta.find("categoryOptionCombos", coc_id, generic) if coc_id else None
        if coc_id and coc is None:
            s.conflict(
                "E7613",
                f"Category option combo not found or not accessible for writing data: `{coc_id}`",
                {"categoryOptionCombo": coc_id},
                "categoryOptionCombo",
                index,
            )
            return None, None
        aoc_id = dv.get("attributeOptionCombo")
        aoc = meta.find("categoryOptionCombos", aoc_id, generic) if aoc_id else set_aoc
        if aoc_id and aoc is None:
            s.conflict(
                "E7615",
                f"Attribute option combo not found or not accessible for writing data: `{aoc_id}`",
                {"categoryOptionCombo": aoc_id},
                "attributeOptionCombo",
                index,
            )
            return None, None
        raw = dv.get("value")
        value = None if raw is None or str(raw).strip() == "" else str(raw).strip()
        if value is None and dv.get("deleted") is not True and not dv.get("comment"):
            s.conflict(
                "E7618",
                f"Data value or comment not specified for data element: `{de['id']}`",
                {"dataElement": de["id"]},
                "value",
                index,
            )
            return None, None
        if value is not None:
            if de.get("valueType", "").startswith("INTEGER") and value.endswith(".0"):
                value = value[:-2]
            error = value_error(value, de.get("valueType", "TEXT"))
            if error:
                message = (
                    f"Value must match data element's `{de['id']}` type constraints: {_VALUE_ERRORS[error]}"
                )
                s.conflict("E7619", message, {"dataElement": de["id"], "value": error}, "value", index)
                return None, None
        key = (de["id"], period, ou["id"], coc["id"] if coc else default, aoc["id"] if aoc else default)
        return key, {
            "value": value,
            "comment": dv.get("comment") or None,
            "followup": bool(dv.get("followup")),
        }

    def _summary_response(self, s: _Summary, options: dict[str, Any], doc: dict[str, Any]) -> Response:
        status = "ERROR" if s.aborted else ("WARNING" if s.conflicts else "SUCCESS")
        summary = {
            "responseType": "ImportSummary",
            "status": status,
            "importOptions": {k: v for k, v in options.items() if k != "dataSetComplete"},
            "description": "Import process was aborted"
            if s.aborted
            else "Import process completed successfully",
            "importCount": {
                "imported": s.imported,
                "updated": s.updated,
                "ignored": s.ignored,
                "deleted": s.deleted,
            },
            "conflicts": list(s.conflicts.values()),
            "rejectedIndexes": s.rejected,
            "dataSetComplete": options.get("dataSetComplete", "false"),
        }
        if status == "ERROR":
            return _web_message(
                409, "ERROR", "An error occurred, please check import summary.", response=summary
            )
        if status == "WARNING":
            return _web_message(
                200,
                "WARNING",
                "Import completed with warnings, please check import summary.",
                response=summary,
            )
        return _web_message(200, "OK", "Import was successful.", response=summary)

    def _export(self, request: Request) -> Response:
        q = request.query_params
        generic = (q.get("idScheme") or "UID").upper()
        de_scheme = (q.get("dataElementIdScheme") or generic).upper()
        ou_scheme = (q.get("orgUnitIdScheme") or generic).upper()
        ds_ids, periods, ou_ids = q.getlist("dataSet"), q.getlist("period"), q.getlist("orgUnit")
        if not ds_ids and not q.getlist("dataElement"):
            return _web_message(
                409,
                "ERROR",
                "At least one data element, data set or data element group must be specified",
                errorCode="E2001",
            )
        if not periods and not (q.get("startDate") and q.get("endDate")):
            return _web_message(
                409,
                "ERROR",
                "At least one valid period, start/end dates, relative period must be specified",
                errorCode="E2002",
            )
        if not ou_ids:
            return _web_message(
                409,
                "ERROR",
                "At least one organisation unit or organisation unit group must be specified",
                errorCode="E2006",
            )
        elements: set[str] = set()
        for ident in ds_ids:
            ds = self.meta.find("dataSets", ident, generic) or self.meta.find("dataSets", ident)
            if ds is None:
                return _web_message(
                    409, "ERROR", f"Data set not found or not accessible: `{ident}`", errorCode="E1101"
                )
            elements |= {e["dataElement"]["id"] for e in ds.get("dataSetElements", [])}
        for ident in q.getlist("dataElement"):
            de = self.meta.find("dataElements", ident, de_scheme) or self.meta.find("dataElements", ident)
            if de is not None:
                elements.add(de["id"])
        units: set[str] = set()
        children = q.get("children", "false").lower() == "true"
        for ident in ou_ids:
            ou = self.meta.find("organisationUnits", ident, ou_scheme) or self.meta.find(
                "organisationUnits", ident
            )
            if ou is None:
                return _web_message(
                    409,
                    "ERROR",
                    f"Organisation unit not found or not accessible: `{ident}`",
                    errorCode="E1102",
                )
            units |= set(self.meta.descendants(ou["id"])) if children else {ou["id"]}
        rows = []
        for (de, pe, ou, coc, aoc), rec in sorted(self.values.items()):
            if de in elements and ou in units and (not periods or pe in periods):
                row = {
                    "dataElement": self.meta.ident("dataElements", de, de_scheme),
                    "period": pe,
                    "orgUnit": self.meta.ident("organisationUnits", ou, ou_scheme),
                    "categoryOptionCombo": self.meta.ident("categoryOptionCombos", coc, generic),
                    "attributeOptionCombo": self.meta.ident("categoryOptionCombos", aoc, generic),
                    "value": rec["value"],
                    "storedBy": rec["storedBy"],
                    "created": rec["created"],
                    "lastUpdated": rec["lastUpdated"],
                    "followup": rec["followup"],
                }
                if rec.get("comment"):
                    row["comment"] = rec["comment"]
                rows.append(row)
        body: dict[str, Any] = {}
        if len(ds_ids) == 1:
            body["dataSet"] = ds_ids[0]
        if len(periods) == 1:
            body["period"] = periods[0]
        if len(ou_ids) == 1 and not children:
            body["orgUnit"] = ou_ids[0]
        body["dataValues"] = rows
        return JSONResponse(body)

    # ------------------------------------------------------------------ completeness

    async def registrations(self, request: Request) -> Response:
        denied, user = self._authenticate(request)
        if denied:
            return denied
        if request.method == "POST":
            try:
                doc = orjson.loads(await request.body() or b"{}")
                items = doc.get("completeDataSetRegistrations") or []
            except (orjson.JSONDecodeError, AttributeError):
                return _web_message(400, "ERROR", "The import process failed: not a JSON object")
            imported = ignored = 0
            for reg in items:
                ds = self.meta.find("dataSets", reg.get("dataSet"))
                ou = self.meta.find("organisationUnits", reg.get("organisationUnit"))
                if ds is None or ou is None or not valid_period(reg.get("period")):
                    ignored += 1
                    continue
                aoc = reg.get("attributeOptionCombo") or self.meta.default_combo()["id"]
                key = (ds["id"], reg["period"], ou["id"], aoc)
                if reg.get("completed", True):
                    self.completions[key] = {
                        "date": reg.get("date") or date.today().isoformat(),
                        "storedBy": user,
                        "lastUpdated": _now(),
                    }
                else:
                    self.completions.pop(key, None)
                imported += 1
            summary = {
                "responseType": "ImportSummary",
                "status": "SUCCESS" if not ignored else "WARNING",
                "importCount": {"imported": imported, "updated": 0, "ignored": ignored, "deleted": 0},
                "conflicts": [],
            }
            return _web_message(200, "OK", "Import was successful.", response=summary)
        q = request.query_params
        ds_ids, periods, ou_ids = (
            set(q.getlist("dataSet")),
            set(q.getlist("period")),
            set(q.getlist("orgUnit")),
        )
        if q.get("children", "false").lower() == "true":
            ou_ids = {d for ou in ou_ids for d in self.meta.descendants(ou)}
        out = []
        for (ds, pe, ou, aoc), reg in sorted(self.completions.items()):
            if (
                (not ds_ids or ds in ds_ids)
                and (not periods or pe in periods)
                and (not ou_ids or ou in ou_ids)
            ):
                out.append(
                    {
                        "period": pe,
                        "dataSet": ds,
                        "organisationUnit": ou,
                        "attributeOptionCombo": aoc,
                        "date": reg["date"],
                        "storedBy": reg["storedBy"],
                        "lastUpdated": reg["lastUpdated"],
                        "completed": True,
                    }
                )
        return JSONResponse({"completeDataSetRegistrations": out})


def _csv_set(text: str) -> dict[str, Any]:
    """DHIS2's CSV import columns (CsvDataValueSetReader): the header row names them."""
    reader = csv.DictReader(io.StringIO(text))
    values = []
    for row in reader:
        values.append(
            {
                "dataElement": row.get("dataelement"),
                "period": row.get("period"),
                "orgUnit": row.get("orgunit"),
                "categoryOptionCombo": row.get("catoptcombo") or None,
                "attributeOptionCombo": row.get("attroptcombo") or None,
                "value": row.get("value"),
                "comment": row.get("comment") or None,
            }
        )
    return {"dataValues": values}


def build_dhis2_app(data_dir: Path | None = None, accounts: Dhis2Accounts | None = None) -> Dhis2App:
    """The emulator on the demo metadata (or `data_dir/dhis2/metadata.json`); credentials from the env."""
    return Dhis2App(Metadata.load(metadata_file(data_dir)), accounts or dhis2_accounts_from_env())
