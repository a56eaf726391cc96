// GGUF models Tandem recommends downloading ("Tandem: Download a Recommended Model"): Qwen2.5-Coder base
// models (not -Instruct: the base models are the ones trained for fill-in-the-middle) as ggml-org publishes
// them for llama.vim/llama.vscode, Q8_0. The 0.5B is small enough to be the draft of speculative decoding
// for the larger ones (same tokenizer), or a target on a slow GPU.
//
// CHECK AGAINST THE HUB when it is reachable: the repos, file names and sizes below were taken from
// llama.cpp's --fim-qwen-* presets and public catalogues, not read from huggingface.co (this machine
// cannot reach it). Sizes are for the quick pick only; the download takes the size and SHA-256 from the
// hub's file listing at download time (src/models/hubDownload.ts), so a wrong size here misleads, but
// never lets a wrong file through.

export type ModelRole = 'draft' | 'target';

export interface RecommendedModel {
  /** Stable id for settings and tests: "qwen2.5-coder-1.5b-q8_0". */
  id: string;
  label: string;
  /** Hugging Face repo, "owner/name". */
  repo: string;
  /** File name in the repo's main branch. */
  file: string;
  /** Approximate, decimal bytes (see the comment above). */
  bytes: number;
  role: ModelRole;
  quantization: string;
  description: string;
}

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  {
    id: 'qwen2.5-coder-0.5b-q8_0',
    label: 'Qwen2.5-Coder 0.5B',
    repo: 'ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF',
    file: 'qwen2.5-coder-0.5b-q8_0.gguf',
    bytes: 531_068_128,
    role: 'draft',
    quantization: 'Q8_0',
    description: 'the draft for speculative decoding with a larger Qwen2.5-Coder; alone, fast but weak completions',
  },
  {
    id: 'qwen2.5-coder-1.5b-q8_0',
    label: 'Qwen2.5-Coder 1.5B',
    repo: 'ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF',
    file: 'qwen2.5-coder-1.5b-q8_0.gguf',
    bytes: 1_646_573_056,
    role: 'target',
    quantization: 'Q8_0',
    description: 'good completions on integrated GPUs and laptops (about 2 GB of GPU memory)',
  },
  {
    id: 'qwen2.5-coder-3b-q8_0',
    label: 'Qwen2.5-Coder 3B',
    repo: 'ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF',
    file: 'qwen2.5-coder-3b-q8_0.gguf',
    bytes: 3_285_476_160,
    role: 'target',
    quantization: 'Q8_0',
    description: 'better completions on a discrete GPU with 6 GB or more',
  },
  {
    id: 'qwen2.5-coder-7b-q8_0',
    label: 'Qwen2.5-Coder 7B',
    repo: 'ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF',
    file: 'qwen2.5-coder-7b-q8_0.gguf',
    bytes: 8_098_525_600,
    role: 'target',
    quantization: 'Q8_0',
    description: 'the best completions of the four; needs a GPU with 12 GB or more',
  },
];
