export { collectGarbage } from "./support/gc.ts";
