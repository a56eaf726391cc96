// A real llama.cpp `llama-server` for the remote-backend tests: installed by scripts/llama-server-setup.sh
// (a Debian forky chroot; root only), started on 127.0.0.1 on a free port by scripts/llama-server-start.sh
// and stopped by the test. `skipReason()` says why the suite cannot run here (not root, not Debian, the
// install failed), so the tests skip with that message instead of failing.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../helpers/testModels';

let installed: string | undefined | null = null;

/** Installs llama-server once per process (a no-op when already there); undefined when it is ready. */
export function llamaServerSkipReason(): string | undefined {
  if (installed !== null) return installed;
  if (process.platform !== 'linux' || !existsSync('/etc/debian_version')) return (installed = 'the llama-server tests need a Debian host (they build a Debian forky chroot)');
  const rootfs = join(repoRoot(), '.cache', 'llama-server', 'rootfs');
  if (!existsSync(join(rootfs, '.tandem-ready')) && process.getuid?.() !== 0) {
    return (installed = 'the llama-server tests need root once, to install llama-server (scripts/llama-server-setup.sh: debootstrap, chroot)');
  }
  if (process.getuid?.() !== 0) return (installed = 'the llama-server tests need root (the server runs in a chroot)');
  const r = spawnSync('bash', [join(repoRoot(), 'scripts', 'llama-server-setup.sh')], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return (installed = `scripts/llama-server-setup.sh failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
  return (installed = undefined);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class LlamaServer {
  private exited: Promise<void>;
  private log = '';

  private constructor(readonly child: ChildProcess, readonly port: number, readonly model: string, readonly args: string[]) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => { this.log = (this.log + s).slice(-20_000); });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.log = (this.log + s).slice(-20_000); });
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.log;
  }

  /** Starts the server and resolves once /health answers 200 (model loaded); rejects with its log otherwise. */
  static async start(model: string, args: string[], port?: number): Promise<LlamaServer> {
    const p = port ?? await freePort();
    const child = spawn('sh', [join(repoRoot(), 'scripts', 'llama-server-start.sh'), model, String(p), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const s = new LlamaServer(child, p, model, args);
    let gone = false;
    void s.exited.then(() => { gone = true; });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !gone) {
      try {
        await s.get('/health', undefined, 1000);
        return s;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await s.stop();
    throw new Error(`llama-server did not become healthy on port ${p}:\n${s.log.slice(-3000)}`);
  }

  /** The same model and arguments on the same port (after a stop or kill). */
  restart(): Promise<LlamaServer> {
    return LlamaServer.start(this.model, this.args, this.port);
  }

  /** SIGKILL: the server vanishes mid-whatever, as a crash would. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  async json<T>(path: string, body?: unknown): Promise<T> {
    return JSON.parse(await this.get(path, body)) as T;
  }

  /** One request on its own connection, closed after (no keep-alive: the socket counts stay exact). */
  get(path: string, body?: unknown, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(this.url + path, { method: body === undefined ? 'GET' : 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s)).on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${path}: HTTP ${res.statusCode} ${text}`));
          else resolve(text);
        });
      });
      req.on('error', reject);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path}: no answer in ${timeoutMs} ms`)));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** Prometheus counters from /metrics (the server must run with --metrics). */
  async metrics(): Promise<Record<string, number>> {
    const text = await this.get('/metrics');
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^llamacpp:(\w+) ([\d.e+-]+)$/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  }
}

/** TCP connections in ESTABLISHED state to `port` on this machine (both directions counted once, client side). */
export function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[2]: remote address:port; state 01 = ESTABLISHED
      if (cols.length > 3 && cols[2].endsWith(`:${hex}`) && cols[3] === '01') n++;
    }
  }
  return n;
}
