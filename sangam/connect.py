"""`python -m sangam connect kobo|odk`: list a survey server's forms, pick some, add them to sources.yaml.

The server is asked only what a data person would look up by hand: KPI's asset list
(`GET /api/v2/assets/?q=asset_type:survey`, kpi/views/v2/asset.py, paged by `next`) or Central's project form
list with `X-Extended-Metadata: true` (central-backend docs/api.yaml, "Listing all Forms"). sources.yaml is
edited round-trip (ruamel.yaml), so its comments and key order stay; the result is validated with the same
parser the pipeline uses before anything is written. Any failure is one line and leaves the file untouched.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sangam.config import ConfigError, parse_config, sangam_home, secret
from sangam.naming import snake_case

DEFAULT_ENVS = {
    "kobo": {"token_env": "SANGAM_KOBO_TOKEN"},
    "odk": {"email_env": "SANGAM_ODK_EMAIL", "password_env": "SANGAM_ODK_PASSWORD"},
}
DEFAULT_SCHEDULES = {"kobo": "0 */6 * * *", "odk": "30 */6 * * *"}
_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ConnectError(RuntimeError):
    """One line for the user: what went wrong and what to do. Never holds a secret."""


@dataclass(frozen=True)
class RemoteForm:
    form_id: str  # KoBo asset uid or ODK xmlFormId
    name: str
    deployed: bool
    submissions: int | None
    last_submission: str | None


# ---------------------------------------------------------------- talking to the server


def _env(name: str) -> str:
    try:
        return secret(name)
    except ConfigError:
        where = "put it in the environment or in .env"
        raise ConnectError(f"environment variable {name} is not set ({where})") from None


def _get(client: httpx.Client, url: str, kind_label: str, secret_hint: str, **kw: Any) -> Any:
    """GET (or POST with json=) and return the parsed JSON, mapping every failure to one ConnectError line."""
    method = "POST" if "json" in kw else "GET"
    try:
        resp = client.request(method, url, **kw)
    except httpx.InvalidURL as exc:
        raise ConnectError(f"{client.base_url}: not a usable URL ({exc})") from None
    except httpx.TimeoutException:
        wait = client.timeout.read
        raise ConnectError(f"{client.base_url}: no answer in {wait:.0f} s; check the URL") from None
    except httpx.TransportError as exc:
        reason = type(exc).__name__
        raise ConnectError(f"{client.base_url}: cannot connect ({reason}); check the URL") from None
    path = httpx.URL(str(resp.request.url)).path
    article = "an" if kind_label[0] in "AEIOU" else "a"
    if resp.status_code in (401, 403):
        raise ConnectError(
            f"{client.base_url}: the server refused the credentials in {secret_hint} "
            f"({method} {path}: HTTP {resp.status_code}); check them"
        )
    if resp.status_code >= 400:
        raise ConnectError(
            f"{client.base_url} does not look like {article} {kind_label} server "
            f"({method} {path} answered HTTP {resp.status_code})"
        )
    try:
        return resp.json()
    except ValueError:
        raise ConnectError(
            f"{client.base_url} does not look like {article} {kind_label} server "
            f"({method} {path}: no JSON answer)"
        ) from None


def list_kobo_forms(url: str, token_env: str, *, timeout_s: float = 30) -> list[RemoteForm]:
    token = _env(token_env)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    forms: list[RemoteForm] = []
    client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, follow_redirects=True)
    with client as c:
        page: str | None = "/api/v2/assets/?q=asset_type:survey&limit=100"
        seen: set[str] = set()
        while page and page not in seen:
            seen.add(page)
            body = _get(c, page, "KoBoToolbox", token_env)
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise ConnectError(f"{url} does not look like a KoBoToolbox server (GET /api/v2/assets/)")
            for a in body["results"]:
                if not isinstance(a, dict) or a.get("asset_type", "survey") != "survey" or not a.get("uid"):
                    continue
                # kpi's list serializer: deployment__active, or deployment_status on newer servers
                deployed = bool(a.get("deployment__active")) or a.get("deployment_status") == "deployed"
                forms.append(RemoteForm(
                    form_id=str(a["uid"]), name=str(a.get("name") or a["uid"]), deployed=deployed,
                    submissions=a.get("deployment__submission_count"),
                    last_submission=a.get("deployment__last_submission_time"),
                ))  # fmt: skip
            page = body.get("next")
    return forms


def list_odk_projects(client: httpx.Client, hint: str) -> list[dict]:
    body = _get(client, "/v1/projects", "ODK Central", hint)
    if not isinstance(body, list):
        raise ConnectError(f"{client.base_url} does not look like an ODK Central server (GET /v1/projects)")
    return body


def _odk_client(url: str, email_env: str, password_env: str, timeout_s: float) -> httpx.Client:
    email, password = _env(email_env), _env(password_env)
    hint = f"{email_env} / {password_env}"
    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, follow_redirects=True,
                          headers={"Accept": "application/json"})  # fmt: skip
    try:
        login = {"email": email, "password": password}
        session = _get(client, "/v1/sessions", "ODK Central", hint, json=login)
    except ConnectError:
        client.close()
        raise
    token = session.get("token") if isinstance(session, dict) else None
    if not token:
        client.close()
        raise ConnectError(f"{url} does not look like an ODK Central server (POST /v1/sessions: no token)")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def list_odk_forms(
    url: str, project_id: int | None, email_env: str, password_env: str, *, timeout_s: float = 30
) -> tuple[int, list[RemoteForm]]:
    hint = f"{email_env} / {password_env}"
    c = _odk_client(url, email_env, password_env, timeout_s)  # already used for the log-in, so no `with`
    try:
        if project_id is None:
            projects = list_odk_projects(c, hint)
            if len(projects) != 1:
                names = ", ".join(f"{p.get('id')} ({p.get('name')})" for p in projects) or "none visible"
                raise ConnectError(f"{url}: choose a project with --project-id (projects: {names})")
            project_id = int(projects[0]["id"])
        body = _get(c, f"/v1/projects/{project_id}/forms", "ODK Central", hint,
                    headers={"X-Extended-Metadata": "true"})  # fmt: skip
        if not isinstance(body, list):
            where = f"GET /v1/projects/{project_id}/forms"
            raise ConnectError(f"{url} does not look like an ODK Central server ({where})")
        forms = [
            RemoteForm(
                form_id=str(f["xmlFormId"]),
                name=str(f.get("name") or f["xmlFormId"]),
                # a form never published (publishedAt null) is a draft; closed forms take no submissions
                deployed=f.get("publishedAt") is not None and f.get("state", "open") != "closed",
                submissions=f.get("submissions"),
                last_submission=f.get("lastSubmission"),
            )  # fmt: skip
            for f in body
            if isinstance(f, dict) and f.get("xmlFormId")
        ]
    finally:
        c.close()
    return project_id, forms


# ---------------------------------------------------------------- choosing


def format_forms(forms: Sequence[RemoteForm], configured: set[str]) -> str:
    rows = [("#", "form", "id", "deployed", "submissions", "last submission", "")]
    for i, f in enumerate(forms, 1):
        rows.append((str(i), f.name, f.form_id, "yes" if f.deployed else "no",
                     "" if f.submissions is None else str(f.submissions), f.last_submission or "",
                     "already in sources.yaml" if f.form_id in configured else ""))  # fmt: skip
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def parse_choice(text: str, n: int) -> list[int]:
    """'1,3-4' or 'all' → 0-based indexes; raises ConnectError on anything else."""
    text = text.strip().lower()
    if text in ("all", "*"):
        return list(range(n))
    picked: list[int] = []
    for part in filter(None, (p.strip() for p in text.replace(" ", ",").split(","))):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ConnectError(f"not a form number or range: {part!r}")
        for i in range(int(lo), int(hi or lo) + 1):
            if not 1 <= i <= n:
                raise ConnectError(f"no form number {i} (there are {n})")
            if i - 1 not in picked:
                picked.append(i - 1)
    if not picked:
        raise ConnectError("no form chosen")
    return picked


def choose(forms: Sequence[RemoteForm], *, all_forms: bool, wanted: Sequence[str], configured: set[str],
           ask: Callable[[str], str] | None) -> list[RemoteForm]:  # fmt: skip
    if wanted:
        by_id = {f.form_id: f for f in forms}
        missing = [w for w in wanted if w not in by_id]
        if missing:
            have = ", ".join(by_id) or "no forms"
            raise ConnectError(f"not on the server: {', '.join(missing)} (have: {have})")
        return [by_id[w] for w in wanted]
    if all_forms:
        return [f for f in forms if f.deployed]
    if ask is None:
        raise ConnectError("no form chosen: pass --all or --form ID (or run it in a terminal to pick)")
    return [forms[i] for i in parse_choice(ask("Forms to add (numbers like 1,3-4, or 'all'): "), len(forms))]


# ---------------------------------------------------------------- sources.yaml


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


def _table_name(form: RemoteForm, taken: set[str]) -> str:
    base = snake_case(form.name).strip("_")
    if not base or not _TABLE_RE.match(base) or not base.isascii():
        base = "form_" + snake_case(form.form_id).strip("_")
    base = re.sub(r"_+", "_", base)[:48].rstrip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _find_source(doc: CommentedMap, kind: str, url: str, project_id: int | None, name: str | None):
    for src in doc.get("sources") or []:
        if name is not None:
            if src.get("name") == name:
                if src.get("kind") != kind:
                    other = src.get("kind")
                    raise ConnectError(f"sources.yaml: source {name!r} is of kind {other!r}, not {kind!r}")
                return src
            continue
        same_url = str(src.get("url", "")).rstrip("/") == url.rstrip("/")
        same_project = kind != "odk" or int(src.get("project_id", -1)) == project_id
        if src.get("kind") == kind and same_url and same_project:
            return src
    return None


@dataclass
class Added:
    source: str
    forms: list[tuple[str, str]]  # (form id, table)
    already: list[str]
    new_source: bool


def add_forms(text: str, *, kind: str, url: str, project_id: int | None, chosen: Sequence[RemoteForm],
              source_name: str | None, envs: dict[str, str]) -> tuple[str, Added]:  # fmt: skip
    """sources.yaml text with the chosen forms added (comments and order kept), and what changed."""
    y = _yaml()
    doc = y.load(text) if text.strip() else CommentedMap()
    if doc is None:
        doc = CommentedMap()
    if "sources" not in doc or doc["sources"] is None:
        doc["sources"] = CommentedSeq()
    src = _find_source(doc, kind, url, project_id, source_name)
    new_source = src is None
    if new_source:
        names = {s.get("name") for s in doc["sources"]}
        name = source_name or kind
        n = 2
        while name in names:
            name, n = f"{source_name or kind}_{n}", n + 1
        src = CommentedMap()
        src["name"] = name
        src["kind"] = kind
        src["url"] = url.rstrip("/")
        if kind == "odk":
            src["project_id"] = project_id
        for key, env in envs.items():
            src[key] = env
        src["schedule"] = DEFAULT_SCHEDULES[kind]
        src["forms"] = CommentedSeq()
        doc["sources"].append(src)
    if src.get("forms") is None:
        src["forms"] = CommentedSeq()
    id_key = "uid" if kind == "kobo" else "xml_form_id"
    have = {str(f.get(id_key)) for f in src["forms"]}
    taken = {str(f.get("table") or snake_case(str(f.get(id_key)))) for f in src["forms"]}
    added, already = [], []
    for form in chosen:
        if form.form_id in have:
            already.append(form.form_id)
            continue
        entry = CommentedMap()
        entry[id_key] = form.form_id
        if kind == "kobo":
            table = _table_name(form, taken)
            entry["table"] = table
        else:
            table = snake_case(form.form_id)
            if not _TABLE_RE.match(table) or "__" in table or table in taken:
                table = _table_name(form, taken)
                entry["table"] = table
        taken.add(table)
        have.add(form.form_id)
        src["forms"].append(entry)
        added.append((form.form_id, table))
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue(), Added(str(src["name"]), added, already, new_source)


def write_validated(path: Path, text: str) -> None:
    """Validate with the pipeline's own parser, then replace the file atomically (its mode kept)."""
    try:
        parse_config(yaml.safe_load(text), home=sangam_home(), config_path=path)
    except ConfigError as exc:
        raise ConnectError(f"{path.name} would not be valid, nothing written: {exc}") from None
    tmp = path.with_name(f".{path.name}.connect.tmp")
    tmp.write_text(text, encoding="utf-8")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


