// The one GPUDevice of an engine: adapter choice, features, limits, loss and error handling.
// dawn.node specifics (ENVIRONMENT.md): the object returned by `create()` must stay reachable for as long
// as any device made from it lives, or the process dies in a use-after-free. We keep it on globalThis.

import { AdapterUnavailableError, DeviceLostError } from '../common/errors';
import { PipelineCache } from './pipelines';
import { installTickPolicy } from './dawnTicks';

export interface GpuOptions {
  /** Ask for a high-performance adapter (default) or a low-power one. */
  powerPreference?: GPUPowerPreference;
  /**
   * dawn.node instance flags, e.g. 'disable-dawn-features=timestamp_quantization' for profiling. They
   * apply to the first instance this process creates (later calls reuse it).
   */
  dawnFlags?: string[];
  /**
   * A device with the least any adapter offers: the specification's default limits and none of the
   * optional features (no shader-f16, subgroups or timestamps). Tests prove that Tandem runs there: kernels
   * that no longer fit fall back to their unfused dispatches, the KV cache to f32. Default false: the
   * adapter's own limits (larger bindings and workgroup memory let kernels fuse) and features.
   */
  minimal?: boolean;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU-emulated adapter (lavapipe, SwiftShader, WARP): kernels are chosen differently and it is slow. */
  isSoftware: boolean;
  /** Shaders are compiled by a CPU JIT at their first dispatch (lavapipe's LLVM; true exactly when
   *  isSoftware, but kept apart so a test can pick a GPU's kernels on lavapipe and still compile them
   *  cheaply): kernels keep loops rolled there that a GPU's compiler may unroll. */
  cpuJit: boolean;
  /** The smallest subgroup the adapter runs (0 when unknown or without subgroups): kernels that reduce
   *  within aligned groups of this many lanes are correct whatever size a dispatch actually gets. */
  subgroupMinSize: number;
}

const KEEP_ALIVE_KEY = '__tandemGpuRoots';

async function loadNavigatorGpu(flags: string[]): Promise<GPU> {
  const g = globalThis as Record<string, unknown>;
  const nav = (g as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  let mod: { create: (opts: string[]) => GPU; globals: object };
  try {
    mod = (await import('webgpu')) as typeof mod;
  } catch (e) {
    throw new AdapterUnavailableError(`the 'webgpu' package could not be loaded: ${(e as Error).message}`);
  }
  const roots = (g[KEEP_ALIVE_KEY] ??= new Set<GPU>()) as Set<GPU>;
  const existing = roots.values().next().value;
  if (existing) return existing;
  Object.assign(globalThis, mod.globals);
  const { GPUBuffer: bufferClass, GPUQueue: queueClass } = mod.globals as { GPUBuffer: { prototype: object }; GPUQueue: { prototype: object } };
  installTickPolicy([[bufferClass.prototype, 'mapAsync'], [queueClass.prototype, 'onSubmittedWorkDone']]);
  const root = mod.create(flags);
  roots.add(root);
  return root;
}

/** Owns the device. `dispose()` destroys it; everything created on it must be disposed first by its owner. */
export class Gpu {
  readonly pipelines: PipelineCache;
  private lostReason: string | undefined;
  private readonly errors: string[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    readonly hasTimestamps: boolean,
    readonly hasSubgroups: boolean,
  ) {
    this.pipelines = new PipelineCache(device, adapter.isSoftware ? 'software' : 'gpu');
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      if (this.errors.length < 20) this.errors.push(msg);
    });
  }

  static async acquire(options: GpuOptions = {}): Promise<Gpu> {
    const gpu = await loadNavigatorGpu(options.dawnFlags ?? []);
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) throw new AdapterUnavailableError('requestAdapter() returned null');
    const info = adapter.info;
    const description = info.description || info.device || '';
    const isSoftware =
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|warp/i.test(description);
    const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
    const requiredFeatures = options.minimal ? [] : wanted.filter((f) => adapter.features.has(f));
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: options.minimal ? {} : {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxUniformBufferBindingSize: l.maxUniformBufferBindingSize,
      },
    });
    return new Gpu(
      device,
      { vendor: info.vendor, architecture: info.architecture, description, isSoftware, cpuJit: isSoftware, subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0 },
      requiredFeatures.includes('timestamp-query'),
      requiredFeatures.includes('subgroups'),
    );
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get isLost(): boolean {
    return this.lostReason !== undefined;
  }

  /** Throws DeviceLostError when the device is gone; call before any work is encoded. */
  assertAlive(): void {
    if (this.lostReason !== undefined) throw new DeviceLostError(this.lostReason);
  }

  /** Validation errors reported asynchronously by the device since the last call (kernel bugs, OOM). */
  takeErrors(): string[] {
    return this.errors.splice(0);
  }

  dispose(): void {
    this.pipelines.clear();
    this.device.destroy();
  }
}
