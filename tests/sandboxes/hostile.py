"""Hostile programs shared by the hostile suite and the mixed-run soak test."""

from __future__ import annotations

# Lists every process the job can see except itself: only the sandbox's own machinery may remain
# (the supervisor, the warm compiler services of the Docker image).
PS = """
import json, os
me = os.getpid()
seen = []
for p in os.listdir('/proc'):
    if p.isdigit() and int(p) != me:
        try:
            seen.append(open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode(errors='replace'))
        except OSError:
            pass
print(json.dumps(seen))
print(json.dumps(sorted(os.listdir('.')) + sorted(os.listdir('/tmp'))))
"""


def leftovers(stdout: str) -> tuple[list[str], list[str]]:
    """(processes that are not sandbox machinery, files seen in the work dir and /tmp) from PS output."""
    import json

    procs_line, files_line = stdout.splitlines()[:2]
    machinery = ("supervisor.py", "/opt/synthgen/compilers/")  # and the warm compiler services
    procs = [p for p in json.loads(procs_line) if not any(m in p for m in machinery) and not p.startswith("bwrap")]
    return procs, [f for f in json.loads(files_line) if f != "main.py"]


NETWORK = """
import socket, time
t = time.time()
for host, port in (('1.1.1.1', 53), ('8.8.8.8', 443), ('127.0.0.1', 2375), ('deb.debian.org', 80)):
    try:
        socket.create_connection((host, port), timeout=5).close()
        print('CONNECTED', host)
    except OSError as e:
        print('BLOCKED', host, type(e).__name__)
print('elapsed', round(time.time() - t, 2))
"""

FORK_BOMB_BASH = ":(){ :|:& };:"

FORK_BOMB_PY = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(100)
            os._exit(0)
        n += 1
except OSError as e:
    print('forks', n, type(e).__name__)
"""

MEMORY_BOMB = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n"

CPU_LOOP = "while True:\n    pass\n"

SLEEP_FOREVER = "import time\ntime.sleep(10**6)\n"

DISK_FILL = """
import os, errno
total = 0
try:
    for i in range(10000):
        with open(f'fill{i}', 'wb') as f:
            for _ in range(8):
                f.write(b'x' * (1 << 20))
                total += 1 << 20
except OSError as e:
    print('stopped', errno.errorcode.get(e.errno), total >> 20)
"""

WRITE_OUTSIDE = """
import os
for path in ('/etc/evil', '/usr/evil', '/opt/synthgen/evil', '/evil', '/root/evil', '/proc/evil', '/sys/evil'):
    try:
        open(path, 'w').write('x')
        print('WROTE', path)
    except OSError as e:
        print('denied', path, type(e).__name__)
"""

READ_HOST = """
import os
for path in ('/etc/shadow', '/work/main/pyproject.toml', '/root/.bash_history', '/var/run/docker.sock',
             '/var/lib/docker', '/root', '/work/main'):
    try:
        if os.path.isdir(path):
            if os.listdir(path):
                print('LEAK', path, os.listdir(path)[:3])
        else:
            data = open(path, 'rb').read(64)
            print('LEAK', path, data[:20])
    except OSError as e:
        print('denied', path, type(e).__name__)
"""

OUTPUT_FLOOD = (
    "import sys\nchunk = b'y' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.buffer.write(chunk)\n"
)

BACKGROUND = """
import os, subprocess, time
open('/tmp/planted', 'w').write('x')
open('planted_here', 'w').write('x')
subprocess.Popen(['sleep', '1000'], start_new_session=True)
subprocess.Popen(['sh', '-c', 'nohup sleep 1000 >/dev/null 2>&1 &'])
if os.fork() == 0:
    os.setsid()
    time.sleep(1000)
print('spawned')
"""

CLOSE_STDOUT = """
import os, sys, time
print('before', flush=True)
os.close(1)
time.sleep(0.3)
sys.stderr.write('still running\\n')
"""

BINARY = "import sys\nsys.stdout.buffer.write(bytes(range(256)) + b'\\xff\\xfe\\xc3(')\nsys.stderr.buffer.write(b'\\x80abc')\n"
BINARY_EXPECTED = bytes(range(256)) + b"\xff\xfe\xc3("
