export * from "./support/connect.ts";
