export * from "./support/child.ts";
