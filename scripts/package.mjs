// Packages Tandem as one .vsix per platform: `npm run package -- [--target T]... [--out DIR] [--no-build]`
// (default target: this machine's). The `webgpu` package carries Dawn for five platforms (~133 MB);
// each .vsix keeps only its own dawn.node (~21 MB) and the run-time files .vscodeignore allows.
//
// For each target it writes a .vscodeignore of its own (the repository's, plus
// `!node_modules/webgpu/dist/<dawn folder>/**`) under .cache/vsix/ and hands it to `vsce package
// --ignoreFile`; node_modules is never touched. Dependencies stay on (no --no-dependencies): vsce then
// walks `npm list --production` to find the packages to ship, which is what puts webgpu and
// @huggingface/tokenizers into the .vsix at all; the allow-list keeps only their run-time files. That
// walk fails on a node_modules that does not match package-lock.json: run `npm ci` (scripts/setup.sh).
//
// Prints one JSON line per .vsix: {"name":"vsix","target","path","bytes","files","dawn":[paths],
// "vs":{"allPlatformsDawnBytes"}} (the last: all five Dawn builds unpacked, as one universal package would carry).
// `--entries X.vsix` lists a .vsix's files, one a line.
// `--prepublish` is vsce's vscode:prepublish hook: it refuses a plain `vsce package`, whose .vsix would
// carry no Dawn binary.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** vsce target → the folder of node_modules/webgpu/dist holding its dawn.node (macOS: one universal build). */
export const DAWN_FOLDER = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
  'darwin-x64': 'darwin-universal',
  'darwin-arm64': 'darwin-universal',
};

function hostTarget() {
  return `${process.platform}-${process.arch}`;
}

/** The entry names of a zip file, from its central directory (a .vsix has no archive comment). */
export function zipEntryNames(path) {
  const zip = readFileSync(path);
  const eocd = zip.length - 22; // end-of-central-directory record: [sig u32][..][count u16 @10][size u32 @12][offset u32 @16]
  if (zip.readUInt32LE(eocd) !== 0x06054b50) throw new Error(`${path}: not a zip without a comment`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    // central directory header: [sig u32][..][name len u16 @28][extra len u16 @30][comment len u16 @32][name @46]
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${path}: bad central directory entry ${i}`);
    const nameLen = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLen));
    at += 46 + nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
}

// Child output goes to stderr: stdout carries only the JSON lines.
function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', process.stderr, 'inherit'], env: { ...process.env, ...env }, shell: process.platform === 'win32' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function packageTarget(target, outDir) {
  const folder = DAWN_FOLDER[target];
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const work = join(root, '.cache', 'vsix');
  mkdirSync(work, { recursive: true });
  const ignoreFile = join(work, `${target}.vscodeignore`);
  const base = readFileSync(join(root, '.vscodeignore'), 'utf8');
  writeFileSync(ignoreFile, `${base}\n# added by scripts/package.mjs for ${target}\n!node_modules/webgpu/dist/${folder}/**\n`);
  const out = join(outDir, `tandem-${target}-${version}.vsix`);
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  run(process.execPath, [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--out', out,
    // no LICENSE file and no repository URL yet; README images stay relative (media/ ships in the .vsix)
    '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links'], { TANDEM_VSIX_TARGET: target });
  const names = zipEntryNames(out);
  const dawn = names.filter((n) => n.endsWith('/dawn.node'));
  if (dawn.length !== 1 || !dawn[0].includes(`/webgpu/dist/${folder}/`)) {
    throw new Error(`${out}: expected exactly ${folder}'s dawn.node, found ${JSON.stringify(dawn)}`);
  }
  // the baseline: every platform's Dawn folder, as node_modules holds them (what a single .vsix would carry)
  const allDawnBytes = readdirSync(join(root, 'node_modules', 'webgpu', 'dist'), { recursive: true })
    .map((f) => statSync(join(root, 'node_modules', 'webgpu', 'dist', f))).filter((st) => st.isFile()).reduce((n, st) => n + st.size, 0);
  return { name: 'vsix', target, path: relative(root, out), bytes: statSync(out).size, files: names.length, dawn, vs: { allPlatformsDawnBytes: allDawnBytes } };
}

function main(argv) {
  if (argv.includes('--prepublish')) {
    if (!process.env.TANDEM_VSIX_TARGET) {
      console.error('tandem: package with `npm run package -- --target <platform>` (scripts/package.mjs): a plain `vsce package` would ship no WebGPU binary');
      return 2;
    }
    return 0;
  }
  if (argv[0] === '--entries') { // the entry names of a .vsix, one a line (tests read them)
    process.stdout.write(zipEntryNames(argv[1]).map((n) => `${n}\n`).join(''));
    return 0;
  }
  const targets = [];
  let outDir = join(root, 'dist-vsix');
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') targets.push(...argv[++i].split(','));
    else if (argv[i] === '--out') outDir = resolve(argv[++i]);
    else if (argv[i] === '--no-build') build = false;
    else {
      console.error(`usage: node scripts/package.mjs [--target ${Object.keys(DAWN_FOLDER).join('|')}]... [--out DIR] [--no-build]`);
      return 2;
    }
  }
  if (targets.length === 0) targets.push(hostTarget());
  const unknown = targets.filter((t) => !(t in DAWN_FOLDER));
  if (unknown.length > 0) {
    console.error(`tandem: no Dawn build for ${unknown.join(', ')} in the webgpu package; targets: ${Object.keys(DAWN_FOLDER).join(', ')}`);
    return 2;
  }
  if (build) run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  mkdirSync(outDir, { recursive: true });
  for (const t of targets) process.stdout.write(`${JSON.stringify(packageTarget(t, outDir))}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
