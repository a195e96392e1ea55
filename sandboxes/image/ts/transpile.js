// Transpile-only TypeScript (no type checking): each .ts argument -> a .js beside it.
// Syntax errors still fail the compile step, with file:line:col like tsc prints them.
'use strict';
const fs = require('fs');
const ts = require('typescript');

let failed = false;
for (const file of process.argv.slice(2)) {
  if (file.endsWith('.d.ts')) continue;
  const source = fs.readFileSync(file, 'utf8');
  const out = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS },
  });
  for (const d of out.diagnostics || []) {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
    const pos = where ? `(${where.line + 1},${where.character + 1})` : '';
    process.stderr.write(`${file}${pos}: error TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n`);
    failed = true;
  }
  fs.writeFileSync(file.replace(/\.ts$/, '.js'), out.outputText);
}
process.exit(failed ? 1 : 0);
