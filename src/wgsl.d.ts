// esbuild imports kernels/*.wgsl as text (scripts/build.mjs).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
