export * from "./support/raw_client.ts";
