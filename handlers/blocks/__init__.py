"""Pure Block Kit builders: plain data in, the dict Slack expects out, no API calls."""
