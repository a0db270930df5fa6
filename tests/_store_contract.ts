export { storeContract } from "./support/store_contract.ts";
export { eventually } from "./support/time.ts";
