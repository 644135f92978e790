"""A fake GitHub REST API on loopback, for tests and benchmarks (a test double that ships).

`FakeGitHub` is a FastAPI app that speaks the part of GitHub's REST API the PR bot uses, with
the same shapes and limits: it checks the ``Authorization`` header on every call (plain tokens it
was given, installation tokens it issued, App JWTs verified with the App's public key), keeps
comments, check runs and commit statuses in memory, serves pull requests, their files and
commits, file contents by commit, collaborator permissions and team memberships, refuses
oversized comments, more than 50 annotations per request and long status descriptions, and
answers 403, 429 or 5xx on demand (`fail`). `serve()` runs it with uvicorn in a thread.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["FakeGitHub", "FakePull", "Fault", "generate_app_key"]

_BOT = {"login": "promogate[bot]", "id": 9000, "type": "Bot"}
_TOKEN_USER = {"login": "ci-bot", "id": 9001, "type": "User"}


def generate_app_key() -> tuple[str, str]:
    """A fresh RSA key pair for a fake App: (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class Fault:
    """Answer `status` (with `headers`) to the next `times` requests matching method and path."""

    method: str
    path: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakePull:
    """A pull request: its head and base commits, text, and changed files."""

    number: int
    head_sha: str
    base_sha: str
    title: str = "A change"
    body: str = ""
    head_ref: str = "feature"
    base_ref: str = "main"
    files: list[dict[str, Any]] = field(default_factory=list)
    commits: list[str] = field(default_factory=lambda: ["Change the pipeline"])


@dataclass
class _Repo:
    full_name: str
    pulls: dict[int, FakePull] = field(default_factory=dict)
    contents: dict[tuple[str, str], str] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeGitHub:
    """The fake API and its state; see the module docstring.

    Args:
        tokens: Plain tokens it accepts (they act as a user, ``ci-bot``).
        app_id: The fake App's id (the JWT issuer it accepts).
        app_public_key: The App's public PEM; App endpoints refuse every JWT without it.
        token_lifetime_s: Lifetime of the installation tokens it issues.
    """

    def __init__(
        self,
        *,
        tokens: tuple[str, ...] = ("ghp_test_token",),
        app_id: str = "4242",
        app_public_key: str | None = None,
        token_lifetime_s: float = 3600.0,
    ) -> None:
        self.plain_tokens = set(tokens)
        self.app_id = app_id
        self.app_public_key = app_public_key
        self.token_lifetime_s = token_lifetime_s
        self.bot_user: dict[str, Any] = dict(_BOT)
        self.token_user: dict[str, Any] = dict(_TOKEN_USER)
        self.repos: dict[str, _Repo] = {}
        self.teams: dict[tuple[str, str], set[str]] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.issued: dict[str, tuple[int, float]] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self.app = self._build()

    # -- seeding ----------------------------------------------------------------------------------

    def repo(self, full_name: str) -> _Repo:
        with self._lock:
            return self.repos.setdefault(full_name.lower(), _Repo(full_name))

    def put_file(self, repo: str, sha: str, path: str, text: str) -> None:
        self.repo(repo).contents[(sha, path)] = text

    def add_pull(
        self,
        repo: str,
        pull: FakePull,
        *,
        base_files: dict[str, str] | None = None,
        head_files: dict[str, str | None] | None = None,
    ) -> FakePull:
        """Add a pull request; `head_files` are the files it changes (None deletes one)."""
        r = self.repo(repo)
        base_files = base_files or {}
        for path, text in base_files.items():
            r.contents[(pull.base_sha, path)] = text
            r.contents.setdefault((pull.head_sha, path), text)
        pull.files = []
        for path, new_text in (head_files or {}).items():
            if new_text is None:
                r.contents.pop((pull.head_sha, path), None)
                status = "removed"
            else:
                r.contents[(pull.head_sha, path)] = new_text
                status = "modified" if path in base_files else "added"
            pull.files.append({"filename": path, "status": status, "additions": 1, "deletions": 0})
        r.pulls[pull.number] = pull
        return pull

    def push(self, repo: str, number: int, new_head: str, files: dict[str, str | None]) -> str:
        """A new push to a pull request: the head moves; returns the previous head sha."""
        r = self.repo(repo)
        pull = r.pulls[number]
        before = pull.head_sha
        for (sha, path), text in list(r.contents.items()):
            if sha == before:
                r.contents[(new_head, path)] = text
        changed = {f["filename"]: f for f in pull.files}
        for path, pushed in files.items():
            if pushed is None:
                r.contents.pop((new_head, path), None)
                changed[path] = {"filename": path, "status": "removed", "additions": 0}
            else:
                r.contents[(new_head, path)] = pushed
                known = (pull.base_sha, path) in r.contents
                status = "modified" if known else "added"
                changed[path] = {"filename": path, "status": status, "additions": 1}
        pull.files = list(changed.values())
        pull.head_sha = new_head
        return before

    def set_permission(self, repo: str, login: str, permission: str) -> None:
        self.repo(repo).permissions[login.lower()] = permission

    def add_team_member(self, org: str, team: str, login: str) -> None:
        self.teams.setdefault((org.lower(), team.lower()), set()).add(login.lower())

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `status` to the next `times` calls of `method` on paths matching the glob."""
        with self._lock:
            self.faults.append(Fault(method.upper(), path, status, times, dict(headers or {})))

    # -- reading state ----------------------------------------------------------------------------

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.repo(repo).comments if c["issue"] == number]

    def check_runs(self, repo: str, sha: str | None = None) -> list[dict[str, Any]]:
        runs = self.repo(repo).check_runs
        return [r for r in runs if sha is None or r["head_sha"] == sha]

    def statuses(self, repo: str, sha: str | None = None) -> list[dict[str, Any]]:
        found = self.repo(repo).statuses
        return [s for s in found if sha is None or s["sha"] == sha]

    # -- serving ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a free loopback port in a thread; yields the base URL."""
        import uvicorn

        port = _free_port()
        server = uvicorn.Server(
            # Idle connections stay open until the client closes them, as GitHub's do for minutes.
            uvicorn.Config(
                self.app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=300
            )
        )
        thread = threading.Thread(target=server.run, name="fake-github", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30.0
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fake GitHub server did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30.0)

    # -- the app ----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        return next(self._ids)

    def _who(self, request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return None
        if token in self.plain_tokens:
            return {"kind": "token", "user": self.token_user}
        issued = self.issued.get(token)
        if issued is not None and issued[1] > time.time():
            return {"kind": "installation", "user": self.bot_user, "installation": issued[0]}
        if self.app_public_key is not None and token.count(".") == 2:
            try:
                claims = jwt.decode(token, self.app_public_key, algorithms=["RS256"])
            except jwt.PyJWTError:
                return None
            if str(claims.get("iss")) == self.app_id:
                return {"kind": "jwt"}
        return None

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method in (method, "*") and fnmatchcase(path, fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _page(self, request: Request, items: list[Any], wrap: str | None = None) -> Response:
        per_page = min(100, int(request.query_params.get("per_page", 30)))
        page = int(request.query_params.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            params = dict(request.query_params)
            params.update({"page": str(page + 1), "per_page": str(per_page)})
            query = "&".join(f"{k}={v}" for k, v in params.items())
            headers["Link"] = (
                f'<{request.url.remove_query_params(list(params))}?{query}>; rel="next"'
            )
        body: Any = {"total_count": len(items), wrap: chunk} if wrap else chunk
        return JSONResponse(body, headers=headers)

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake GitHub")
        fake = self

        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Response:
            path = request.url.path
            fake.requests.append((request.method, path))
            fault = fake._fault(request.method, path)
            if fault is not None:
                return JSONResponse(
                    {"message": f"injected {fault.status}"},
                    status_code=fault.status,
                    headers=fault.headers,
                )
            who = fake._who(request)
            if who is None:
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            is_app_route = path.startswith("/app")
            if is_app_route != (who["kind"] == "jwt"):
                return JSONResponse(
                    {
                        "message": "A JSON web token could not be decoded"
                        if is_app_route
                        else "JWTs cannot call this endpoint"
                    },
                    status_code=401,
                )
            request.state.who = who
            response: Response = await call_next(request)
            return response

        def repo_of(owner: str, name: str) -> _Repo | None:
            return fake.repos.get(f"{owner}/{name}".lower())

        def not_found() -> JSONResponse:
            return JSONResponse({"message": "Not Found"}, status_code=404)

        @app.post("/app/installations/{installation_id}/access_tokens", status_code=201)
        def access_token(installation_id: int) -> dict[str, Any]:
            token = "ghs_" + secrets.token_hex(16)
            expires = time.time() + fake.token_lifetime_s
            fake.issued[token] = (installation_id, expires)
            at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
            return {"token": token, "expires_at": at}

        @app.get("/app")
        def the_app() -> dict[str, Any]:
            return {"id": int(fake.app_id), "slug": "promogate"}

        @app.get("/user")
        def user(request: Request) -> Any:
            who = request.state.who
            if who["kind"] != "token":
                return JSONResponse(
                    {"message": "Resource not accessible by integration"}, status_code=403
                )
            return who["user"]

        @app.get("/users/{login}")
        def user_by_login(login: str) -> Any:
            for u in (fake.bot_user, fake.token_user):
                if str(u["login"]).lower() == login.lower():
                    return u
            return not_found()

        @app.get("/repos/{owner}/{name}/pulls/{number}")
        def pull(owner: str, name: str, number: int) -> Any:
            r = repo_of(owner, name)
            if r is None or number not in r.pulls:
                return not_found()
            p = r.pulls[number]
            return {
                "number": p.number,
                "title": p.title,
                "body": p.body,
                "state": "open",
                "changed_files": len(p.files),
                "head": {"sha": p.head_sha, "ref": p.head_ref},
                "base": {"sha": p.base_sha, "ref": p.base_ref},
            }

        @app.get("/repos/{owner}/{name}/pulls/{number}/files")
        def pull_files(owner: str, name: str, number: int, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None or number not in r.pulls:
                return not_found()
            return fake._page(request, r.pulls[number].files)

        @app.get("/repos/{owner}/{name}/pulls/{number}/commits")
        def pull_commits(owner: str, name: str, number: int, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None or number not in r.pulls:
                return not_found()
            commits = [
                {"sha": f"{i:040x}", "commit": {"message": m}}
                for i, m in enumerate(r.pulls[number].commits, start=1)
            ]
            return fake._page(request, commits)

        @app.get("/repos/{owner}/{name}/contents/{path:path}")
        def contents(owner: str, name: str, path: str, ref: str) -> Any:
            r = repo_of(owner, name)
            text = r.contents.get((ref, path)) if r is not None else None
            if text is None:
                return not_found()
            raw = text.encode("utf-8")
            return {
                "type": "file",
                "path": path,
                "size": len(raw),
                "encoding": "base64",
                "content": base64.b64encode(raw).decode("ascii"),
            }

        @app.get("/repos/{owner}/{name}/issues/{number}/comments")
        def list_comments(owner: str, name: str, number: int, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None:
                return not_found()
            with fake._lock:
                found = [dict(c) for c in r.comments if c["issue"] == number]
            return fake._page(request, found)

        @app.post("/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
        async def create_comment(owner: str, name: str, number: int, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None or number not in r.pulls:
                return not_found()
            body = (await request.json()).get("body")
            if not isinstance(body, str) or len(body) > 65536:
                return JSONResponse(
                    {"message": "body is too long (maximum is 65536 characters)"}, status_code=422
                )
            comment = {
                "id": fake._next_id(),
                "issue": number,
                "body": body,
                "user": dict(request.state.who["user"]),
                "created_at": datetime.now(UTC).isoformat(),
            }
            with fake._lock:
                r.comments.append(comment)
            return comment

        @app.patch("/repos/{owner}/{name}/issues/comments/{comment_id}")
        async def update_comment(owner: str, name: str, comment_id: int, request: Request) -> Any:
            r = repo_of(owner, name)
            found = next((c for c in r.comments if c["id"] == comment_id), None) if r else None
            if found is None:
                return not_found()
            if found["user"]["id"] != request.state.who["user"]["id"]:
                return JSONResponse({"message": "Must be the comment's author"}, status_code=403)
            body = (await request.json()).get("body")
            if not isinstance(body, str) or len(body) > 65536:
                return JSONResponse({"message": "body is too long"}, status_code=422)
            found["body"] = body
            return found

        @app.delete("/repos/{owner}/{name}/issues/comments/{comment_id}", status_code=204)
        def delete_comment(owner: str, name: str, comment_id: int, request: Request) -> Response:
            r = repo_of(owner, name)
            found = next((c for c in r.comments if c["id"] == comment_id), None) if r else None
            if found is None or r is None:
                return not_found()
            with fake._lock:
                r.comments.remove(found)
            return Response(status_code=204)

        def check_run_problem(body: dict[str, Any]) -> str | None:
            annotations = (body.get("output") or {}).get("annotations") or []
            if len(annotations) > 50:
                return "Only 50 annotations may be sent per request"
            if body.get("status") == "completed" and not body.get("conclusion"):
                return "conclusion is required when status is completed"
            return None

        @app.post("/repos/{owner}/{name}/check-runs", status_code=201)
        async def create_check_run(owner: str, name: str, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None:
                return not_found()
            if request.state.who["kind"] != "installation":
                return JSONResponse(
                    {"message": "Resource not accessible by integration"}, status_code=403
                )
            body = await request.json()
            problem = check_run_problem(body)
            if problem:
                return JSONResponse({"message": problem}, status_code=422)
            run = {
                "id": fake._next_id(),
                "name": body["name"],
                "head_sha": body["head_sha"],
                "status": body.get("status", "queued"),
                "conclusion": body.get("conclusion"),
                "output": dict(body.get("output") or {}),
                "annotations": list((body.get("output") or {}).get("annotations") or []),
                "details_url": body.get("details_url"),
                "app": {"id": int(fake.app_id)},
            }
            run["output"].pop("annotations", None)
            with fake._lock:
                r.check_runs.append(run)
            return run

        @app.patch("/repos/{owner}/{name}/check-runs/{run_id}")
        async def update_check_run(owner: str, name: str, run_id: int, request: Request) -> Any:
            r = repo_of(owner, name)
            run = next((x for x in r.check_runs if x["id"] == run_id), None) if r else None
            if run is None:
                return not_found()
            if request.state.who["kind"] != "installation":
                return JSONResponse(
                    {"message": "Resource not accessible by integration"}, status_code=403
                )
            body = await request.json()
            problem = check_run_problem(body)
            if problem:
                return JSONResponse({"message": problem}, status_code=422)
            with fake._lock:
                for key in ("name", "status", "conclusion", "details_url"):
                    if key in body:
                        run[key] = body[key]
                if body.get("status") != "completed" and "status" in body:
                    run["conclusion"] = None
                output = dict(body.get("output") or {})
                if body.get("status") in ("in_progress", "queued"):
                    run["annotations"] = []
                run["annotations"].extend(output.pop("annotations", []) or [])
                run["output"].update(output)
            return run

        @app.get("/repos/{owner}/{name}/commits/{ref}/check-runs")
        def list_check_runs(owner: str, name: str, ref: str, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None:
                return not_found()
            wanted = request.query_params.get("check_name")
            runs = [
                x
                for x in r.check_runs
                if x["head_sha"] == ref and (wanted is None or x["name"] == wanted)
            ]
            return fake._page(request, runs, wrap="check_runs")

        @app.post("/repos/{owner}/{name}/statuses/{sha}", status_code=201)
        async def create_status(owner: str, name: str, sha: str, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None:
                return not_found()
            body = await request.json()
            if body.get("state") not in ("error", "failure", "pending", "success"):
                return JSONResponse({"message": "state is invalid"}, status_code=422)
            if len(str(body.get("description") or "")) > 140:
                return JSONResponse(
                    {"message": "description is too long (maximum is 140)"}, status_code=422
                )
            status = {
                "id": fake._next_id(),
                "sha": sha,
                "state": body["state"],
                "context": body.get("context", "default"),
                "description": body.get("description"),
                "target_url": body.get("target_url"),
                "creator": dict(request.state.who.get("user") or {}),
            }
            with fake._lock:
                r.statuses.append(status)
            return status

        @app.get("/repos/{owner}/{name}/commits/{ref}/statuses")
        def list_statuses(owner: str, name: str, ref: str, request: Request) -> Any:
            r = repo_of(owner, name)
            if r is None:
                return not_found()
            found = [s for s in reversed(r.statuses) if s["sha"] == ref]
            return fake._page(request, found)

        @app.get("/repos/{owner}/{name}/collaborators/{login}/permission")
        def permission(owner: str, name: str, login: str) -> Any:
            r = repo_of(owner, name)
            if r is None:
                return not_found()
            level = r.permissions.get(login.lower(), "none")
            permission = {"maintain": "write", "triage": "read"}.get(level, level)
            return {"permission": permission, "role_name": level, "user": {"login": login}}

        @app.get("/orgs/{org}/teams/{team}/memberships/{login}")
        def membership(org: str, team: str, login: str) -> Any:
            if login.lower() in fake.teams.get((org.lower(), team.lower()), set()):
                return {"state": "active", "role": "member"}
            return not_found()

        return app
