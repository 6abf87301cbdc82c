"""The names operators give what they configure (destinations, alert channels and rules,
webhook sources): short, and safe in a URL path, a CLI argument and a log line."""

from __future__ import annotations

import re
from typing import Final

NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_HELP: Final = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
