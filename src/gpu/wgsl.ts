// WGSL assembly: a kernel's source is common.wgsl + (a dtype snippet) + the op, with {{NAME}} holes
// filled for the few values WGSL needs as true constants (private array sizes). Everything else is an
// `override` constant set at pipeline creation.

export function specialise(source: string, values: Record<string, string | number>): string {
  const out = source.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`WGSL template value {{${name}}} not given`);
    return String(values[name]);
  });
  return out;
}
