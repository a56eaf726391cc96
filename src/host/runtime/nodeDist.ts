// The official Node.js release layout and where Tandem keeps downloaded builds:
//   <baseUrl>/v22.12.0/SHASUMS256.txt
//   <baseUrl>/v22.12.0/node-v22.12.0-linux-x64.tar.xz   (tar.gz too; Windows: node-v22.12.0-win-x64.zip)
// An archive holds one folder named like the archive, with bin/node (POSIX) or node.exe (Windows).
// Installed builds live in <storageDir>/node/<that folder name>/.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A current LTS release; the caller may pass another (a setting), the checksum file makes any safe. */
export const DEFAULT_NODE_VERSION = '24.21.0';
export const DEFAULT_NODE_DIST_URL = 'https://nodejs.org/dist';

export type ArchiveFormat = 'tar.xz' | 'tar.gz' | 'zip';

export interface NodeDistribution {
  version: string; // without the v: "22.12.0"
  /** Folder inside the archive and under <storageDir>/node/: "node-v22.12.0-linux-x64". */
  dirName: string;
  archiveName: string;
  archiveUrl: string;
  shasumsUrl: string;
  format: ArchiveFormat;
  /** Path of the binary relative to the build folder. */
  binRelPath: string;
}

/** process.platform/process.arch → the names in Node.js release file names. */
export function distTarget(platform: string, arch: string): { os: string; cpu: string } {
  const os = platform === 'win32' ? 'win' : platform; // linux, darwin, aix
  const cpu = arch === 'arm' ? 'armv7l' : arch; // x64, arm64, ppc64le, s390x
  return { os, cpu };
}

export function nodeDistribution(opts: {
  version?: string;
  baseUrl?: string;
  platform?: string;
  arch?: string;
  format?: ArchiveFormat;
}): NodeDistribution {
  const version = (opts.version ?? DEFAULT_NODE_VERSION).replace(/^v/, '');
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`not a Node.js version: ${opts.version}`);
  const platform = opts.platform ?? process.platform;
  const { os, cpu } = distTarget(platform, opts.arch ?? process.arch);
  const format = opts.format ?? (platform === 'win32' ? 'zip' : 'tar.xz');
  const base = (opts.baseUrl ?? DEFAULT_NODE_DIST_URL).replace(/\/+$/, '');
  const dirName = `node-v${version}-${os}-${cpu}`;
  const archiveName = `${dirName}.${format}`;
  return {
    version,
    dirName,
    archiveName,
    archiveUrl: `${base}/v${version}/${archiveName}`,
    shasumsUrl: `${base}/v${version}/SHASUMS256.txt`,
    format,
    binRelPath: platform === 'win32' ? 'node.exe' : join('bin', 'node'),
  };
}

/** The SHA-256 (lower-case hex) that SHASUMS256.txt gives for `fileName`, or undefined. Lines are
 *  "<64 hex>  <name>"; a leading "*" (binary mode) on the name is allowed. */
export function findChecksum(shasums: string, fileName: string): string | undefined {
  for (const line of shasums.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line);
    if (m && m[2] === fileName) return m[1].toLowerCase();
  }
  return undefined;
}

export function runtimesDir(storageDir: string): string {
  return join(storageDir, 'node');
}

export interface InstalledRuntime {
  version: string;
  dir: string;
  binPath: string;
}

/** Builds already unpacked into the storage dir for this platform, newest version first. */
export function installedRuntimes(storageDir: string, platform: string = process.platform, arch: string = process.arch): InstalledRuntime[] {
  const root = runtimesDir(storageDir);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const { os, cpu } = distTarget(platform, arch);
  const found: InstalledRuntime[] = [];
  for (const name of names) {
    const m = /^node-v(\d+\.\d+\.\d+)-(.+)$/.exec(name);
    if (!m || m[2] !== `${os}-${cpu}`) continue;
    const dir = join(root, name);
    const binPath = join(dir, platform === 'win32' ? 'node.exe' : join('bin', 'node'));
    if (existsSync(binPath)) found.push({ version: m[1], dir, binPath });
  }
  return found.sort((a, b) => compareVersions(b.version, a.version));
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
