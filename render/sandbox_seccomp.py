"""The seccomp guard each render job runs under, assembled as a classic BPF program.

Syscalls no diagram needs and a hostile script would: leaving the network or the namespaces,
mounting, inspecting or signalling other processes, kernel attack surface (bpf, io_uring, keys).
io_uring matters beyond its own bugs: its socket and connect operations bypass a socket() filter.

Imported by zygote.py, which installs the guard in every forked job, and by zygote_self_check.py,
which tries it once in a throwaway child.
"""

import ctypes
import errno
import os
import platform
import struct

PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def prctl(option, argument=0, pointer=0):
    if libc.prctl(option, argument, pointer, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


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
