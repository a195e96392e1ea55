"""In-sandbox side of :class:`sandboxes.kernel.PythonKernel`: replay earlier cells, run one new cell.

Uploaded with every kernel job and run as ``python3 .synthgen_kernel.py`` in the job's work dir;
standard library only (Python 3.9+), like the supervisor. It reads its spec, deletes its own files
(so the cell sees only the user's files), re-executes the earlier cells that succeeded with their
output discarded, then runs the new cell with its output streamed (so a cell killed by the sandbox
still shows what it printed) and capped, under a per-cell alarm. Like a notebook, a last bare
expression is displayed. At the end it writes a trailer to its saved stdout descriptor, after a
per-job random marker the cell cannot know: the status, the error line and the files this cell
created or changed (size-capped), as a Python literal.
"""

# Only built-in modules at start-up: ast, json, base64, signal and traceback would double the
# interpreter's start time, paid on every call (traceback and linecache load on an error only).
import _ast
import marshal
import os
import sys
import time

try:
    import _signal as signal  # the C module: signal.py imports enum, ~5 ms a job
except ImportError:  # pragma: no cover - other interpreters
    import signal

SPEC_FILE = ".synthgen_cells.bin"
SELF_FILE = ".synthgen_kernel.py"


class _Stop(BaseException):
    """Raised into the cell by the driver; a BaseException so ``except Exception`` in the cell cannot eat it."""

    status = "runtime_error"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class _Timeout(_Stop):
    status = "timeout"


class _OutputLimit(_Stop):
    status = "output_limit"


class _CappedStream:
    """A text stream onto a descriptor that stops the cell once ``cap`` bytes were written."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, fd, cap, live):
        self.fd, self.cap, self.live, self.written = fd, cap, live, 0

    def write(self, text):
        if not self.live:
            return len(text)
        data = str(text).encode("utf-8", "replace")
        room = self.cap - self.written
        chunk = data[: max(room, 0)]
        while chunk:
            n = os.write(self.fd, chunk)
            chunk = chunk[n:]
        self.written += min(len(data), max(room, 0))
        if len(data) > room:
            raise _OutputLimit(f"output limit: the cell printed more than {self.cap} bytes")
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return self.fd

    def writable(self):
        return True


def _compile_cell(source, name):
    """Code objects for the cell; a last bare expression is compiled apart so its value is shown."""
    tree = compile(source, name, "exec", _ast.PyCF_ONLY_AST)
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = compile(_ast.Expression(tree.body.pop().value), name, "eval")
    return compile(tree, name, "exec"), last


def _run_cell(source, name, namespace, show):
    body, last = _compile_cell(source, name)
    exec(body, namespace)  # noqa: S102 - running the cell is the point
    if last is not None:
        value = eval(last, namespace)
        if value is not None and show:
            print(repr(value))


def _snapshot(root):
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for fname in filenames:
            path = os.path.join(dirpath, fname)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if os.path.isfile(path) and not os.path.islink(path):
                seen[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return seen


def _artifacts(before, after, file_cap, total_cap):
    out, skipped, total = {}, [], 0
    for rel in sorted(after):
        if before.get(rel) == after[rel]:
            continue
        size = after[rel][0]
        if size > file_cap or total + size > total_cap:
            skipped.append(rel)
            continue
        try:
            with open(rel, "rb") as f:
                data = f.read(file_cap + 1)
        except OSError:
            skipped.append(rel)
            continue
        total += len(data)
        out[rel] = data
    return out, skipped


def _error_text(exc, cells):
    """The traceback as a notebook shows it: the driver's own frames left out."""
    import linecache
    import traceback

    for name, source in cells.items():  # so the traceback quotes the cell's lines
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    if isinstance(exc, SyntaxError):  # the parser's frames mean nothing to the cell's author
        lines = traceback.format_exception_only(type(exc), exc)
        return "".join(lines), lines[-1].strip()
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    return "".join(lines), traceback.format_exception_only(type(exc), exc)[-1].strip()


def main():
    with open(SPEC_FILE, "rb") as f:
        spec = marshal.load(f)  # written by the host: trusted input
    for path in (SPEC_FILE, SELF_FILE):
        try:
            os.remove(path)
        except OSError:
            pass
    trailer = os.dup(1)  # the cell may close or redirect fd 1; the trailer still gets out
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.argv = ["cell"]
    real_out, real_err = sys.stdout, sys.stderr
    started = time.monotonic()
    replay_failed = []
    # Replay in silence, descriptors included (a cell that ran os.system prints at fd level).
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = _CappedStream(1, 0, live=False)
    for i, source in spec["replay"]:
        try:
            _run_cell(source, f"<cell {i}>", namespace, show=False)
        except BaseException:  # noqa: BLE001 - succeeded before; a change now is reported, not fatal
            replay_failed.append(i)
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    for fd in (*saved, devnull):
        os.close(fd)
    replay_s = time.monotonic() - started
    before = _snapshot(".")
    sys.stdout = _CappedStream(1, spec["output_cap"], live=True)
    sys.stderr = _CappedStream(2, spec["output_cap"], live=True)

    def on_alarm(signum, frame):
        raise _Timeout(f"timeout: the cell ran longer than {spec['timeout_s']:g}s")

    signal.signal(signal.SIGALRM, on_alarm)
    status, error = "ok", None
    cell_started = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, spec["timeout_s"])
        _run_cell(spec["cell"], f"<cell {spec['index']}>", namespace, show=True)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # noqa: BLE001 - every way a cell ends is a result
        signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(exc, _Stop):
            status, error = exc.status, exc.message
        else:
            sources = {f"<cell {i}>": src for i, src in spec["replay"]}
            sources[f"<cell {spec['index']}>"] = spec["cell"]
            text, error = _error_text(exc, sources)
            status = "memory_limit" if isinstance(exc, MemoryError) else (
                "compile_error" if isinstance(exc, SyntaxError) else "runtime_error")
            try:
                sys.stderr.write(text)
            except _OutputLimit:
                pass
    cell_s = time.monotonic() - cell_started
    sys.stdout, sys.stderr = real_out, real_err
    files, skipped = _artifacts(before, _snapshot("."), spec["artifact_file_cap"], spec["artifact_cap"])
    payload = {
        "status": status,
        "error": error,
        "artifacts": files,
        "artifacts_skipped": skipped,
        "replay_failed": replay_failed,
        "replay_s": round(replay_s, 4),
        "cell_s": round(cell_s, 4),
    }
    # A Python literal (the host reads it with ast.literal_eval, never marshal: the cell could forge it).
    data = spec["marker"].encode() + repr(payload).encode()
    while data:
        data = data[os.write(trailer, data):]
    os._exit(0)  # skip interpreter teardown: atexit handlers and __del__ of the cell's objects


if __name__ == "__main__":
    main()
