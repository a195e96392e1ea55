"""The seccomp filter of the bubblewrap backend, compiled with libseccomp (``pyseccomp`` bindings).

Docker applies its default profile to every container; bubblewrap applies nothing unless given a
compiled BPF program (``bwrap --seccomp FD``). This filter refuses, with EPERM, at least what
Docker's default profile refuses an unprivileged container: kernel keyrings (a key written by one
job would be read by the next), ``ptrace`` and cross-process memory access, every mount and
namespace operation (``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag: no nested user
namespaces), ``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring``, module/kexec/reboot/swap/
clock/accounting calls. ``clone3`` answers ENOSYS (its flags live in memory a filter cannot
read), so the C library falls back to ``clone``, whose flags it can.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

from synthgen.errors import SynthgenError

DENIED = (
    # kernel keyrings
    "add_key keyctl request_key "
    # tracing and other processes' memory
    "ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd "
    # mounts and namespaces
    "mount umount2 pivot_root chroot unshare setns move_mount open_tree fsopen fsconfig fsmount fspick "
    "mount_setattr "
    # kernel interfaces Docker withholds from unprivileged containers
    "bpf perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register fanotify_init "
    "lookup_dcookie open_by_handle_at name_to_handle_at kexec_load kexec_file_load init_module "
    "finit_module delete_module reboot swapon swapoff acct quotactl syslog iopl ioperm "
    "clock_settime clock_adjtime settimeofday adjtimex vhangup uselib sysfs ustat nfsservctl "
    "get_mempolicy set_mempolicy mbind move_pages"
).split()
CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


class SeccompUnavailable(SynthgenError):
    """libseccomp or its Python bindings are missing; says how to install them."""


@functools.lru_cache(maxsize=1)
def compiled_filter() -> bytes:
    """The filter as a BPF program (``struct sock_filter[]``), the form ``bwrap --seccomp`` reads."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:
        raise SeccompUnavailable(
            f"the seccomp filter needs libseccomp and its bindings ({exc}): "
            "`apt-get install libseccomp2` and `pip install pyseccomp`"
        ) from exc
    deny = sc.ERRNO(errno.EPERM)
    filt = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED:
        try:
            filt.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):
            pass  # a syscall this architecture does not have
    for flag in CLONE_NAMESPACE_FLAGS:
        filt.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as f:
        filt.export_bpf(f)
        f.seek(0)
        return f.read()


def filter_fd() -> int:
    """A readable fd holding the compiled filter, for ``bwrap --seccomp FD`` (the caller closes it)."""
    fd = os.memfd_create("synthgen-seccomp")
    os.write(fd, compiled_filter())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