# ---------------------------------------------------------------- the command


def connect(args: Any, *, ask: Callable[[str], str] | None, out: Callable[[str], None] = print) -> Added:
    kind: str = args.kind
    url = args.url.rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConnectError(f"--url: not an http(s) URL: {args.url!r}")
    envs = {k: getattr(args, k) or v for k, v in DEFAULT_ENVS[kind].items()}
    path = Path(args.sources or os.environ.get("SANGAM_SOURCES") or sangam_home() / "sources.yaml")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if kind == "kobo":
        project_id = None
        forms = list_kobo_forms(url, envs["token_env"])
    else:
        project_id, forms = list_odk_forms(url, args.project_id, envs["email_env"], envs["password_env"])
    if not forms:
        raise ConnectError(f"{url}: the server lists no forms these credentials can read")
    doc = yaml.safe_load(text) if text.strip() else {}
    configured: set[str] = set()
    for src in (doc or {}).get("sources") or []:
        if src.get("kind") == kind and str(src.get("url", "")).rstrip("/") == url:
            configured |= {str(f.get("uid") or f.get("xml_form_id")) for f in src.get("forms") or []}
    out(format_forms(forms, configured))
    chosen = choose(forms, all_forms=args.all, wanted=args.form or [], configured=configured, ask=ask)
    new_text, added = add_forms(text, kind=kind, url=url, project_id=project_id, chosen=chosen,
                                source_name=args.source, envs=envs)  # fmt: skip
    if not added.forms:
        have = ", ".join(added.already) or "no form"
        out(f"Nothing to add: {have} already in {path.name} (source {added.source!r}).")
        return added
    if args.dry_run:
        out(new_text)
        return added
    write_validated(path, new_text)
    what = "new source" if added.new_source else "source"
    out(f"Added {len(added.forms)} form(s) to {path} ({what} {added.source!r}): "
        + ", ".join(f"{fid} -> raw_{added.source}.{table}" for fid, table in added.forms))  # fmt: skip
    out("Next: make run   (loads the forms, builds staging and the form tables, publishes)")
    return added


def main(argv: Sequence[str] | None, parser_factory: Callable) -> int:
    args = parser_factory().parse_args(argv)
    ask = input if sys.stdin.isatty() and not (args.all or args.form) else None
    try:
        connect(args, ask=ask)
    except ConnectError as exc:
        print(f"sangam connect: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        print("sangam connect: cancelled, nothing written", file=sys.stderr)
        return 130
    return 0
