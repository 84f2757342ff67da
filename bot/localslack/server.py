"""A local Slack Web API: the methods tenderbot calls, over real HTTP, with a record of calls.

Tests, `tenderbot demo` and `tenderbot console` point the app's client at ``LocalSlack.url``.
It answers like Slack (``{"ok": true, ...}``, realistic ``ts`` values, threads), records every
call in order, and can be told to fail the next calls of a method. Like Slack it refuses
payloads over Slack's limits (``invalid_blocks``, ``invalid_arguments``, ``no_text``; see
``bot.localslack.limits``), so a builder that overruns fails every test and the demo.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.localslack.limits import message_problems, view_problems
from bot.localslack.socket_mode import SOCKET_PATH, SocketMode
from bot.localslack.state import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    SlackState,
    StoredFile,
    dm_channel_for,
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
DEFAULT_BACKOFFICE = "C0BACKOFFICE"
LOGIN_PAGE = "<!DOCTYPE html><html><body>Bei Slack anmelden</body></html>"
Predicate = Callable[[], bool]


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


@dataclass(frozen=True)
class ResponseTarget:
    """Where a slash command's or action's ``response_url`` leads."""

    user: str
    channel: str
    message_ts: str | None = None


class LocalSlack:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = SlackState()
        self._calls: list[Call] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._fault_plan: _FaultPlan | None = None
        self._response_targets: dict[str, ResponseTarget] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._observers: list[Callable[[Call], None]] = []
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_open,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "conversations.info": self._conversations_info,
            "apps.connections.open": lambda _params: self.socket_mode.open_connection(self.root),
        }
        self.socket_mode = SocketMode()
        # Channels the bot knows besides DMs; the default backoffice channel has it invited.
        self.state.conversations[DEFAULT_BACKOFFICE] = {
            "name": "backoffice",
            "members": {BOT_USER_ID},
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

    # -- the Python API tests, demo and console use ----------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        return [call for call in self._calls if method is None or call.method == method]

    def refusals(self) -> list[Call]:
        """Every payload refused for breaking Slack's limits (tests assert there are none)."""
        return [call for call in self._calls if call.problems]

    async def record_refused_ack(self, body: dict[str, Any], problems: list[str]) -> None:
        """An ack body (the app's HTTP answer to Slack) that Slack would not show."""
        call = Call("ack", body, body, {}, {}, status=200, problems=problems)
        call.response = {"ok": False, "error": "invalid_blocks"}
        await self._record(call)

    async def show_command_ack(self, user: str, channel: str, body: dict[str, Any]) -> None:
        """A slash command's ack that carries a message: Slack shows it to the user who
        typed the command, as it would a response_url answer (ephemeral, or in the channel)."""
        self._apply_response(ResponseTarget(user, channel, None), body)
        call = Call("ack", body, body, {}, {}, status=200)
        call.response = {"ok": True, "user": user, "channel": channel}
        await self._record(call)

    def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        if thread_ts is None:
            return list(self.state.channels.get(channel, []))
        return self.state.thread(channel, thread_ts)

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.state.ephemerals if user is None or e["user"] == user]

    def home(self, user: str) -> dict[str, Any] | None:
        return self.state.homes.get(user)

    def view(self, view_id: str) -> dict[str, Any] | None:
        return self.state.views.get(view_id)

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

    def add_user(
        self, user_id: str, name: str, image: str | None = None, *, is_bot: bool = False
    ) -> None:
        avatar = image or f"https://avatars.example/{user_id}.png"
        self.state.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "is_bot": is_bot,
            "profile": {
                "real_name": name,
                "display_name": name,
                "image_48": avatar,
                "image_72": avatar,
                "image_192": avatar,
            },
        }

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
        stored = StoredFile(
            id=file_id or self.state.new_id("F"),
            name=name,
            mimetype=mimetype,
            content=content,
            user=user,
        )
        self.state.files[stored.id] = stored
        return stored.as_dict(self.root)

    def add_channel(
        self, channel: str, name: str, *, bot_member: bool = True, private: bool = False
    ) -> None:
        """A channel as ``conversations.info`` shows it; the bot is in it unless told not."""
        members = {BOT_USER_ID} if bot_member else set()
        self.state.conversations[channel] = {"name": name, "members": members, "private": private}

    def file_input_upload(
        self, user: str, name: str, content: bytes, mimetype: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """A file ``user`` picked in a view's file input: Slack stores it, shares it nowhere,
        and puts this file object into the submitted view's state
        (``values[block][action] = {"type": "file_input", "files": [...]}``)."""
        stored = StoredFile(
            id=self.state.new_id("F"),
            name=name,
            mimetype=mimetype,
            content=content,
            user=user,
            from_file_input=True,
        )
        self.state.files[stored.id] = stored
        return stored.as_dict(self.root)

    def file_content(self, file_id: str) -> bytes:
        return self.state.files[file_id].content

    def response_url(self, user: str, channel: str, message_ts: str | None = None) -> str:
        """A ``response_url`` whose posts become what ``user`` sees in ``channel``."""
        token = secrets.token_hex(8)
        self._response_targets[token] = ResponseTarget(user, channel, message_ts)
        return f"{self.root}respond/{token}"

    def responses(self, user: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.state.responses if user is None or r["user"] == user]

    async def wait_for(self, predicate: Predicate, seconds: float = 30.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every recorded call. The bound
        is generous: it only ends a wait that will never succeed, and a loaded machine can
        take seconds for one request."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_calls(
        self, method: str, count: int = 1, seconds: float = 30.0
    ) -> list[Call]:
        await self.wait_for(lambda: len(self.calls(method)) >= count, seconds)
        return self.calls(method)

    async def settle(self, quiet: float = 0.3, seconds: float = 10.0) -> None:
        """Wait until no call came for ``quiet`` seconds: for the demo and console only.

        Tests wait for a predicate instead (``wait_for``), which never depends on timing.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if not await self._grows_within(quiet, len(self._calls)):
                return

    async def _grows_within(self, quiet: float, seen: int) -> bool:
        try:
            async with asyncio.timeout(quiet), self._changed:
                await self._changed.wait_for(lambda: len(self._calls) > seen)
        except TimeoutError:
            return False
        return True

    # -- HTTP ------------------------------------------------------------------------------

    def on_call(self, observer: Callable[[Call], None]) -> None:
        """Be told about every call as it is recorded (``tenderbot localslack`` prints them)."""
        self._observers.append(observer)

    async def _record(self, call: Call) -> None:
        self._calls.append(call)
        for observer in self._observers:
            observer(call)
        async with self._changed:
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, body_json, form = await _read_params(request)
        headers = {key.lower(): value for key, value in request.headers.items()}
        call = Call(method=method, params=params, json=body_json, form=form, headers=headers)
        response = self._answer(method, params, headers, call)
        await self._record(call)
        return response

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str], call: Call
    ) -> web.StreamResponse:
        pending = self._failures.get(method)
        planned = self._fault_plan.next_failure(method) if self._fault_plan else None
        if pending or planned:
            failure = pending.pop(0) if pending else planned
            assert failure is not None
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
        elif method not in self._handlers:
            call.response = {"ok": False, "error": "unknown_method"}
        else:
            try:
                call.response = self._handlers[method](params)
            except _SlackError as error:
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
        headers = {key.lower(): value for key, value in request.headers.items()}
        call = Call("upload", {"file_id": file_id, "length": len(content)}, None, {}, headers)
        if stored is None:
            call.status = 404
            await self._record(call)
            return web.Response(status=404, text="unknown upload")
        stored.content = content
        await self._record(call)
        return web.Response(text=f"OK - {len(content)}")

    async def _download(self, request: web.Request) -> web.Response:
        stored = self.state.files.get(request.match_info["file_id"])
        headers = {key.lower(): value for key, value in request.headers.items()}
        call = Call("download", {"file_id": request.match_info["file_id"]}, None, {}, headers)
        await self._record(call)
        if not _token({}, headers).startswith(("xoxb-", "xoxp-")):
            # Slack answers a request without a token with its sign-in page, not an error.
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if stored is None or not stored.visible_to_bot():
            call.status = 404
            return web.Response(status=404, text="file not found")
        return web.Response(body=stored.content, content_type=stored.mimetype)

    async def _respond(self, request: web.Request) -> web.Response:
        target = self._response_targets.get(request.match_info["token"])
        params, _json, _form = await _read_params(request)
        headers = {key.lower(): value for key, value in request.headers.items()}
        call = Call("response_url", params, _json, _form, headers)
        if target is None:
            call.status = 404
            await self._record(call)
            return web.Response(status=404, text="unknown response_url")
        problems = message_problems(_message_fields(params))
        if problems:
            # Slack answers a refused response_url post with HTTP 400 and the error code.
            call.status = 400
            call.problems = problems
            call.response = {"ok": False, "error": _message_error(problems)}
            await self._record(call)
            return web.Response(status=400, text=_message_error(problems))
        self._apply_response(target, params)
        call.response = {"ok": True, "user": target.user, "channel": target.channel}
        await self._record(call)
        return web.Response(text="ok")

    def _apply_response(self, target: ResponseTarget, params: dict[str, Any]) -> None:
        content = _message_fields(params)
        if params.get("delete_original") and target.message_ts:
            messages = self.state.channels.get(target.channel, [])
            self.state.channels[target.channel] = [
                m for m in messages if m["ts"] != target.message_ts
            ]
            return
        if params.get("replace_original") and target.message_ts:
            original = self.state.find(target.channel, target.message_ts)
            if original is not None:
                original.update(content)
                return
        if params.get("response_type") == "in_channel":
            self.state.post(target.channel, {**content, "user": BOT_USER_ID, "bot_id": BOT_ID})
            return
        self.state.responses.append(
            {
                **content,
                "user": target.user,
                "channel": target.channel,
                "ts": self.state.clock.next(),
            }
        )

    # -- Web API methods -------------------------------------------------------------------

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://tenderbot-local.slack.com/",
            "team": "tenderbot local",
            "user": "tenderbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        channel = str(params.get(key) or "")
        if not channel:
            raise _SlackError("channel_not_found")
        # Posting to a user id lands in that user's DM with the app, as in Slack.
        return dm_channel_for(channel) if channel.startswith(("U", "W")) else channel

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        content = _checked_message(params)
        if not content.get("text") and not content.get("blocks") and not params.get("attachments"):
            raise _SlackError("no_text")
        message: dict[str, Any] = {**content, "user": BOT_USER_ID, "bot_id": BOT_ID}
        for key in ("thread_ts", "username", "icon_url", "icon_emoji", "metadata"):
            if params.get(key):
                message[key] = params[key]
        if params.get("reply_broadcast") in (True, "true", "1"):
            message["subtype"] = "thread_broadcast"
        posted = self.state.post(channel, message)
        # A copy: the answer is what Slack stored then, not what later replies change.
        return {"ok": True, "channel": channel, "ts": posted["ts"], "message": dict(posted)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        user = str(params.get("user") or "")
        if not user:
            raise _SlackError("user_not_in_channel")
        content = _checked_message(params)
        ts = self.state.clock.next()
        entry = {**content, "user": user, "channel": channel, "ts": ts}
        if params.get("thread_ts"):
            entry["thread_ts"] = params["thread_ts"]
        self.state.ephemerals.append(entry)
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        message = self.state.find(channel, str(params.get("ts") or ""))
        if message is None:
            raise _SlackError("message_not_found")
        message.update(_checked_message(params))
        message["edited"] = {"user": BOT_USER_ID, "ts": self.state.clock.next()}
        return {"ok": True, "channel": channel, "ts": message["ts"], "text": message.get("text")}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("ts") or "")
        if self.state.find(channel, ts) is None:
            raise _SlackError("message_not_found")
        self.state.channels[channel] = [m for m in self.state.channels[channel] if m["ts"] != ts]
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("message_ts") or "")
        if self.state.find(channel, ts) is None:
            raise _SlackError("message_not_found")
        link = f"https://tenderbot-local.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _view_from(self, params: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or "type" not in view:
            raise _SlackError("invalid_arguments")
        problems = view_problems(view)
        if problems:
            raise _SlackError("invalid_arguments", problems)
        return {
            **view,
            "id": view_id or self.state.new_id("V"),
            "team_id": TEAM_ID,
            "hash": self.state.clock.next(),
            "state": {"values": {}},
            "bot_id": BOT_ID,
        }

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            raise _SlackError("invalid_trigger_id")
        view = self._view_from(params)
        self.state.views[view["id"]] = view
        return {"ok": True, "view": view}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next(
                (
                    key
                    for key, view in self.state.views.items()
                    if view.get("external_id") == params["external_id"]
                ),
                None,
            )
        if not view_id or view_id not in self.state.views:
            raise _SlackError("not_found")
        view = self._view_from(params, view_id=str(view_id))
        self.state.views[view["id"]] = view
        return {"ok": True, "view": view}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id") or "")
        if not user:
            raise _SlackError("invalid_arguments")
        view = self._view_from(params)
        self.state.homes[user] = view
        return {"ok": True, "view": view}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise _SlackError("users_list_not_supplied")
        channel = dm_channel_for(users[0])
        self.state.channels.setdefault(channel, [])
        return {"ok": True, "channel": {"id": channel, "is_im": True, "user": users[0]}}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        messages = self.state.thread(channel, str(params.get("ts") or ""))
        if not messages:
            raise _SlackError("thread_not_found")
        return {"ok": True, "messages": messages, "has_more": False}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        top_level = [
            m
            for m in self.state.channels.get(channel, [])
            if m.get("thread_ts") in (None, m["ts"]) and oldest < float(m["ts"]) <= latest
        ]
        limit = int(params.get("limit") or 100)
        newest_first = list(reversed(top_level))
        return {
            "ok": True,
            "messages": newest_first[:limit],
            "has_more": len(newest_first) > limit,
        }

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if channel.startswith("D"):
            return {"ok": True, "channel": {"id": channel, "is_im": True}}
        known = self.state.conversations.get(channel)
        private = bool(known and known.get("private"))
        if known is None or (private and BOT_USER_ID not in known["members"]):
            # Slack shows a private channel without the bot as if it did not exist.
            raise _SlackError("channel_not_found")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": known["name"],
                "is_channel": not private,
                "is_private": private,
                "is_member": BOT_USER_ID in known["members"],
            },
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.users.get(str(params.get("user") or ""))
        if user is None:
            raise _SlackError("user_not_found")
        return {"ok": True, "user": user}

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.state.files.get(str(params.get("file") or ""))
        if stored is None or not stored.visible_to_bot():
            raise _SlackError("file_not_found")
        return {"ok": True, "file": stored.as_dict(self.root)}

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        if not filename or not str(params.get("length") or "").isdigit():
            raise _SlackError("invalid_arguments")
        stored = StoredFile(
            id=self.state.new_id("F"),
            name=filename,
            mimetype=_guess_mimetype(filename),
            content=b"",
            user=BOT_USER_ID,
        )
        self.state.files[stored.id] = stored
        return {"ok": True, "upload_url": f"{self.root}upload/{stored.id}", "file_id": stored.id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("files")
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            raise _SlackError("invalid_arguments")
        channel_param = params.get("channel_id") or params.get("channels")
        thread_ts = params.get("thread_ts") or None
        shared: list[dict[str, Any]] = []
        for item in items:
            stored = self.state.files.get(str(item.get("id")))
            if stored is None:
                raise _SlackError("file_not_found")
            stored.title = str(item.get("title") or stored.name)
            shared.append(stored.as_dict(self.root))
        if channel_param:
            channel = self._channel({"channel": channel_param})
            message: dict[str, Any] = {
                "text": str(params.get("initial_comment") or ""),
                "files": shared,
                "upload": True,
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
            if thread_ts and self.state.find(channel, str(thread_ts)) is None:
                raise _SlackError("invalid_thread_ts")
            self.state.post(channel, message)
        return {"ok": True, "files": shared}

    def _reaction_target(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        channel = self._channel(params)
        message = self.state.find(channel, str(params.get("timestamp") or ""))
        if message is None:
            raise _SlackError("message_not_found")
        name = str(params.get("name") or "")
        if not name:
            raise _SlackError("invalid_name")
        return message, name

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        message, name = self._reaction_target(params)
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        if any(r["name"] == name for r in reactions):
            raise _SlackError("already_reacted")
        reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
        return {"ok": True}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        message, name = self._reaction_target(params)
        reactions = message.get("reactions", [])
        if not any(r["name"] == name for r in reactions):
            raise _SlackError("no_reaction")
        message["reactions"] = [r for r in reactions if r["name"] != name]
        return {"ok": True}


class _SlackError(Exception):
    def __init__(self, code: str, problems: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.problems = problems or []


def _message_error(problems: list[str]) -> str:
    """Slack's error code for a refused message: the blocks first, then the text."""
    if any("blocks must hold at most" in problem for problem in problems):
        return "msg_blocks_too_long"
    if any("[json-pointer:/blocks" in problem for problem in problems):
        return "invalid_blocks"
    if any("required" in problem for problem in problems):
        return "no_text"
    return "msg_too_long"


def _checked_message(params: dict[str, Any]) -> dict[str, Any]:
    content = _message_fields(params)
    problems = message_problems(content)
    if problems:
        raise _SlackError(_message_error(problems), problems)
    return content


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


def _message_fields(params: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if "text" in params:
        content["text"] = str(params["text"] or "")
    for key in ("blocks", "attachments"):
        value = params.get(key)
        if isinstance(value, str) and value:
            value = json.loads(value)
        if value:
            content[key] = value
    return content


def _guess_mimetype(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
