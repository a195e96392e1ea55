"""Warm compilers in the Docker image: a long-lived javac and tsc per container and precompiled C++
headers. Same verdicts and messages as the cold compilers, each job compiled in its own dir, and
nothing a job does to a service reaches a later job's result; a precompiled header is used only
where gcc would read exactly that header, and the object code is byte-identical without it."""

from __future__ import annotations

import asyncio

import pytest

from sandboxes.docker_pool import DockerConfig, DockerSandbox
from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes.conftest import current_image, docker_unavailable_reason, skip_or_fail

pytestmark = pytest.mark.slow

JAVA_OK = {"Main.java": 'public class Main { public static void main(String[] a) { System.out.println("%s"); } }'}
JAVA_BAD = {"Main.java": 'public class Main { public static void main(String[] a) { int x = "s"; } }'}
TS_OK = {"main.ts": "const msg: string = '%s';\nconsole.log(msg);"}
TS_BAD = {"main.ts": "const x: number = 'a';\nconsole.log(x);"}
LIMITS = Limits(wall_time_s=30)


@pytest.fixture(autouse=True)
def _needs_docker():
    reason = docker_unavailable_reason()
    if reason:
        skip_or_fail(reason)


def _fill(files: dict, text: str) -> dict:
    return {k: v.replace("%s", text) for k, v in files.items()}


def _run_all(config: DockerConfig, requests: list[ExecRequest]):
    config = config.model_copy(update={"image": current_image()})

    async def scenario():
        async with DockerSandbox(config) as sb:
            return [await sb.run(r) for r in requests]

    return asyncio.run(scenario())


def test_warm_and_cold_compilers_agree() -> None:
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "one"), limits=LIMITS),
        ExecRequest(language="java", files=JAVA_BAD, limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "two"), limits=LIMITS),
        ExecRequest(language="typescript", files=TS_BAD, limits=LIMITS),
    ]
    warm = _run_all(DockerConfig(pool_size=1), requests * 2)  # the first of each starts the service
    cold = _run_all(DockerConfig(pool_size=1, warm_compilers=False), requests)
    for w, c in zip(warm[4:], cold):
        assert (w.status, w.stdout, w.compile_output) == (c.status, c.stdout, c.compile_output), (w, c)
    assert [r.status for r in cold] == [ExecStatus.OK, ExecStatus.COMPILE_ERROR] * 2
    assert "Main.java:1: error: incompatible types" in cold[1].compile_output
    assert "main.ts(1,7): error TS2322" in cold[3].compile_output


