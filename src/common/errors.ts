// Typed errors a user (or a script) can act on. Every error the engine raises on bad input, a missing
// resource or a lost device is one of these; `code` is stable and is what the CLI maps to exit codes.

export type TandemErrorCode =
  | 'MODEL_FORMAT'
  | 'UNSUPPORTED_QUANT'
  | 'UNSUPPORTED_MODEL'
  | 'OUT_OF_MEMORY'
  | 'DEVICE_LOST'
  | 'ADAPTER_UNAVAILABLE'
  | 'FEATURE_UNAVAILABLE'
  | 'TOKENIZER'
  | 'CANCELLED'
  | 'USAGE'
  | 'NODE_RUNTIME_UNAVAILABLE'
  | 'NODE_RUNTIME_DOWNLOAD'
  | 'MODEL_DOWNLOAD';

export abstract class TandemError extends Error {
  abstract readonly code: TandemErrorCode;
  /** What the user can do about it, one sentence. */
  readonly hint?: string;

  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A GGUF (or llama2.c) file that is truncated, corrupt or hostile. `field` names what was wrong. */
export class ModelFormatError extends TandemError {
  readonly code = 'MODEL_FORMAT';
  constructor(readonly field: string, detail: string, readonly file?: string) {
    super(`${file ? file + ': ' : ''}invalid model file: ${field}: ${detail}`,
      'The file is damaged or not a GGUF model; download it again.');
  }
}

/** A tensor type the kernels cannot read (e.g. a K-quant before it is implemented). */
export class UnsupportedQuantError extends TandemError {
  readonly code = 'UNSUPPORTED_QUANT';
  constructor(readonly tensor: string, readonly typeName: string) {
    super(`tensor ${tensor} has type ${typeName}, which Tandem cannot run yet`,
      'Use a GGUF quantized as F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL or IQ4_XS (e.g. a Q4_K_M or Q8_0 file).');
  }
}

/** An architecture or hyper-parameter the engine does not implement. */
export class UnsupportedModelError extends TandemError {
  readonly code = 'UNSUPPORTED_MODEL';
  constructor(detail: string) {
    super(`unsupported model: ${detail}`, 'Tandem runs dense Llama-, Qwen2-, Qwen3-, StarCoder2-, Gemma- (Gemma 1, CodeGemma), Granite- and StableLM-family GGUF models.');
  }
}

export class OutOfMemoryError extends TandemError {
  readonly code = 'OUT_OF_MEMORY';
  constructor(detail: string, readonly neededBytes?: number, readonly availableBytes?: number) {
    super(`out of memory: ${detail}`, 'Choose a smaller model or raise the memory budget.');
  }
}

export class DeviceLostError extends TandemError {
  readonly code = 'DEVICE_LOST';
  constructor(reason: string) {
    super(`the GPU device was lost: ${reason}`, 'The engine will restart; if it keeps happening, update the GPU driver.');
  }
}

export class AdapterUnavailableError extends TandemError {
  readonly code = 'ADAPTER_UNAVAILABLE';
  constructor(detail: string) {
    super(`no WebGPU adapter: ${detail}`,
      'Install a Vulkan (Linux), Metal (macOS) or D3D12 (Windows) driver; on Debian run scripts/ensure-webgpu.sh as root.');
  }
}

/** The adapter lacks a feature a kernel variant needs (e.g. shader-f16). */
export class FeatureUnavailableError extends TandemError {
  readonly code = 'FEATURE_UNAVAILABLE';
  constructor(readonly feature: string) {
    super(`the WebGPU adapter lacks the feature '${feature}'`);
  }
}

export class TokenizerError extends TandemError {
  readonly code = 'TOKENIZER';
  constructor(detail: string) {
    super(`tokenizer: ${detail}`);
  }
}

export class CancelledError extends TandemError {
  readonly code = 'CANCELLED';
  constructor() {
    super('cancelled');
  }
}

export class UsageError extends TandemError {
  readonly code = 'USAGE';
  constructor(detail: string) {
    super(detail);
  }
}
