"""A local stand-in for Slack: the Web API double and signed requests to the app."""

from bot.localslack.server import Fault, LocalSlack
from bot.localslack.signed import SignedSender, SlackResponse
from bot.localslack.state import BOT_ID, BOT_USER_ID, Call, dm_channel_for

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "Call",
    "Fault",
    "LocalSlack",
    "SignedSender",
    "SlackResponse",
    "dm_channel_for",
]
