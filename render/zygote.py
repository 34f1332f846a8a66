"""The render zygote: one per render slot, started inside the sandbox as the slot's uid.

Usage: python -s -B zygote.py SETTINGS_JSON

It imports pyplot and draws once, then forks one child per job, so a job costs a fork instead of
an interpreter start and a pyplot import (~0.5 s on a small machine). Each child gets its own
session, rlimits, output pipe and a seccomp guard, runs harness.run_job and exits; the zygote
enforces the wall clock and the output limit, then kills whatever the job left behind before it
reports. The zygote runs no job code itself, so its state never carries from one job to the next.

Protocol, one JSON object per line. Commands on stdin:
    {"type": "job", "id", "directory", "dpi", "timeout_ms"}   directory holds script.py
    {"type": "cancel", "id"}                                   kill that job if it still runs
    {"type": "exit"}
Events on the original stdout (stray prints of the zygote go to stderr instead):
    {"type": "ready", ...self-check...}
    {"type": "done", "id", "ending": "exited" | "timeout" | "output-limit" | "cancelled",
     "exit_code", "signal", "output", "cpu_seconds", "max_rss_kib"}
"""

import ctypes
import errno
import gc
import io
import json
import os
import platform
import resource
import select
import shutil
import signal
import struct
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def prctl(option, argument=0, pointer=0):
    if libc.prctl(option, argument, pointer, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


# --- seccomp guard --------------------------------------------------------------------------------
# Syscalls no diagram needs and a hostile script would: leaving the network or the namespaces,
# mounting, inspecting or signalling other processes, kernel attack surface (bpf, io_uring, keys).
# io_uring matters beyond its own bugs: its socket and connect operations bypass a socket() filter.

AUDIT_ARCHITECTURES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYSCALL_NUMBERS = {
    "x86_64": {
        "socket": 41, "clone": 56, "kill": 62, "tkill": 200, "tgkill": 234, "ptrace": 101,
        "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272,
        "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "add_key": 248,
        "request_key": 249, "keyctl": 250, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    },
    "aarch64": {
        "socket": 198, "clone": 220, "kill": 129, "tkill": 130, "tgkill": 131, "ptrace": 117,
        "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97,
        "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "add_key": 217,
        "request_key": 218, "keyctl": 219, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    },
}
# Numbered alike on every architecture since Linux 5.1.
COMMON_SYSCALL_NUMBERS = {
    "pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
}
DENIED_SYSCALLS = [
    "ptrace", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "process_vm_readv",
    "process_vm_writev", "add_key", "request_key", "keyctl", "bpf", "perf_event_open",
    "userfaultfd", "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
]
NAMESPACE_CLONE_FLAGS = 0x7E020000  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
AF_UNIX = 1
X32_SYSCALL_BIT = 0x40000000

BPF_LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JUMP_GREATER_EQUAL = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_JUMP_ANY_BIT = 0x45  # BPF_JMP | BPF_JSET | BPF_K
BPF_RETURN = 0x06  # BPF_RET | BPF_K
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
OFFSET_NUMBER, OFFSET_ARCHITECTURE, OFFSET_FIRST_ARGUMENT = 0, 4, 16


def instruction(code, jump_true, jump_false, value):
    return struct.pack("HBBI", code, jump_true, jump_false, value & 0xFFFFFFFF)


def deny_when_first_argument(number, test, value, error):
    """Fails syscall `number` with `error` when its first argument passes `test` against `value`.

    Falls through to the next rule otherwise: several rules may look at the same syscall.
    """
    return [
        instruction(BPF_LOAD_WORD, 0, 0, OFFSET_NUMBER),
        instruction(BPF_JUMP_EQUAL, 0, 3, number),
        instruction(BPF_LOAD_WORD, 0, 0, OFFSET_FIRST_ARGUMENT),
        instruction(test, 0, 1, value),
        instruction(BPF_RETURN, 0, 0, SECCOMP_RET_ERRNO | error),
    ]


def deny_unless_first_argument(number, value, error):
    """Fails syscall `number` with `error` unless its first argument equals `value`; falls through otherwise."""
    return [
        instruction(BPF_LOAD_WORD, 0, 0, OFFSET_NUMBER),
        instruction(BPF_JUMP_EQUAL, 0, 3, number),
        instruction(BPF_LOAD_WORD, 0, 0, OFFSET_FIRST_ARGUMENT),
        instruction(BPF_JUMP_EQUAL, 1, 0, value),
        instruction(BPF_RETURN, 0, 0, SECCOMP_RET_ERRNO | error),
    ]


def guard_program(protected_pid):
    machine = platform.machine()
    numbers = {**SYSCALL_NUMBERS[machine], **COMMON_SYSCALL_NUMBERS}
    program = [
        # A syscall made through another ABI (int 0x80 on x86_64) is numbered differently and
        # would slip past every rule below.
        instruction(BPF_LOAD_WORD, 0, 0, OFFSET_ARCHITECTURE),
        instruction(BPF_JUMP_EQUAL, 1, 0, AUDIT_ARCHITECTURES[machine]),
        instruction(BPF_RETURN, 0, 0, SECCOMP_RET_KILL_PROCESS),
    ]
    if machine == "x86_64":
        program += [
            instruction(BPF_LOAD_WORD, 0, 0, OFFSET_NUMBER),
            instruction(BPF_JUMP_GREATER_EQUAL, 0, 1, X32_SYSCALL_BIT),
            instruction(BPF_RETURN, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
        ]
    for name in DENIED_SYSCALLS:
        error = errno.ENOSYS if name.startswith("io_uring") else errno.EPERM
        program += [
            instruction(BPF_LOAD_WORD, 0, 0, OFFSET_NUMBER),
            instruction(BPF_JUMP_EQUAL, 0, 1, numbers[name]),
            instruction(BPF_RETURN, 0, 0, SECCOMP_RET_ERRNO | error),
        ]
    # clone3 hides its flags in memory a filter cannot read; ENOSYS makes the C library fall back
    # to clone, whose flags the rule below checks.
    program += [
        instruction(BPF_LOAD_WORD, 0, 0, OFFSET_NUMBER),
        instruction(BPF_JUMP_EQUAL, 0, 1, numbers["clone3"]),
        instruction(BPF_RETURN, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    program += deny_unless_first_argument(numbers["socket"], AF_UNIX, errno.EACCES)
    program += deny_when_first_argument(numbers["clone"], BPF_JUMP_ANY_BIT, NAMESPACE_CLONE_FLAGS, errno.EPERM)
    # kill(-1) would reach every process of the slot's uid, the zygote included where no pid
    # namespace protects it; nor may the job signal the zygote or its process group directly.
    for target in (-1, protected_pid, -protected_pid):
        program += deny_when_first_argument(numbers["kill"], BPF_JUMP_EQUAL, target, errno.EPERM)
    for name in ("tkill", "tgkill"):
        program += deny_when_first_argument(numbers[name], BPF_JUMP_EQUAL, protected_pid, errno.EPERM)
    program.append(instruction(BPF_RETURN, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(program)


class SocketFilterProgram(ctypes.Structure):
    _fields_ = [("length", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_guard(protected_pid):
    code = guard_program(protected_pid)
    buffer = ctypes.create_string_buffer(code, len(code))
    program = SocketFilterProgram(len(code) // 8, ctypes.addressof(buffer))
    # The sandbox set no_new_privs already; setting it again is harmless and required.
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(program))


def guard_works():
    """Installs the guard in a throwaway child and checks that it denies what it should."""
    if platform.machine() not in SYSCALL_NUMBERS:
        return False
    pid = os.fork()
    if pid == 0:
        outcome = 1
        try:
            import socket

            install_guard(os.getppid())
            for end in socket.socketpair(socket.AF_UNIX):
                end.close()
            try:
                socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except PermissionError:
                # Signal 0 only checks permission: nothing is delivered even if the rule failed.
                try:
                    os.kill(os.getppid(), 0)
                except PermissionError:
                    outcome = 0
        finally:
            os._exit(outcome)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


# --- self-check -----------------------------------------------------------------------------------


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
        "python": sys.version.split()[0],
        "python_prefix": sys.prefix,
        "python_base_prefix": sys.base_prefix,
    }


# --- warm-up --------------------------------------------------------------------------------------

WARM_MODULES = [
    "numpy.linalg", "matplotlib.patches", "matplotlib.lines", "matplotlib.collections",
    "matplotlib.patheffects", "matplotlib.transforms", "matplotlib.path", "matplotlib.colors",
    "matplotlib.cm", "matplotlib.gridspec", "matplotlib.ticker", "matplotlib.table",
    "matplotlib.offsetbox", "matplotlib.image", "matplotlib.markers", "matplotlib.mathtext",
    "matplotlib.animation", "matplotlib.dates", "mpl_toolkits.mplot3d", "mpl_toolkits.mplot3d.art3d",
]


def warm_up(harness, dpi):
    """Imports and draws what diagram scripts commonly use, so each forked job finds it ready."""
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import matplotlib.patches as patches
    import matplotlib.pyplot as pyplot
    import numpy

    figure = pyplot.figure(figsize=(6, 4))
    axes = figure.add_subplot(1, 2, 1)
    x = numpy.linspace(0, 2 * numpy.pi, 50)
    axes.plot(x, numpy.sin(x), label=r"$\sin\theta$")
    axes.scatter(x[::10], numpy.cos(x[::10]), marker="o")
    axes.add_patch(patches.Circle((1, 0), 0.3, fill=False))
    axes.add_patch(patches.Rectangle((2, -0.5), 1, 0.5, color="tab:blue", alpha=0.3))
    axes.add_patch(patches.Polygon([[4, 0], [5, 0], [4.5, 0.8]], closed=True, fill=False))
    axes.add_patch(patches.FancyArrowPatch((0, 0), (1, 1), arrowstyle="-|>", mutation_scale=12))
    axes.annotate(r"$F = \frac{mv^2}{r}$", xy=(3, 0.5), xytext=(4, 0.9), arrowprops={"arrowstyle": "->"})
    axes.text(0.5, -0.8, "m = 2 kg", fontsize=11, bbox={"boxstyle": "round", "fc": "w"})
    axes.set_title("warm-up")
    axes.set_xlabel("x (m)")
    axes.legend()
    solid = figure.add_subplot(1, 2, 2, projection="3d")
    solid.plot([0, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0])
    solid.text(0.5, 0.5, 1, "A")
    harness.save_png(figure, io.BytesIO(), dpi)
    pyplot.close("all")
    harness.reset_capture()


# --- jobs -----------------------------------------------------------------------------------------


class CommandReader:
    """JSON lines from the worker, readable without blocking while a job runs."""

    def __init__(self, descriptor):
        self.descriptor = descriptor
        self.buffer = b""
        self.closed = False

    def read_available(self):
        chunk = os.read(self.descriptor, 65536)
        if not chunk:
            self.closed = True
            return []
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def next_message(self, pending):
        while not pending:
            if self.closed:
                return None
            pending.extend(self.read_available())
        return pending.pop(0)


def send(control, message):
    data = (json.dumps(message) + "\n").encode("utf-8")
    view = memoryview(data)
    while view:
        written = os.write(control, view)
        view = view[written:]


def apply_limits(limits):
    cpu = limits["cpu_seconds"]
    for limit, soft, hard in (
        # CPU gets one second between soft and hard, so the soft limit's SIGXCPU, reported as a CPU
        # limit, comes before the hard limit's SIGKILL.
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, limits["address_space_bytes"], limits["address_space_bytes"]),
        (resource.RLIMIT_FSIZE, limits["file_size_bytes"], limits["file_size_bytes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"], limits["open_files"]),
        # Counted per uid: the slot's uid runs nothing but this zygote and the job.
        (resource.RLIMIT_NPROC, limits["processes"], limits["processes"]),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(limit, (soft, hard))


def run_child(harness, job, output_descriptor, settings, zygote_pid):
    """The forked job: never returns."""
    try:
        os.setsid()
        # Where no pid namespace ends the job with the zygote, this does (for the job itself).
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_descriptor, 1)
        os.dup2(output_descriptor, 2)
        # The command and event pipes, the pidfd: nothing of the zygote's stays open in the job.
        os.closerange(3, 1 << 20)
        directory = job["directory"]
        os.environ["HOME"] = directory
        os.environ["TMPDIR"] = directory
        apply_limits(settings["limits"])
        if settings["seccomp"]:
            install_guard(zygote_pid)
        harness.run_job(os.path.join(directory, "script.py"), directory, job["dpi"])
    finally:
        os._exit(70)


def kill_everything_but_me():
    """Kills every process the job left, however it detached, and reaps them."""
    # As pid 1 of the sandbox's pid namespace (or as the only process of the slot's uid outside
    # one), kill(-1) reaches exactly the job's processes. Orphans come back to this process as
    # init or child subreaper, so waiting until there are no children waits until all are gone.
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def wipe(directories):
    """Empties the sandbox's shared scratch space, so nothing one job leaves there reaches the next."""
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def run_job(harness, job, reader, pending, control, settings):
    started = time.monotonic()
    read_end, write_end = os.pipe()
    zygote_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        run_child(harness, job, write_end, settings, zygote_pid)
    os.close(write_end)
    process_descriptor = os.pidfd_open(pid)
    deadline = started + job["timeout_ms"] / 1000
    limit = settings["max_output_bytes"]
    output = bytearray()
    overflowed = False
    output_open = True
    ending = None
    status = None
    usage = None

    def take_output(chunk):
        nonlocal overflowed
        room = limit - len(output)
        output.extend(chunk[:room])
        if len(chunk) > room:
            overflowed = True

    while ending is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ending = "timeout"
            break
        watched = [process_descriptor, reader.descriptor] + ([read_end] if output_open else [])
        readable, _, _ = select.select(watched, [], [], remaining)
        if read_end in readable:
            chunk = os.read(read_end, 65536)
            if chunk:
                take_output(chunk)
                if overflowed:
                    ending = "output-limit"
            else:
                output_open = False
        if reader.descriptor in readable and ending is None:
            for message in reader.read_available():
                if message.get("type") == "cancel" and message.get("id") == job["id"]:
                    ending = "cancelled"
                elif message.get("type") != "cancel":
                    pending.append(message)
            if reader.closed:
                ending = "cancelled"
        if process_descriptor in readable and ending is None:
            _, status, usage = os.wait4(pid, 0)
            ending = "exited"

    if status is None:
        os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
    kill_everything_but_me()
    # Every writer is dead now: what is left in the pipe is all there is.
    os.set_blocking(read_end, False)
    while output_open and not overflowed:
        try:
            chunk = os.read(read_end, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        take_output(chunk)
    os.close(read_end)
    os.close(process_descriptor)
    if overflowed and ending == "exited":
        ending = "output-limit"
    wipe(settings["scratch"])

    exit_code = os.waitstatus_to_exitcode(status)
    send(
        control,
        {
            "type": "done",
            "id": job["id"],
            "ending": ending,
            "exit_code": exit_code if exit_code >= 0 else None,
            "signal": signal.Signals(-exit_code).name if exit_code < 0 else None,
            "output": output.decode("utf-8", errors="replace"),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "max_rss_kib": usage.ru_maxrss,
            "duration_ms": round((time.monotonic() - started) * 1000),
        },
    )


def prepare_environment(home, font_cache):
    """A private home, and a writable matplotlib config dir holding the worker's font list."""
    # bubblewrap adds PWD; nothing else beyond what the worker allow-listed may reach the jobs.
    os.environ.pop("PWD", None)
    directory = os.path.join(home, ".matplotlib")
    os.environ.update({"HOME": home, "TMPDIR": home, "MPLCONFIGDIR": directory})
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if font_cache:
        for name in os.listdir(font_cache):
            if name.startswith("fontlist-") and name.endswith(".json"):
                shutil.copyfile(os.path.join(font_cache, name), os.path.join(directory, name))


def main():
    if os.getuid() == 0 and os.getpid() != 1:
        # kill(-1) below would then reach every process on the machine.
        sys.exit("zygote.py must run as an unprivileged uid or as pid 1 of its own pid namespace")
    settings = json.loads(sys.argv[1])
    control = os.dup(1)
    os.dup2(2, 1)
    # Not dumpable: a job of the same uid can neither ptrace this process nor open its memory.
    prctl(PR_SET_DUMPABLE, 0)
    # Orphans of a job come back here, so kill_everything_but_me can wait for all of them.
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getpid() != 1:
        # No pid namespace: processes of this slot's uid left by a zygote that died are leftovers.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
    started = time.monotonic()
    prepare_environment(settings["home"], settings.get("font_cache"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import harness
    except ImportError:
        # Mostly an interpreter whose installation the slot uid cannot read: say where it looked.
        print(
            f"python cannot import the harness's packages as uid {os.getuid()}: sys.prefix is {sys.prefix}, "
            f"sys.base_prefix {sys.base_prefix}; every user must be able to read the interpreter's directories",
            file=sys.stderr,
        )
        raise

    harness.settings.update(
        {
            "max_image_side": settings["max_image_side"],
            "address_space_bytes": settings["limits"]["address_space_bytes"],
            "processes": settings["limits"]["processes"],
        }
    )
    harness.prepare()
    warm_up(harness, settings["warm_up_dpi"])
    report = self_check()
    report["warm_up_ms"] = round((time.monotonic() - started) * 1000)
    settings["seccomp"] = settings["seccomp"] and report["seccomp_guard"]
    # Objects alive now are the zygote's: the collector need not scan them again in every job,
    # and not touching them keeps their pages shared with the zygote instead of copied.
    gc.collect()
    gc.freeze()
    send(control, {"type": "ready", **report})

    reader = CommandReader(0)
    pending = []
    while True:
        message = reader.next_message(pending)
        if message is None or message.get("type") == "exit":
            break
        if message.get("type") == "job":
            run_job(harness, message, reader, pending, control, settings)
    os._exit(0)


if __name__ == "__main__":
    main()
