"""The correctness suite's programs: per language, the same eight situations and their expected verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

UNICODE = "héllo ✓ 世界"


@dataclass(frozen=True)
class Case:
    language: str
    name: str
    files: dict[str, str]
    status: str
    stdout: str | None = None  # exact, when given
    stdin: str = ""
    exit_code: int | None = None
    mentions: tuple[str, ...] = ()  # each must appear in stderr + compile output
    extra: dict = field(default_factory=dict)


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(lang, name, files, status, **kw):
        c.append(Case(lang, name, files, status, **kw))

    # python
    add("python", "hello", {"main.py": "print('hello')"}, "ok", stdout="hello\n")
    add(
        "python",
        "stdin_echo",
        {"main.py": "import sys\nsys.stdout.write(sys.stdin.read())"},
        "ok",
        stdin=f"a\n{UNICODE}\n",
        stdout=f"a\n{UNICODE}\n",
    )
    add("python", "broken", {"main.py": "def f(:\n"}, "runtime_error", mentions=("SyntaxError",))
    add(
        "python",
        "runtime_error",
        {"main.py": "print(1/0)"},
        "runtime_error",
        exit_code=1,
        mentions=("ZeroDivisionError",),
    )
    add(
        "python",
        "assertion",
        {"main.py": "assert 1 == 2, 'boom'"},
        "runtime_error",
        mentions=("AssertionError",),
    )
    add("python", "exit_code", {"main.py": "import sys\nsys.exit(3)"}, "runtime_error", exit_code=3)
    add(
        "python",
        "multi_file",
        {
            "main.py": "from helper import greet\nprint(greet('x'))",
            "helper.py": "def greet(n):\n    return 'hi ' + n",
        },
        "ok",
        stdout="hi x\n",
    )
    add("python", "unicode", {"main.py": f"print({UNICODE!r})"}, "ok", stdout=f"{UNICODE}\n")

    # c
    add(
        "c",
        "hello",
        {"main.c": '#include <stdio.h>\nint main(void){puts("hello");return 0;}'},
        "ok",
        stdout="hello\n",
    )
    add(
        "c",
        "stdin_echo",
        {
            "main.c": "#include <stdio.h>\nint main(void){int ch;while((ch=getchar())!=EOF)"
            "putchar(ch);return 0;}"
        },
        "ok",
        stdin=UNICODE,
        stdout=UNICODE,
    )
    add("c", "broken", {"main.c": "int main(void){ return x; }"}, "compile_error", mentions=("undeclared",))
    add(
        "c",
        "runtime_error",
        {"main.c": "int main(void){volatile int *p=0; *p=1; return 0;}"},
        "runtime_error",
    )
    add(
        "c",
        "assertion",
        {"main.c": "#include <assert.h>\nint main(void){assert(1 == 2);return 0;}"},
        "runtime_error",
        mentions=("Assertion",),
    )
    add("c", "exit_code", {"main.c": "int main(void){return 3;}"}, "runtime_error", exit_code=3)
    add(
        "c",
        "multi_file",
        {
            "main.c": '#include <stdio.h>\n#include "util.h"\nint main(void){printf("%d\\n", twice(21));}',
            "util.h": "int twice(int);",
            "util.c": "int twice(int x){return 2*x;}",
        },
        "ok",
        stdout="42\n",
    )
    add(
        "c",
        "unicode",
        {"main.c": f'#include <stdio.h>\nint main(void){{puts("{UNICODE}");return 0;}}'},
        "ok",
        stdout=f"{UNICODE}\n",
    )

    # cpp
    inc = "#include <iostream>\n#include <string>\n#include <stdexcept>\n#include <cassert>\n"
    add(
        "cpp",
        "hello",
        {"main.cpp": inc + 'int main(){std::cout << "hello" << std::endl;}'},
        "ok",
        stdout="hello\n",
    )
    add(
        "cpp",
        "stdin_echo",
        {
            "main.cpp": inc + "int main(){std::string l; while(std::getline(std::cin,l))"
            " std::cout << l << '\\n';}"
        },
        "ok",
        stdin=f"{UNICODE}\n",
        stdout=f"{UNICODE}\n",
    )
    add(
        "cpp",
        "broken",
        {"main.cpp": inc + "int main(){ std::string s = 5 }"},
        "compile_error",
        mentions=("error",),
    )
    add(
        "cpp",
        "runtime_error",
        {"main.cpp": inc + 'int main(){ throw std::runtime_error("boom"); }'},
        "runtime_error",
        mentions=("boom",),
    )
    add(
        "cpp",
        "assertion",
        {"main.cpp": inc + "int main(){ assert(1 == 2); }"},
        "runtime_error",
        mentions=("Assertion",),
    )
    add("cpp", "exit_code", {"main.cpp": "int main(){ return 3; }"}, "runtime_error", exit_code=3)
    add(
        "cpp",
        "multi_file",
        {
            "main.cpp": inc + '#include "util.h"\nint main(){ std::cout << twice(21) << "\\n"; }',
            "util.h": "int twice(int);",
            "util.cpp": "int twice(int x){ return 2*x; }",
        },
        "ok",
        stdout="42\n",
    )
    add(
        "cpp",
        "unicode",
        {"main.cpp": inc + f'int main(){{ std::cout << "{UNICODE}" << "\\n"; }}'},
        "ok",
        stdout=f"{UNICODE}\n",
    )

    # java
    def jmain(body: str, extra: str = "") -> dict[str, str]:
        return {
            "Main.java": f"{extra}public class Main {{ public static void main(String[] a) throws Exception {{ "
            f"{body} }} }}"
        }

    add("java", "hello", jmain('System.out.println("hello");'), "ok", stdout="hello\n")
    add(
        "java",
        "stdin_echo",
        jmain(
            "System.out.print(new String(System.in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));"
        ),
        "ok",
        stdin=UNICODE,
        stdout=UNICODE,
    )
    add("java", "broken", jmain("int x = 1"), "compile_error", mentions=("error",))
    add(
        "java",
        "runtime_error",
        jmain("int[] x = new int[1]; x[2] = 1;"),
        "runtime_error",
        exit_code=1,
        mentions=("ArrayIndexOutOfBounds",),
    )
    add("java", "assertion", jmain('assert 1 == 2 : "boom";'), "runtime_error", mentions=("AssertionError",))
    add("java", "exit_code", jmain("System.exit(3);"), "runtime_error", exit_code=3)
    add(
        "java",
        "multi_file",
        {
            **jmain("System.out.println(Helper.twice(21));"),
            "Helper.java": "public class Helper { static int twice(int x) { return 2 * x; } }",
        },
        "ok",
        stdout="42\n",
    )
    add("java", "unicode", jmain(f'System.out.println("{UNICODE}");'), "ok", stdout=f"{UNICODE}\n")

    # javascript
    add("javascript", "hello", {"main.js": "console.log('hello')"}, "ok", stdout="hello\n")
    add(
        "javascript",
        "stdin_echo",
        {"main.js": "process.stdout.write(require('fs').readFileSync(0))"},
        "ok",
        stdin=UNICODE,
        stdout=UNICODE,
    )
    add("javascript", "broken", {"main.js": "function ("}, "runtime_error", mentions=("SyntaxError",))
    add(
        "javascript",
        "runtime_error",
        {"main.js": "null.x"},
        "runtime_error",
        exit_code=1,
        mentions=("TypeError",),
    )
    add(
        "javascript",
        "assertion",
        {"main.js": "console.assert(1 === 2, 'boom')"},
        "runtime_error",
        exit_code=1,  # image/js/strict-assert.js: a failing console.assert exits 1
        mentions=("Assertion failed",),
    )
    add("javascript", "exit_code", {"main.js": "process.exit(3)"}, "runtime_error", exit_code=3)
    add(
        "javascript",
        "multi_file",
        {
            "main.js": "console.log(require('./helper.js').twice(21))",
            "helper.js": "exports.twice = (x) => 2 * x;",
        },
        "ok",
        stdout="42\n",
    )
    add("javascript", "unicode", {"main.js": f"console.log({UNICODE!r})"}, "ok", stdout=f"{UNICODE}\n")

    # typescript
    add(
        "typescript",
        "hello",
        {"main.ts": "const msg: string = 'hello';\nconsole.log(msg);"},
        "ok",
        stdout="hello\n",
    )
    add(
        "typescript",
        "stdin_echo",
        {
            "main.ts": "import * as fs from 'fs';\nconst s: string = "
            "fs.readFileSync(0, 'utf8');\nprocess.stdout.write(s);"
        },
        "ok",
        stdin=UNICODE,
        stdout=UNICODE,
    )
    add(
        "typescript",
        "broken",
        {"main.ts": "const x: number = 'not a number';"},
        "compile_error",
        mentions=("TS2322",),
    )
    add(
        "typescript",
        "runtime_error",
        {"main.ts": "throw new Error('boom');"},
        "runtime_error",
        mentions=("boom",),
    )
    add(
        "typescript",
        "assertion",
        {"main.ts": "console.assert(1 + 1 === 3, 'boom');"},
        "runtime_error",
        mentions=("Assertion failed",),
    )
    add("typescript", "exit_code", {"main.ts": "process.exit(3);"}, "runtime_error", exit_code=3)
    add(
        "typescript",
        "multi_file",
        {
            "main.ts": "import { twice } from './helper';\nconsole.log(twice(21));",
            "helper.ts": "export function twice(x: number): number { return 2 * x; }",
        },
        "ok",
        stdout="42\n",
    )
    add("typescript", "unicode", {"main.ts": f"console.log({UNICODE!r});"}, "ok", stdout=f"{UNICODE}\n")

    # php
    add("php", "hello", {"main.php": '<?php echo "hello\\n";'}, "ok", stdout="hello\n")
    add(
        "php",
        "stdin_echo",
        {"main.php": "<?php echo stream_get_contents(STDIN);"},
        "ok",
        stdin=UNICODE,
        stdout=UNICODE,
    )
    add("php", "broken", {"main.php": "<?php function ("}, "runtime_error", mentions=("Parse error",))
    add(
        "php",
        "runtime_error",
        {"main.php": "<?php throw new Exception('boom');"},
        "runtime_error",
        mentions=("boom",),
    )
    add(
        "php",
        "assertion",
        {"main.php": "<?php assert(1 == 2);"},
        "runtime_error",
        mentions=("AssertionError",),
    )
    add("php", "exit_code", {"main.php": "<?php exit(3);"}, "runtime_error", exit_code=3)
    add(
        "php",
        "multi_file",
        {
            "main.php": "<?php require __DIR__ . '/helper.php'; echo twice(21), \"\\n\";",
            "helper.php": "<?php function twice($x) { return 2 * $x; }",
        },
        "ok",
        stdout="42\n",
    )
    add("php", "unicode", {"main.php": f'<?php echo "{UNICODE}\\n";'}, "ok", stdout=f"{UNICODE}\n")

    # rust
    add("rust", "hello", {"main.rs": 'fn main() { println!("hello"); }'}, "ok", stdout="hello\n")
    add(
        "rust",
        "stdin_echo",
        {
            "main.rs": "use std::io::Read;\nfn main() { let mut s = String::new(); "
            'std::io::stdin().read_to_string(&mut s).unwrap(); print!("{}", s); }'
        },
        "ok",
        stdin=UNICODE,
        stdout=UNICODE,
    )
    add(
        "rust",
        "broken",
        {"main.rs": 'fn main() { let x: i32 = "s"; }'},
        "compile_error",
        mentions=("mismatched types",),
    )
    add(
        "rust",
        "runtime_error",
        {"main.rs": 'fn main() { let v: Vec<i32> = vec![]; println!("{}", v[3]); }'},
        "runtime_error",
        exit_code=101,
        mentions=("index out of bounds",),
    )
    add(
        "rust",
        "assertion",
        {"main.rs": "fn main() { assert_eq!(1, 2); }"},
        "runtime_error",
        mentions=("assertion",),
    )
    add(
        "rust", "exit_code", {"main.rs": "fn main() { std::process::exit(3); }"}, "runtime_error", exit_code=3
    )
    add(
        "rust",
        "multi_file",
        {
            "main.rs": 'mod helper;\nfn main() { println!("{}", helper::twice(21)); }',
            "helper.rs": "pub fn twice(x: i32) -> i32 { 2 * x }",
        },
        "ok",
        stdout="42\n",
    )
    add(
        "rust", "unicode", {"main.rs": f'fn main() {{ println!("{UNICODE}"); }}'}, "ok", stdout=f"{UNICODE}\n"
    )

    # bash
    add("bash", "hello", {"main.sh": "echo hello"}, "ok", stdout="hello\n")
    add("bash", "stdin_echo", {"main.sh": "cat"}, "ok", stdin=UNICODE, stdout=UNICODE)
    add("bash", "broken", {"main.sh": "if then fi ("}, "runtime_error", mentions=("syntax error",))
    add(
        "bash",
        "runtime_error",
        {"main.sh": "no_such_command_xyz"},
        "runtime_error",
        exit_code=127,
        mentions=("not found",),
    )
    add(
        "bash",
        "assertion",
        {"main.sh": '[ 1 -eq 2 ] || { echo "assertion failed" >&2; exit 1; }'},
        "runtime_error",
        exit_code=1,
        mentions=("assertion failed",),
    )
    add("bash", "exit_code", {"main.sh": "exit 3"}, "runtime_error", exit_code=3)
    add(
        "bash",
        "multi_file",
        {"main.sh": "source ./helper.sh\ntwice 21", "helper.sh": "twice() { echo $(( 2 * $1 )); }"},
        "ok",
        stdout="42\n",
    )
    add("bash", "unicode", {"main.sh": f"echo '{UNICODE}'"}, "ok", stdout=f"{UNICODE}\n")

    # sql (sqlite3; reads no stdin, has no exit codes of its own)
    add("sql", "hello", {"main.sql": "SELECT 'hello';"}, "ok", stdout="hello\n")
    add("sql", "broken", {"main.sql": "SELEC 1;"}, "runtime_error", mentions=("syntax error",))
    add(
        "sql",
        "runtime_error",
        {"main.sql": "SELECT * FROM missing_table;"},
        "runtime_error",
        mentions=("no such table",),
    )
    add(
        "sql",
        "assertion",
        {"main.sql": "CREATE TABLE t(x INTEGER CHECK (x > 0));\nINSERT INTO t VALUES (-1);"},
        "runtime_error",
        mentions=("CHECK constraint failed",),
    )
    add(
        "sql",
        "multi_file",
        {
            "main.sql": ".read schema.sql\nSELECT sum(x) FROM t;",
            "schema.sql": "CREATE TABLE t(x);\nINSERT INTO t VALUES (20), (22);",
        },
        "ok",
        stdout="42\n",
    )
    add("sql", "unicode", {"main.sql": f"SELECT '{UNICODE}';"}, "ok", stdout=f"{UNICODE}\n")
    return c


CASES = _cases()
