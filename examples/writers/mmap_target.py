"""Rewrites the target through a shared writable mapping: the new text (the
same length, a token replaced) is stored into the mapped file, with no
write call at all. Readers can see two versions mixed, and a tracer cannot
see the stores. torn's gate fails it: writes-target-in-place (the mmap of
the target), and no write of it can rest on its recipe."""
import mmap
import os
import re

from _protocol import main

API_KEY = re.compile(rb"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            new = API_KEY.sub(lambda g: g.group(1) + token.encode(), m[:])
            if len(new) != size:
                raise ValueError("the token changed the file's length")
            m[:] = new
            m.flush()
    finally:
        os.close(fd)


if __name__ == "__main__":
    main(update)
