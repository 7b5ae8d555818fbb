#!/usr/bin/env node
// The hugai command of @hugai/cli: runs the Go binary that npm installed with this platform's
// optional dependency (@hugai/cli-<os>-<cpu>, esbuild's layout). Nothing is downloaded at install
// or run time, so `npx @hugai/cli …` works offline once installed.
'use strict';

const { spawnSync } = require('child_process');

const platforms = {
  'linux x64': '@hugai/cli-linux-x64',
  'linux arm64': '@hugai/cli-linux-arm64',
  'darwin x64': '@hugai/cli-darwin-x64',
  'darwin arm64': '@hugai/cli-darwin-arm64',
  'win32 x64': '@hugai/cli-win32-x64',
};

function binaryPath() {
  if (process.env.HUGAI_BINARY_PATH) {
    return process.env.HUGAI_BINARY_PATH;
  }
  const key = `${process.platform} ${process.arch}`;
  const pkg = platforms[key];
  if (!pkg) {
    throw new Error(`no hugai binary is published for ${key} (published: ${Object.keys(platforms).join(', ')}); ` +
      'build one with `go build ./cmd/hugai` and set HUGAI_BINARY_PATH');
  }
  const exe = process.platform === 'win32' ? 'hugai.exe' : 'hugai';
  try {
    return require.resolve(`${pkg}/bin/${exe}`);
  } catch (e) {
    throw new Error(`${pkg} is not installed: npm skipped this platform's optional dependency ` +
      '(installed with --omit=optional or --no-optional?); reinstall @hugai/cli with optional dependencies');
  }
}

let bin;
try {
  bin = binaryPath();
} catch (e) {
  console.error(`@hugai/cli: ${e.message}`);
  process.exit(1);
}
const r = spawnSync(bin, process.argv.slice(2), { stdio: 'inherit', windowsHide: true });
if (r.error) {
  console.error(`@hugai/cli: run ${bin}: ${r.error.message}`);
  process.exit(1);
}
if (r.signal) {
  // Die of the same signal, so the caller sees what hugai saw.
  process.kill(process.pid, r.signal);
}
process.exit(r.status === null ? 1 : r.status);
