// Preloaded (`node --require`) into every JavaScript/TypeScript job: a failing console.assert ends
// the program with status 1. Plain node only prints "Assertion failed" and exits 0, so a verifier
// had to treat any stderr output as failure, which also failed correct programs that log to stderr.
'use strict';
const util = require('util');

console.assert = function strictAssert(value, ...message) {
  if (value) return;
  const text = message.length ? ': ' + util.format(...message) : '';
  // stderr is a pipe here: writes to pipes are synchronous on Linux, so the line is not lost.
  process.stderr.write('Assertion failed' + text + '\n');
  process.exit(1);
};
