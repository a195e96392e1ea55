// Debian ships no @types/node: just enough ambient typing that ordinary node programs compile.
declare var process: any;
declare var require: any;
declare var module: any;
declare var exports: any;
declare var Buffer: any;
declare var __dirname: string;
declare var __filename: string;
declare module "*";
