"""The render zygote: one per render slot, started inside the sandbox as the slot's uid.

Usage: python -s -B zygote.py SETTINGS_JSON

It imports pyplot and draws once, then forks one child per job, so a job costs a fork instead of
an interpreter start and a pyplot import (~0.5 s on a small machine). Each child gets its own
session, rlimits, output pipe and a seccomp guard, runs harness.run_job and exits; the zygote
enforces the wall clock and the output limit, then kills whatever the job left behind before it
reports. The zygote runs no job code itself, so its state never carries from one job to the next.

Protocol, one JSON object per line. Commands on stdin:
    {"type": "job", "id", "directory", "dpi", "figure_inches"?, "timeout_ms"}   directory holds script.py
    {"type": "cancel", "id"}                                   kill that job if it still runs
    {"type": "exit"}
Events on the original stdout (stray prints of the zygote go to stderr instead):
    {"type": "ready", ...self-check...}
    {"type": "done", "id", "ending": "exited" | "timeout" | "output-limit" | "cancelled",
     "exit_code", "signal", "output", "cpu_seconds"}
"""

import gc
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

# The sibling modules sit next to this file (bubblewrap binds each of them into /scigen). They are
# imported before the first fork: a job puts its own directory first on the path (harness.render).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sandbox_seccomp import install_guard, prctl  # noqa: E402
from zygote_self_check import self_check  # noqa: E402
from zygote_warm_up import warm_up  # noqa: E402

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


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
        harness.run_job(
            os.path.join(directory, "script.py"), directory, job["dpi"], job.get("figure_inches")
        )
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
    prepare_environment(settings["home"], settings.get("font_cache"))
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

