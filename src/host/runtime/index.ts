// Choosing and fetching the Node.js runtime for the engine process (issue 8). Editor-independent: the
// extension layer passes settings values, its global storage folder and a progress callback.
export { selectNodeRuntime, currentHost, findOnPath, resolveExplicit } from './select';
export type { SelectNodeRuntimeOptions, SelectedNodeRuntime, HostProcess } from './select';
export { downloadNodeRuntime } from './download';
export type { DownloadNodeOptions, DownloadProgress } from './download';
export { NoNodeRuntimeError, RuntimeDownloadError, describeRejection } from './errors';
export type { Rejection, RejectReason, RuntimeSource, DownloadFailure } from './errors';
export { DEFAULT_NODE_DIST_URL, DEFAULT_NODE_VERSION, installedRuntimes, nodeDistribution, findChecksum } from './nodeDist';
export type { InstalledRuntime, NodeDistribution, ArchiveFormat } from './nodeDist';
export { runSelfTest, judgeReport, runtimeSpawnEnv, MIN_NODE_MAJOR } from './selfTest';
export type { SelfTestReport, WebGpuStatus } from './selfTestScript';
