// Prints the WebGPU adapter's info, exits 1 when there is none. Used by ensure-webgpu.sh.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
globalThis.__tandemGpuRoot = create([]);
const adapter = await globalThis.__tandemGpuRoot.requestAdapter();
if (!adapter) { console.error('no adapter'); process.exit(1); }
const info = adapter.info ?? {};
console.log(JSON.stringify({ vendor: info.vendor, architecture: info.architecture, description: info.description, features: [...adapter.features] }));
process.exit(0);