ATTACK_SERVICES = """
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
me = os.getpid()
for p in sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, me)):
    cmd = open(f'/proc/{p}/cmdline', 'rb').read()
    print('service', p, b'JavacServer' in cmd or b'tsc_server' in cmd)
    print('attach', libc.ptrace(16, p, None, None))
    for f in ('environ', 'mem', 'maps'):
        try:
            open(f'/proc/{p}/{f}', 'rb').read(16)
            print('READ', f)
        except OSError:
            pass
    os.kill(p, signal.SIG)
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGSTOP"])
def test_a_job_attacking_the_services_cannot_change_later_results(sig: str) -> None:
    attack = ExecRequest(language="python", files={"main.py": ATTACK_SERVICES.replace("signal.SIG)", f"signal.{sig})")})
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "before"), limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "before"), limits=LIMITS),
        attack,
        ExecRequest(language="java", files=_fill(JAVA_OK, "after"), limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "after"), limits=LIMITS),
        ExecRequest(language="java", files=JAVA_BAD, limits=LIMITS),
    ]
    results = _run_all(DockerConfig(pool_size=1), requests)
    assert [r.stdout_text for r in results[:2]] == ["before\n", "before\n"], results[:2]
    out = results[2].stdout_text
    assert results[2].ok and out.count("service") == 2 and "False" not in out, out
    assert "attach 0" not in out and "READ" not in out, out
    assert [r.stdout_text for r in results[3:5]] == ["after\n", "after\n"], results[3:5]
    assert results[5].status is ExecStatus.COMPILE_ERROR and "incompatible types" in results[5].compile_output


def test_service_threads_do_not_eat_the_jobs_process_limit() -> None:
    forks = (
        "import os, time\nn = 0\nfor _ in range(12):\n    if os.fork() == 0:\n        time.sleep(1)\n"
        "        os._exit(0)\n    n += 1\nprint(n)"
    )
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "x"), limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "x"), limits=LIMITS),
        ExecRequest(language="python", files={"main.py": forks}, limits=Limits(processes=16)),
    ]
    results = _run_all(DockerConfig(pool_size=1), requests)
    assert results[2].ok and results[2].stdout_text == "12\n", results[2]


def test_precompiled_stdcpp_header_compiles_and_runs() -> None:
    src = "#include <bits/stdc++.h>\nusing namespace std;\nint main(){vector<int> v{3,1,2}; sort(v.begin(), v.end()); cout << v[0] << endl;}\n"
    flags = "g++ -O0 -DX=1 -std=c++17 -o main main.cpp"  # other flags: the PCH is skipped, not misused
    results = _run_all(
        DockerConfig(pool_size=1),
        [
            ExecRequest(language="cpp", files={"main.cpp": src}, limits=LIMITS),
            ExecRequest(language="cpp", files={"main.cpp": src}, compile_cmd=flags, limits=LIMITS),
        ],
    )
    assert all(r.ok and r.stdout_text == "1\n" for r in results), results


NO_PCH = "CPLUS_INCLUDE_PATH= "  # a compile command with this prefix reads the real headers


def _pch_headers() -> list[str]:
    """The precompiled headers the image ships (as the #include names that find them)."""
    listing = _run_all(DockerConfig(pool_size=1), [ExecRequest(
        language="bash", files={"main.sh": "cd /opt/synthgen/pch && find . -name '*.gch' | sort"})])[0]
    assert listing.ok, listing
    return [line[2:-4] for line in listing.stdout_text.split()]


def test_each_precompiled_header_is_used_for_a_program_that_includes_it_first() -> None:
    headers = _pch_headers()
    assert {"bits/stdc++.h", "iostream", "vector", "string"} <= set(headers), headers
    requests = [
        ExecRequest(language="cpp", files={"main.cpp": f"#include <{h}>\nint main(){{ return 0; }}\n"},
                    compile_cmd="g++ -O2 -std=c++17 -H -Winvalid-pch -o main *.cpp", limits=LIMITS)
        for h in headers
    ]
    for header, result in zip(headers, _run_all(DockerConfig(pool_size=1), requests)):
        assert result.ok, (header, result)
        # gcc -H marks a precompiled header it used with "!"; an unusable one gets a -Winvalid-pch warning
        assert f"! /opt/synthgen/pch/{header}.gch" in result.compile_output, (header, result.compile_output)


# What the precompiled headers must not change: a name the first header does not declare, a macro
# defined before the include (_GLIBCXX_DEBUG switches on checked containers), a light C header first
# (HumanEval-X's layout), different flags, and warnings as errors.
PROGRAMS = {
    "hello": "#include <iostream>\nusing namespace std;\nint main(){ cout << \"hello\" << endl; }\n",
    "undeclared": "#include <iostream>\nint main(){ std::vector<int> v; std::cout << v.size(); }\n",
    "debug_mode": "#define _GLIBCXX_DEBUG 1\n#include <vector>\n#include <cstdio>\n"
                  "int main(){ std::vector<int> v(3); int i = 5; std::printf(\"%d\\n\", v[i]); }\n",
    "stdio_first": "#include<stdio.h>\n#include<vector>\n#include<math.h>\nusing namespace std;\n"
                   "int main(){ vector<int> v{1}; printf(\"%d\\n\", (int)sqrt(16.0) + v[0]); }\n",
    "algorithm": "#include <algorithm>\n#include <vector>\n#include <iostream>\nint main(){ std::vector<int> v{3,1,2};"
                 " std::sort(v.begin(), v.end()); std::cout << v[0] << v[2] << std::endl; }\n",
    "map_string": "#include <map>\n#include <string>\n#include <iostream>\nint main(){ std::map<std::string,int> m;"
                  " m[\"a\"] = 2; std::cout << m.at(\"a\") << std::endl; }\n",
}


def test_precompiled_headers_change_no_verdict_and_no_byte_of_object_code() -> None:
    script = "set -u\n"
    for name, src in PROGRAMS.items():
        script += (
            f"cat > {name}.cpp <<'EOF'\n{src}EOF\n"
            f"for mode in pch none; do\n"
            f"  if [ $mode = pch ]; then export CPLUS_INCLUDE_PATH=/opt/synthgen/pch; else unset CPLUS_INCLUDE_PATH; fi\n"
            f"  g++ -O2 -std=c++17 -c -o {name}.$mode.o {name}.cpp 2>/dev/null; echo \"{name} $mode rc=$?\"\n"
            f"  g++ -O0 -Wall -Wextra -Werror -std=c++17 -c -o {name}.$mode.O0.o {name}.cpp 2>/dev/null;"
            f" echo \"{name} $mode -O0 -Werror rc=$?\"\n"
            f"done\n"
            f"for o in O0.o o; do [ -e {name}.pch.$o ] && {{ cmp -s {name}.pch.$o {name}.none.$o && echo \"{name} $o same\""
            f" || echo \"{name} $o DIFFERENT\"; }}; done\n"
        )
    result = _run_all(DockerConfig(pool_size=1), [ExecRequest(language="bash", files={"main.sh": script},
                                                              limits=Limits(wall_time_s=120))])[0]
    assert result.ok, result
    lines = result.stdout_text.splitlines()
    assert not [line for line in lines if "DIFFERENT" in line], lines
    rc = dict(line.rsplit(" rc=", 1) for line in lines if " rc=" in line)
    for name in PROGRAMS:
        assert rc[f"{name} pch"] == rc[f"{name} none"], (name, lines)
        assert rc[f"{name} pch -O0 -Werror"] == rc[f"{name} none -O0 -Werror"], (name, lines)
    assert rc["undeclared pch"] == "1" and rc["hello pch"] == "0", lines  # it did compile and fail
    assert "hello o same" in lines and "debug_mode o same" in lines, lines


def test_cpp_verdicts_through_the_recipe_match_the_real_headers() -> None:
    """The recipe's own command (precompiled headers on) against the same command reading the real
    headers: same status and output for each program, and the debug-mode check still fires."""
    requests = []
    for src in PROGRAMS.values():
        for prefix in ("", NO_PCH):
            cmd = None if not prefix else prefix + "g++ -O2 -std=c++17 -o main *.cpp"
            requests.append(ExecRequest(language="cpp", files={"main.cpp": src}, compile_cmd=cmd, limits=LIMITS))
    results = _run_all(DockerConfig(pool_size=1), requests)
    by_name = {}
    for i, name in enumerate(PROGRAMS):
        with_pch, without = results[2 * i], results[2 * i + 1]
        assert (with_pch.status, with_pch.stdout_text) == (without.status, without.stdout_text), (name, results)
        by_name[name] = with_pch
    assert by_name["hello"].ok and by_name["hello"].stdout_text == "hello\n"
    assert by_name["undeclared"].status == ExecStatus.COMPILE_ERROR
    assert "vector" in by_name["undeclared"].compile_output
    assert by_name["debug_mode"].status == ExecStatus.RUNTIME_ERROR  # _GLIBCXX_DEBUG's bounds check
    assert by_name["stdio_first"].stdout_text == "5\n" and by_name["algorithm"].stdout_text == "13\n"


def test_a_jobs_memory_limit_holds_beside_running_services() -> None:
    hog = "x = bytearray(300 << 20)\nprint('allocated')"
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "x"), limits=Limits(wall_time_s=30, memory_mb=128)),
        ExecRequest(language="typescript", files=_fill(TS_OK, "x"), limits=Limits(wall_time_s=30, memory_mb=128)),
        ExecRequest(language="python", files={"main.py": hog}, limits=Limits(memory_mb=128)),
        ExecRequest(language="python", files={"main.py": hog}, limits=Limits(memory_mb=128)),
    ]
    results = _run_all(DockerConfig(pool_size=1), requests)
    assert [r.stdout_text for r in results[:2]] == ["x\n", "x\n"], results[:2]
    assert [r.status for r in results[2:]] == [ExecStatus.MEMORY_LIMIT] * 2, results[2:]


