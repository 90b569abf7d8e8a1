"""What of an error message a client may read: no paths on the server, no object reprs.

Task errors are built from exceptions deep in the stack (FFmpeg names the file it could not
open, the OS names the folder it could not write), and they are shown to whoever posted
the task. The full message goes to the server's log; the client's copy passes through
`public_message`, which keeps each path's last name only (`'/srv/strobe/work/tsk_1/input'`
reads `'input'`) and drops `<… object at 0x…>` reprs and memory addresses.
"""

from __future__ import annotations

import re

# An absolute POSIX path: a `/` that does not follow a word, a dot, a colon or another
# slash (so `http://host/a`, `mp4/webm` and `8/10` are left alone), then names.
_PATH = re.compile(r"(?<![\w.:/~])(?:/[^\s'\"/:,;()\[\]{}<>]+)+/?")
_FILE_URL = re.compile(r"file://\S*")
_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{8,}")


def public_message(message: str) -> str:
    message = _FILE_URL.sub("file://…", message)
    message = _REPR.sub("<object>", message)
    message = _ADDRESS.sub("0x…", message)
    return _PATH.sub(_last_name, message)


def _last_name(match: re.Match[str]) -> str:
    parts = [p for p in match.group(0).split("/") if p]
    return parts[-1] if parts else "/"
