"""The people of every local play: the console, the demo and the tests act as these four."""

from __future__ import annotations

ANNA = "U0ANNA"  # broker Anna Adler, 4711
CARLA = "U0CARLA"  # broker Carla Clausen, 4712
BERND = "U0BERND"  # backoffice
BEATE = "U0BEATE"  # backoffice

# The Slack display names; the local Slack's user profiles carry these.
NAMES = {
    ANNA: "Anna Adler",
    CARLA: "Carla Clausen",
    BERND: "Bernd Backoffice",
    BEATE: "Beate Backoffice",
}
BACKOFFICE = frozenset({BERND, BEATE})
# What ``:as …`` in the console understands.
BY_FIRST_NAME = {"anna": ANNA, "carla": CARLA, "bernd": BERND, "beate": BEATE}
