/**
 * The Standard Schema interface (v1, https://standardschema.dev), declared
 * here so that ssekit depends on no schema library: the schemas that
 * typed events (`defineEvents`) validate with.
 *
 * @module
 */

/**
 * One issue a schema found (Standard Schema v1).
 *
 * @example An issue at a path
 * ```ts
 * import type { StandardSchemaIssue } from "@ssekit/ssekit";
 *
 * const issue: StandardSchemaIssue = { message: "Expected a number", path: ["usage", "tokens"] };
 * ```
 */
export interface StandardSchemaIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where, in the value. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}

/**
 * What a schema's `validate` gives back (Standard Schema v1).
 *
 * @example A success and a failure
 * ```ts
 * import type { StandardSchemaResult } from "@ssekit/ssekit";
 *
 * const ok: StandardSchemaResult<number> = { value: 9.5 };
 * const failed: StandardSchemaResult<number> = { issues: [{ message: "Expected a number" }] };
 * ```
 */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/**
 * The Standard Schema interface (v1, https://standardschema.dev), declared
 * here so that ssekit depends on no schema library: zod, valibot, arktype
 * and others implement it.
 *
 * @example A hand-written schema
 * ```ts
 * import type { StandardSchemaV1 } from "@ssekit/ssekit";
 *
 * const count: StandardSchemaV1<unknown, number> = {
 *   "~standard": {
 *     version: 1,
 *     vendor: "example",
 *     validate: (value) =>
 *       typeof value === "number" ? { value } : { issues: [{ message: "not a number" }] },
 *   },
 * };
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    readonly types?: {
      readonly input: Input;
      readonly output: Output;
    } | undefined;
  };
}