# The public benchmarks' layouts: HumanEval-X (a comment, then <stdio.h> <math.h> <vector> ...) and
# MultiPL-E (<assert.h> <bits/stdc++.h>), whose first header is too light for a per-header PCH: the
# image's include-prefix PCHs (sandboxes/image/_sg_cpp.py) cover them.
PREFIX_PROGRAMS = {
    "humaneval_x": "/*\nclose elements\n*/\n#include<stdio.h>\n#include<math.h>\n#include<vector>\nusing namespace std;\n"
                   "#include<algorithm>\nbool close(vector<float> v, float t){ for (size_t i = 0; i < v.size(); i++)"
                   " for (size_t j = i + 1; j < v.size(); j++) if (fabs(v[i] - v[j]) < t) return true; return false; }\n"
                   "#undef NDEBUG\n#include<assert.h>\nint main(){ assert(close({1.0, 2.8, 3.0}, 0.3));"
                   " assert(!close({1.0, 2.0}, 0.5)); printf(\"ok\\n\"); }\n",
    "multipl_e": "#include<assert.h>\n#include<bits/stdc++.h>\n// Return length of given string\n"
                 "long string_length(std::string s) { return s.size(); }\nint main() { auto candidate = string_length;"
                 " assert(candidate((\"abc\")) == (3)); assert(candidate((\"x\")) == (2)); }\n",
    "ndebug_after": "#include<assert.h>\n#include<bits/stdc++.h>\n#define NDEBUG\n#include<assert.h>\n"
                    "int main() { assert(1 == 2); std::cout << \"unchecked\" << std::endl; }\n",
    "undeclared_after_prefix": "#include<stdio.h>\n#include<math.h>\nint main(){ std::vector<int> v; printf(\"%d\", (int)v.size()); }\n",
    "string_map": "#include<stdio.h>\n#include<math.h>\n#include<string>\n#include<map>\nusing namespace std;\n"
                  "int main(){ map<string,int> m; m[\"a\"] = (int)sqrt(9.0); printf(\"%d\\n\", m[\"a\"]); }\n",
}


