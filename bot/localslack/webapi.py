"""The Web API methods as functions over the local Slack's state, refusing what Slack refuses.

Each method takes the state and the request's parameters (query, form and JSON merged, as
Slack reads them) and returns Slack's answer, or raises ``SlackError`` with Slack's error
code. Payloads over Slack's limits are refused with Slack's codes (``invalid_blocks``,
``msg_too_long``, ``invalid_arguments`` …; see ``bot.localslack.limits``), so a builder that
overruns fails every test and the demo. Nothing here knows HTTP.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from typing import Any

from bot.localslack.limits import message_problems, view_problems
from bot.localslack.state import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    ResponseTarget,
    SlackState,
    dm_channel_for,
)

Params = dict[str, Any]
Method = Callable[[SlackState, Params], dict[str, Any]]


class SlackError(Exception):
    """Slack's ``{"ok": false, "error": code}``; ``problems`` say why a payload was refused."""

    def __init__(self, code: str, problems: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.problems = problems or []


def auth_test(_state: SlackState, _params: Params) -> dict[str, Any]:
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


def _channel(params: Params, key: str = "channel") -> str:
    channel = str(params.get(key) or "")
    if not channel:
        raise SlackError("channel_not_found")
    # Posting to a user id lands in that user's DM with the app, as in Slack.
    return dm_channel_for(channel) if channel.startswith(("U", "W")) else channel


def chat_post_message(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    content = checked_message(params)
    if not content.get("text") and not content.get("blocks") and not params.get("attachments"):
        raise SlackError("no_text")
    message: dict[str, Any] = {**content, "user": BOT_USER_ID, "bot_id": BOT_ID}
    for key in ("thread_ts", "username", "icon_url", "icon_emoji", "metadata"):
        if params.get(key):
            message[key] = params[key]
    if params.get("reply_broadcast") in (True, "true", "1"):
        message["subtype"] = "thread_broadcast"
    posted = state.post(channel, message)
    # A copy: the answer is what Slack stored then, not what later replies change.
    return {"ok": True, "channel": channel, "ts": posted["ts"], "message": dict(posted)}


def chat_post_ephemeral(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    user = str(params.get("user") or "")
    if not user:
        raise SlackError("user_not_in_channel")
    content = checked_message(params)
    ts = state.clock.next()
    entry = {**content, "user": user, "channel": channel, "ts": ts}
    if params.get("thread_ts"):
        entry["thread_ts"] = params["thread_ts"]
    state.ephemerals.append(entry)
    return {"ok": True, "message_ts": ts}


def chat_update(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    message = state.find(channel, str(params.get("ts") or ""))
    if message is None:
        raise SlackError("message_not_found")
    message.update(checked_message(params))
    message["edited"] = {"user": BOT_USER_ID, "ts": state.clock.next()}
    return {"ok": True, "channel": channel, "ts": message["ts"], "text": message.get("text")}


def chat_delete(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    ts = str(params.get("ts") or "")
    if state.find(channel, ts) is None:
        raise SlackError("message_not_found")
    state.channels[channel] = [m for m in state.channels[channel] if m["ts"] != ts]
    return {"ok": True, "channel": channel, "ts": ts}


def chat_get_permalink(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    ts = str(params.get("message_ts") or "")
    if state.find(channel, ts) is None:
        raise SlackError("message_not_found")
    link = f"https://tenderbot-local.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return {"ok": True, "channel": channel, "permalink": link}


def _view_from(state: SlackState, params: Params, view_id: str | None = None) -> dict[str, Any]:
    view = params.get("view")
    if isinstance(view, str):
        view = json.loads(view)
    if not isinstance(view, dict) or "type" not in view:
        raise SlackError("invalid_arguments")
    problems = view_problems(view)
    if problems:
        raise SlackError("invalid_arguments", problems)
    return {
        **view,
        "id": view_id or state.new_id("V"),
        "team_id": TEAM_ID,
        "hash": state.clock.next(),
        "state": {"values": {}},
        "bot_id": BOT_ID,
    }


def views_open(state: SlackState, params: Params) -> dict[str, Any]:
    if not params.get("trigger_id") and not params.get("interactivity_pointer"):
        raise SlackError("invalid_trigger_id")
    view = _view_from(state, params)
    state.views[view["id"]] = view
    return {"ok": True, "view": view}


def views_update(state: SlackState, params: Params) -> dict[str, Any]:
    view_id = params.get("view_id")
    if not view_id and params.get("external_id"):
        view_id = next(
            (
                key
                for key, view in state.views.items()
                if view.get("external_id") == params["external_id"]
            ),
            None,
        )
    if not view_id or view_id not in state.views:
        raise SlackError("not_found")
    view = _view_from(state, params, view_id=str(view_id))
    state.views[view["id"]] = view
    return {"ok": True, "view": view}


def views_publish(state: SlackState, params: Params) -> dict[str, Any]:
    user = str(params.get("user_id") or "")
    if not user:
        raise SlackError("invalid_arguments")
    view = _view_from(state, params)
    state.homes[user] = view
    return {"ok": True, "view": view}


def conversations_open(state: SlackState, params: Params) -> dict[str, Any]:
    users = [u for u in str(params.get("users") or "").split(",") if u]
    if len(users) != 1:
        raise SlackError("users_list_not_supplied")
    channel = dm_channel_for(users[0])
    state.channels.setdefault(channel, [])
    return {"ok": True, "channel": {"id": channel, "is_im": True, "user": users[0]}}


def conversations_replies(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    messages = state.thread(channel, str(params.get("ts") or ""))
    if not messages:
        raise SlackError("thread_not_found")
    return {"ok": True, "messages": messages, "has_more": False}


def conversations_history(state: SlackState, params: Params) -> dict[str, Any]:
    channel = _channel(params)
    oldest = float(params.get("oldest") or 0)
    latest = float(params.get("latest") or "inf")
    top_level = [
        m
        for m in state.channels.get(channel, [])
        if m.get("thread_ts") in (None, m["ts"]) and oldest < float(m["ts"]) <= latest
    ]
    limit = int(params.get("limit") or 100)
    newest_first = list(reversed(top_level))
    return {
        "ok": True,
        "messages": newest_first[:limit],
        "has_more": len(newest_first) > limit,
    }


def conversations_info(state: SlackState, params: Params) -> dict[str, Any]:
    channel = str(params.get("channel") or "")
    if channel.startswith("D"):
        return {"ok": True, "channel": {"id": channel, "is_im": True}}
    known = state.conversations.get(channel)
    private = bool(known and known.get("private"))
    if known is None or (private and BOT_USER_ID not in known["members"]):
        # Slack shows a private channel without the bot as if it did not exist.
        raise SlackError("channel_not_found")
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


def users_info(state: SlackState, params: Params) -> dict[str, Any]:
    user = state.users.get(str(params.get("user") or ""))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user}


def files_info(state: SlackState, params: Params) -> dict[str, Any]:
    stored = state.files.get(str(params.get("file") or ""))
    if stored is None or not stored.visible_to_bot():
        raise SlackError("file_not_found")
    return {"ok": True, "file": stored.as_dict(state.root)}


def files_get_upload_url(state: SlackState, params: Params) -> dict[str, Any]:
    filename = str(params.get("filename") or "")
    if not filename or not str(params.get("length") or "").isdigit():
        raise SlackError("invalid_arguments")
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    stored = state.add_file(filename, b"", mimetype, user=BOT_USER_ID)
    return {"ok": True, "upload_url": f"{state.root}upload/{stored.id}", "file_id": stored.id}


def files_complete_upload(state: SlackState, params: Params) -> dict[str, Any]:
    raw = params.get("files")
    items = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments")
    channel_param = params.get("channel_id") or params.get("channels")
    thread_ts = params.get("thread_ts") or None
    shared: list[dict[str, Any]] = []
    for item in items:
        stored = state.files.get(str(item.get("id")))
        if stored is None:
            raise SlackError("file_not_found")
        stored.title = str(item.get("title") or stored.name)
        shared.append(stored.as_dict(state.root))
    if channel_param:
        channel = _channel({"channel": channel_param})
        message: dict[str, Any] = {
            "text": str(params.get("initial_comment") or ""),
            "files": shared,
            "upload": True,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        if thread_ts and state.find(channel, str(thread_ts)) is None:
            raise SlackError("invalid_thread_ts")
        state.post(channel, message)
    return {"ok": True, "files": shared}


def _reaction_target(state: SlackState, params: Params) -> tuple[dict[str, Any], str]:
    channel = _channel(params)
    message = state.find(channel, str(params.get("timestamp") or ""))
    if message is None:
        raise SlackError("message_not_found")
    name = str(params.get("name") or "")
    if not name:
        raise SlackError("invalid_name")
    return message, name


def reactions_add(state: SlackState, params: Params) -> dict[str, Any]:
    message, name = _reaction_target(state, params)
    reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
    if any(r["name"] == name for r in reactions):
        raise SlackError("already_reacted")
    reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
    return {"ok": True}


def reactions_remove(state: SlackState, params: Params) -> dict[str, Any]:
    message, name = _reaction_target(state, params)
    reactions = message.get("reactions", [])
    if not any(r["name"] == name for r in reactions):
        raise SlackError("no_reaction")
    message["reactions"] = [r for r in reactions if r["name"] != name]
    return {"ok": True}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "views.open": views_open,
    "views.update": views_update,
    "views.push": views_open,
    "views.publish": views_publish,
    "conversations.open": conversations_open,
    "conversations.replies": conversations_replies,
    "conversations.history": conversations_history,
    "conversations.info": conversations_info,
    "users.info": users_info,
    "files.info": files_info,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
}


def respond(state: SlackState, target: ResponseTarget, params: Params) -> None:
    """A post to a ``response_url`` (or a slash command's ack with a message): what
    ``target.user`` then sees. The caller has checked it against Slack's limits."""
    content = message_fields(params)
    if params.get("delete_original") and target.message_ts:
        messages = state.channels.get(target.channel, [])
        state.channels[target.channel] = [m for m in messages if m["ts"] != target.message_ts]
        return
    if params.get("replace_original") and target.message_ts:
        original = state.find(target.channel, target.message_ts)
        if original is not None:
            original.update(content)
            return
    if params.get("response_type") == "in_channel":
        state.post(target.channel, {**content, "user": BOT_USER_ID, "bot_id": BOT_ID})
        return
    state.responses.append(
        {**content, "user": target.user, "channel": target.channel, "ts": state.clock.next()}
    )


def message_error(problems: list[str]) -> str:
    """Slack's error code for a refused message: the blocks first, then the text."""
    if any("blocks must hold at most" in problem for problem in problems):
        return "msg_blocks_too_long"
    if any("[json-pointer:/blocks" in problem for problem in problems):
        return "invalid_blocks"
    if any("required" in problem for problem in problems):
        return "no_text"
    return "msg_too_long"


def checked_message(params: Params) -> dict[str, Any]:
    """The message fields of ``params``; ``SlackError`` when Slack would refuse them."""
    content = message_fields(params)
    problems = message_problems(content)
    if problems:
        raise SlackError(message_error(problems), problems)
    return content


def message_fields(params: Params) -> dict[str, Any]:
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
