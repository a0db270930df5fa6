export * from "./support/server.ts";
export { runtimeName } from "./support/runtime.ts";