def test_each_include_prefix_pch_is_used_and_changes_no_byte_of_object_code() -> None:
    script = """set -u
PREFIX=/opt/synthgen/pch/prefix
while IFS="$(printf '\\t')" read -r name headers; do
  : > p.cpp
  for h in $headers; do printf '#include <%s>\\n' "$h" >> p.cpp; done
  echo 'int main(){ return 0; }' >> p.cpp
  g++ -include $PREFIX/$name -O2 -std=c++17 -H -c -o with.o p.cpp 2>h.txt; a=$?
  grep -q "^! $PREFIX/$name.gch" h.txt && used=used || used=UNUSED
  g++ -O2 -std=c++17 -c -o without.o p.cpp; b=$?
  cmp -s with.o without.o && same=same || same=DIFFERENT
  echo "$name $headers: $a $b $used $same"
done < $PREFIX/index.txt
"""
    result = _run_all(DockerConfig(pool_size=1), [ExecRequest(language="bash", files={"main.sh": script},
                                                              limits=Limits(wall_time_s=120))])[0]
    assert result.ok, result
    lines = result.stdout_text.splitlines()
    assert len(lines) >= 9 and any("assert.h bits/stdc++.h" in line for line in lines), lines
    assert all(line.endswith(": 0 0 used same") for line in lines), lines


def test_benchmark_layouts_get_their_prefix_and_the_same_verdicts() -> None:
    requests = []
    for src in PREFIX_PROGRAMS.values():
        requests.append(ExecRequest(language="cpp", files={"main.cpp": src}, limits=LIMITS,
                                    compile_cmd="g++ -O2 -std=c++17 -H -o main *.cpp"))
        requests.append(ExecRequest(language="cpp", files={"main.cpp": src}, limits=LIMITS,
                                    compile_cmd=NO_PCH + "g++ -O2 -std=c++17 -o main *.cpp"))  # no rewrite: not g++ first
    results = _run_all(DockerConfig(pool_size=1), requests)
    by_name = {}
    for i, name in enumerate(PREFIX_PROGRAMS):
        fast, plain = results[2 * i], results[2 * i + 1]
        assert (fast.status, fast.stdout_text) == (plain.status, plain.stdout_text), (name, fast, plain)
        assert "/opt/synthgen/pch/prefix/" not in plain.compile_output, name
        by_name[name] = fast
    assert by_name["humaneval_x"].ok and by_name["humaneval_x"].stdout_text == "ok\n"
    # its includes stop at `using namespace std;`: <stdio.h> <math.h> <vector> (prefix-3), then <algorithm> as text
    assert "! /opt/synthgen/pch/prefix/prefix-3.h.gch" in by_name["humaneval_x"].compile_output
    assert by_name["multipl_e"].status == ExecStatus.RUNTIME_ERROR  # the second assert fails, as it must
    assert "! /opt/synthgen/pch/prefix/prefix-9.h.gch" in by_name["multipl_e"].compile_output
    assert by_name["ndebug_after"].ok and by_name["ndebug_after"].stdout_text == "unchecked\n"
    assert by_name["undeclared_after_prefix"].status == ExecStatus.COMPILE_ERROR
    assert "! /opt/synthgen/pch/prefix/prefix-5.h.gch" in by_name["undeclared_after_prefix"].compile_output
    assert by_name["string_map"].stdout_text == "3\n"
