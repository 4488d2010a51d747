"""What git does to its config: open <path>.lock with O_CREAT|O_EXCL, mode
0666 (so 0644 under the usual umask), chmod it to the target's 0600 before
the first byte, write, close, rename it over the target. The lock name is
fixed, but O_EXCL means a second writer gets EEXIST instead of sharing it,
and no byte of the token is ever in a file others can read. torn's gate
passes it."""
import os
import re
import stat

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content)
    lock = path + ".lock"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.fchmod(fd, mode)
        os.write(fd, new.encode())
        os.close(fd)
    except BaseException:
        os.unlink(lock)
        raise
    os.rename(lock, path)


if __name__ == "__main__":
    main(update)
