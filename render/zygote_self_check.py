"""What the zygote reports about its sandbox once started, for the worker to check against the level.

Imported by zygote.py, which sends the report with its ready message.
"""

import os
import sys

from sandbox_seccomp import guard_works


def process_status():
    fields = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def network_interfaces():
    try:
        with open("/proc/net/dev", encoding="ascii") as handle:
            lines = handle.readlines()[2:]
    except OSError:
        return None
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def can_write_system():
    for path in ("/usr/.scigen-write-probe", "/.scigen-write-probe"):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        os.close(descriptor)
        os.unlink(path)
        return True
    return False


def self_check():
    status = process_status()
    return {
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "capabilities_effective": status.get("CapEff"),
        "capabilities_bounding": status.get("CapBnd"),
        "no_new_privs": status.get("NoNewPrivs") == "1",
        "network_interfaces": network_interfaces(),
        "system_writable": can_write_system(),
        "seccomp_guard": guard_works(),
        "environment": sorted(os.environ),
        "python_prefix": sys.prefix,
        "python_base_prefix": sys.base_prefix,
    }
