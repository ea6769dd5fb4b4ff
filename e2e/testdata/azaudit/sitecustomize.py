"""Network audit for acremu's Azure CLI tests.

Python imports this module at start-up when its directory is on PYTHONPATH,
so it runs inside az and inside every Python process az starts. It logs each
attempt to resolve a name or open a connection to the file named by
ACREMU_AZ_AUDIT_LOG, one tab-separated line each:

    <verdict>  <event>  <target>  <pid>

and blocks (raises OSError for) everything that is not loopback, so nothing
leaves the machine even if the test would not notice. The test fails on any
"blocked" line, and on an empty log (the hook did not load).
"""

import ipaddress
import os
import socket
import sys

_LOG = os.environ.get("ACREMU_AZ_AUDIT_LOG", "")


def _write(line):
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)


def _is_loopback(host):
    if host is None:
        return True  # a lookup of the local host itself, never remote
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _target(event, args):
    """Returns (target, allowed) for a network event, or None."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, addr = args[0], args[1]
        if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", object()):
            return "unix:%s" % (addr,), True
        if isinstance(addr, tuple) and addr:
            return "%s:%s" % (addr[0], addr[1] if len(addr) > 1 else ""), _is_loopback(addr[0])
        return repr(addr), False
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        host = args[0] if args else None
        return "%s" % (host,), _is_loopback(host)
    return None


def _hook(event, args):
    if not event.startswith("socket."):
        return
    found = _target(event, args)
    if found is None:
        return
    target, allowed = found
    _write("%s\t%s\t%s\t%d" % ("ok" if allowed else "blocked", event, target, os.getpid()))
    if not allowed:
        raise OSError("network access to %s blocked: only loopback is allowed in this test" % target)


if _LOG:
    _write("start\tpython\t%s\t%d" % (" ".join(sys.argv[:3]), os.getpid()))
    sys.addaudithook(_hook)
