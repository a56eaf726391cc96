// Compiled compute pipelines, keyed by kernel variant. A variant is a value: the op, the WGSL it is built
// from, and the override constants; its key is also its cache key (as in llama.cpp's ggml-webgpu).

export interface KernelVariant {
  /** e.g. 'matmul'. */
  op: string;
  /** Full WGSL source (already specialised by dtype snippets). */
  source: string;
  /** A short name of the source specialisation, e.g. 'q8_0'. Part of the key. */
  flavour: string;
  /** Pipeline-overridable constants (`override` in WGSL): shapes, workgroup size. */
  constants: Record<string, number>;
}

export function variantKey(v: KernelVariant, adapterClass: string): string {
  const c = Object.keys(v.constants).sort().map((k) => `${k}=${v.constants[k]}`).join(',');
  return `${adapterClass}/${v.op}/${v.flavour}/${c}`;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private createdCount = 0;

  constructor(private readonly device: GPUDevice, readonly adapterClass: string) {}

  get(variant: KernelVariant): GPUComputePipeline {
    const key = variantKey(variant, this.adapterClass);
    let p = this.pipelines.get(key);
    if (p) return p;
    const moduleKey = `${variant.op}/${variant.flavour}`;
    let module = this.modules.get(moduleKey);
    if (!module) {
      module = this.device.createShaderModule({ code: variant.source, label: moduleKey });
      this.modules.set(moduleKey, module);
    }
    p = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: variant.constants },
    });
    this.pipelines.set(key, p);
    this.createdCount++;
    return p;
  }

  /**
   * Pipelines created so far, never decreasing (clear() keeps it). A pass that runs a pipeline for the first
   * time may include its compilation in its GPU time (lavapipe JIT-compiles at the first dispatch).
   */
  get created(): number {
    return this.createdCount;
  }

  get size(): number {
    return this.pipelines.size;
  }

  clear(): void {
    this.pipelines.clear();
    this.modules.clear();
  }
}
