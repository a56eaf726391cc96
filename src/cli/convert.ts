// `tandem convert llama2c <model.bin> <tokenizer.bin> -o <out.gguf> [--type <type>]`

import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors';
import { convertLlama2c, WEIGHT_TYPES, type WeightTypeName } from '../loaders/llama2c';

export async function convertCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { out: { type: 'string', short: 'o' }, type: { type: 'string' } }, allowPositionals: true });
  const [format, model, tokenizer] = positionals;
  if (format !== 'llama2c' || !model || !tokenizer || !values.out) throw new UsageError('usage: tandem convert llama2c <model.bin> <tokenizer.bin> -o <out.gguf> [--type <type>]');
  const type = (values.type ?? 'f32') as WeightTypeName;
  if (!(type in WEIGHT_TYPES)) throw new UsageError(`--type must be one of ${Object.keys(WEIGHT_TYPES).join(', ')}`);
  await convertLlama2c(model, tokenizer, values.out, { type });
  process.stderr.write(`wrote ${values.out}\n`);
}
