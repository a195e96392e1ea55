// Warm tsc for the sandbox supervisor (sandboxes/image/_sg_compilers.py): one node process with the
// TypeScript compiler loaded serves every TypeScript compile of its container; each request is a new
// Program over the job's own files, only the read-only library declarations (/usr, /opt/synthgen) are
// parsed once and shared. Protocol as JavacServer.java: "id\tout-file\tcwd\ttsc args..." -> "id\tstatus".
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const ts = require('typescript');

const shared = new Map();
function isShared(file) {
  return file.startsWith('/usr/') || file.startsWith('/opt/synthgen/');
}

function compile(cwd, args, outFile) {
  const parsed = ts.parseCommandLine(args);
  const options = parsed.options;
  for (const key of ['outDir', 'rootDir', 'baseUrl', 'outFile']) {
    if (options[key]) options[key] = path.resolve(cwd, options[key]);
  }
  const files = parsed.fileNames.map((f) => path.resolve(cwd, f));
  const host = ts.createCompilerHost(options);
  host.getCurrentDirectory = () => cwd;
  const read = host.getSourceFile;
  host.getSourceFile = (fileName, language, onError, create) => {
    if (!isShared(fileName)) return read(fileName, language, onError, create);
    const key = fileName + '|' + JSON.stringify(language);
    if (!shared.has(key)) shared.set(key, read(fileName, language, onError, create));
    return shared.get(key);
  };
  const program = ts.createProgram(files, options, host);
  const emitted = program.emit();
  const diagnostics = parsed.errors.concat(ts.getPreEmitDiagnostics(program), emitted.diagnostics);
  const format = { getCurrentDirectory: () => cwd, getCanonicalFileName: (f) => f, getNewLine: () => '\n' };
  fs.writeFileSync(outFile, ts.formatDiagnostics(diagnostics, format));
  if (!diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error)) return 0;
  return emitted.emitSkipped ? 1 : 2; // tsc's own exit statuses
}

process.stdout.write('ready\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [id, outFile, cwd, ...args] = line.split('\t');
  let code = 4;
  try {
    code = compile(cwd, args, outFile);
  } catch (e) {
    try { fs.writeFileSync(outFile, String(e && e.stack)); } catch (_) { /* reported by the status */ }
  }
  process.stdout.write(`${id}\t${code}\n`);
});
