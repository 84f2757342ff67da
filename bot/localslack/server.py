"""The local Slack's HTTP transport: routes, tokens and injected faults around the Web API.

Tests, `tenderbot demo` and `tenderbot console` point the app's client at ``LocalSlack.url``.
Over real HTTP it answers the Web API methods (``bot.localslack.webapi``, functions over
``bot.localslack.state``), response_url posts and file up- and downloads, records each call
(``bot.localslack.recorder``), and can be told to fail calls: the next few of a method
(``fail_next``) or every n-th in a burst (``inject_faults``). ``LocalSlack`` is also the one
object tests and the demo hold: it hands their questions on to the state and the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.localslack import webapi
from bot.localslack.limits import message_problems
from bot.localslack.recorder import Predicate, Recorder
from bot.localslack.socket_mode import SOCKET_PATH, SocketMode
from bot.localslack.state import (
    BOT_USER_ID,
    Call,
    ResponseTarget,
    SlackState,
)

LOGIN_PAGE = "<!DOCTYPE html><html><body>Bei Slack anmelden</body></html>"


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int


@dataclass(frozen=True)
class Fault:
    """One way Slack fails: an HTTP status (429 with ``Retry-After``, 500 …) or, with
    ``error``, HTTP 200 with ``{"ok": false, "error": error}``."""

    status: int = 500
    error: str | None = None
    retry_after: int = 0


@dataclass
class _FaultPlan:
    methods: frozenset[str]
    every: int
    faults: tuple[Fault, ...]
    seen: int = 0

    def next_failure(self, method: str) -> _Failure | None:
        if method not in self.methods:
            return None
        self.seen += 1
        if self.seen % self.every:
            return None
        fault = self.faults[(self.seen // self.every - 1) % len(self.faults)]
        status = 200 if fault.error else fault.status
        return _Failure(status=status, error=fault.error, retry_after=fault.retry_after)


class LocalSlack:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = SlackState()
        self.recorder = Recorder()
        self.socket_mode = SocketMode()
        self._failures: dict[str, list[_Failure]] = {}
        self._fault_plan: _FaultPlan | None = None
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, webapi.Method] = {
            **webapi.METHODS,
            "apps.connections.open": lambda _state, _params: self.socket_mode.open_connection(
                self.root
            ),
        }

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> LocalSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}/{name}", self._download)
        app.router.add_post("/respond/{token}", self._respond)
        app.router.add_get(SOCKET_PATH, self.socket_mode.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.state.root = self.root
        return self

    async def stop(self) -> None:
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalSlack:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def url(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)``."""
        return f"{self.root}api/"

    # -- faults ----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        error: str | None = None,
        retry_after: int = 0,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an HTTP error or ``ok: false``.

        With ``error`` (e.g. ``"is_archived"``) Slack's HTTP 200 + ``ok: false`` is sent.
        ``retry_after`` defaults to 0 so a retrying client does not slow the tests down.
        """
        failure = _Failure(status=200 if error else status, error=error, retry_after=retry_after)
        self._failures.setdefault(method, []).extend([failure] * times)

    def inject_faults(self, methods: Iterable[str], *, every: int, faults: Sequence[Fault]) -> None:
        """Fail every ``every``-th call of ``methods`` (counted together) until
        ``clear_faults``, taking the ``faults`` in turn: a burst of a Slack outage."""
        if every < 1 or not faults:
            raise ValueError("inject_faults needs every >= 1 and at least one fault")
        self._fault_plan = _FaultPlan(frozenset(methods), every, tuple(faults))

    def clear_faults(self) -> None:
        self._fault_plan = None

    def _take_failure(self, method: str) -> _Failure | None:
        pending = self._failures.get(method)
        planned = self._fault_plan.next_failure(method) if self._fault_plan else None
        return pending.pop(0) if pending else planned

    # -- the record ------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        return self.recorder.calls(method)

    def refusals(self) -> list[Call]:
        """Every payload refused for breaking Slack's limits (tests assert there are none)."""
        return self.recorder.refusals()

    def on_call(self, observer: Callable[[Call], None]) -> None:
        """Be told about every call as it is recorded (``tenderbot localslack`` prints them)."""
        self.recorder.on_call(observer)

    async def wait_for(self, predicate: Predicate, seconds: float = 30.0) -> None:
        await self.recorder.wait_for(predicate, seconds)

    async def wait_for_calls(
        self, method: str, count: int = 1, seconds: float = 30.0
    ) -> list[Call]:
        return await self.recorder.wait_for_calls(method, count, seconds)

    async def settle(self, quiet: float = 0.3, seconds: float = 10.0) -> None:
        """Wait until no call came for ``quiet`` seconds: for the demo and console only."""
        await self.recorder.settle(quiet, seconds)

    async def record_refused_ack(self, body: dict[str, Any], problems: list[str]) -> None:
        """An ack body (the app's HTTP answer to Slack) that Slack would not show."""
        call = Call("ack", body, body, {}, {}, status=200, problems=problems)
        call.response = {"ok": False, "error": "invalid_blocks"}
        await self.recorder.record(call)

    async def show_command_ack(self, user: str, channel: str, body: dict[str, Any]) -> None:
        """A slash command's ack that carries a message: Slack shows it to the user who
        typed the command, as it would a response_url answer (ephemeral, or in the channel)."""
        webapi.respond(self.state, ResponseTarget(user, channel, None), body)
        call = Call("ack", body, body, {}, {}, status=200)
        call.response = {"ok": True, "user": user, "channel": channel}
        await self.recorder.record(call)

    # -- what Slack holds: set up by tests and the demo, read back by them -----------------

    def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        if thread_ts is None:
            return list(self.state.channels.get(channel, []))
        return self.state.thread(channel, thread_ts)

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.state.ephemerals if user is None or e["user"] == user]

    def responses(self, user: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.state.responses if user is None or r["user"] == user]

    def home(self, user: str) -> dict[str, Any] | None:
        return self.state.homes.get(user)

    def view(self, view_id: str) -> dict[str, Any] | None:
        return self.state.views.get(view_id)

    def file_content(self, file_id: str) -> bytes:
        return self.state.files[file_id].content

    def add_user(
        self, user_id: str, name: str, image: str | None = None, *, is_bot: bool = False
    ) -> None:
        self.state.add_user(user_id, name, image, is_bot=is_bot)

    def add_channel(
        self, channel: str, name: str, *, bot_member: bool = True, private: bool = False
    ) -> None:
        """A channel as ``conversations.info`` shows it; the bot is in it unless told not."""
        self.state.add_channel(channel, name, bot_member=bot_member, private=private)

    def add_file(
        self,
        name: str,
        content: bytes,
        mimetype: str = "application/octet-stream",
        *,
        user: str = BOT_USER_ID,
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a file as if a user uploaded it; returns Slack's file object."""
        stored = self.state.add_file(name, content, mimetype, user=user, file_id=file_id)
        return stored.as_dict(self.root)

    def file_input_upload(
        self, user: str, name: str, content: bytes, mimetype: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """A file ``user`` picked in a view's file input: Slack stores it, shares it nowhere,
        and puts this file object into the submitted view's state
        (``values[block][action] = {"type": "file_input", "files": [...]}``)."""
        stored = self.state.add_file(name, content, mimetype, user=user, from_file_input=True)
        return stored.as_dict(self.root)

    def response_url(self, user: str, channel: str, message_ts: str | None = None) -> str:
        """A ``response_url`` whose posts become what ``user`` sees in ``channel``."""
        token = self.state.new_token()
        self.state.response_targets[token] = ResponseTarget(user, channel, message_ts)
        return f"{self.root}respond/{token}"

    # -- HTTP ------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, body_json, form = await _read_params(request)
        headers = _headers(request)
        call = Call(method=method, params=params, json=body_json, form=form, headers=headers)
        call.peer = _peer(request)
        response = self._answer(method, params, headers, call)
        await self.recorder.record(call)
        return response

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str], call: Call
    ) -> web.StreamResponse:
        failure = self._take_failure(method)
        if failure is not None:
            call.status = failure.status
            if failure.error:
                call.response = {"ok": False, "error": failure.error}
                return web.json_response(call.response)
            extra = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else {}
            call.response = {"ok": False, "error": "ratelimited" if failure.status == 429 else ""}
            return web.json_response(call.response, status=failure.status, headers=extra)
        token = _token(params, headers)
        if not token:
            call.response = {"ok": False, "error": "not_authed"}
        elif (method == "apps.connections.open") != token.startswith("xapp-"):
            # Only an app-level token opens a socket, and it is good for nothing else.
            call.response = {"ok": False, "error": "not_allowed_token_type"}
        elif method not in self._methods:
            call.response = {"ok": False, "error": "unknown_method"}
        else:
            try:
                call.response = self._methods[method](self.state, params)
            except webapi.SlackError as error:
                call.response = {"ok": False, "error": error.code}
                if error.problems:
                    call.problems = list(error.problems)
                    call.response["errors"] = call.problems
                    call.response["response_metadata"] = {
                        "messages": [f"[ERROR] {problem}" for problem in call.problems]
                    }
        return web.json_response(call.response)

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        stored = self.state.files.get(file_id)
        content = await request.read()
        call = Call(
            "upload", {"file_id": file_id, "length": len(content)}, None, {}, _headers(request)
        )
        if stored is None:
            call.status = 404
            await self.recorder.record(call)
            return web.Response(status=404, text="unknown upload")
        stored.content = content
        await self.recorder.record(call)
        return web.Response(text=f"OK - {len(content)}")

    async def _download(self, request: web.Request) -> web.Response:
        stored = self.state.files.get(request.match_info["file_id"])
        headers = _headers(request)
        call = Call("download", {"file_id": request.match_info["file_id"]}, None, {}, headers)
        await self.recorder.record(call)
        if not _token({}, headers).startswith(("xoxb-", "xoxp-")):
            # Slack answers a request without a token with its sign-in page, not an error.
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if stored is None or not stored.visible_to_bot():
            call.status = 404
            return web.Response(status=404, text="file not found")
        return web.Response(body=stored.content, content_type=stored.mimetype)

    async def _respond(self, request: web.Request) -> web.Response:
        target = self.state.response_targets.get(request.match_info["token"])
        params, body_json, form = await _read_params(request)
        call = Call("response_url", params, body_json, form, _headers(request))
        if target is None:
            call.status = 404
            await self.recorder.record(call)
            return web.Response(status=404, text="unknown response_url")
        problems = message_problems(webapi.message_fields(params))
        if problems:
            # Slack answers a refused response_url post with HTTP 400 and the error code.
            call.status = 400
            call.problems = problems
            call.response = {"ok": False, "error": webapi.message_error(problems)}
            await self.recorder.record(call)
            return web.Response(status=400, text=webapi.message_error(problems))
        webapi.respond(self.state, target, params)
        call.response = {"ok": True, "user": target.user, "channel": target.channel}
        await self.recorder.record(call)
        return web.Response(text="ok")


def _headers(request: web.Request) -> dict[str, str]:
    return {key.lower(): value for key, value in request.headers.items()}


async def _read_params(
    request: web.Request,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    """Merge query, form and JSON like Slack does: slack_sdk sends each of them."""
    params: dict[str, Any] = dict(request.query)
    body_json: dict[str, Any] | None = None
    form: dict[str, str] = {}
    raw = await request.read()
    content_type = request.content_type
    if raw and content_type == "application/json":
        loaded = json.loads(raw)
        body_json = loaded if isinstance(loaded, dict) else {"_": loaded}
        params.update(body_json)
    elif raw and content_type == "multipart/form-data":
        multipart = await request.post()
        form = {key: str(value) for key, value in multipart.items()}
        params.update(form)
    elif raw:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        params.update(form)
    return params, body_json, form


def _token(params: dict[str, Any], headers: dict[str, str]) -> str:
    authorization = headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip()
    return str(params.get("token") or "")


def _peer(request: web.Request) -> str:
    address = request.transport.get_extra_info("peername") if request.transport else None
    return f"{address[0]}:{address[1]}" if address else ""
