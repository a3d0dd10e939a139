"""Files in the directories the worker grants (``sandbox.fs.read``/``sandbox.fs.write``): the
standard library's ``open`` and ``os`` work on them as on any path; this adds what is easy to
get wrong.
"""

from __future__ import annotations

import os
from typing import Union


def replace_file(path: str, data: Union[str, bytes], fsync: bool = True) -> None:
    """Replaces the content of the file at ``path`` atomically: writes ``<path>.tmp``, flushes
    and (with ``fsync``) syncs it, renames it over ``path`` and syncs the directory where the
    filesystem allows. After a crash at any point ``path`` holds its old content or ``data``,
    never a mix or nothing (a leftover ``<path>.tmp`` is overwritten by the next call). Use it
    for state read back at a restart (offsets, checkpoints); truncating and rewriting the file
    in place loses it to a crash in between.
    """
    tmp = f"{path}.tmp"
    if isinstance(data, str):
        handle = open(tmp, "w", encoding="utf-8")
    else:
        handle = open(tmp, "wb")
    with handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if fsync:
        try:
            directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        except OSError:
            return  # not every filesystem opens directories; the rename is still atomic
        try:
            os.fsync(directory)
        except OSError:
            pass
        finally:
            os.close(directory)
