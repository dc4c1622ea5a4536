// The part of Bun's FFI module the agent uses (peer-credentials.ts). Bun's own type package is not
// a dependency; this declares only what is called, as Bun documents it.
declare module "bun:ffi" {
  export const FFIType: { readonly i32: number; readonly u32: number; readonly ptr: number };
  export type Pointer = number & { readonly __pointer: unique symbol };
  export function ptr(view: ArrayBufferView): Pointer;
  export const read: { u32(pointer: Pointer, byteOffset: number): number };
  export function dlopen<Symbols extends Record<string, { args: readonly number[]; returns: number }>>(
    path: string,
    symbols: Symbols,
  ): { readonly symbols: { readonly [K in keyof Symbols]: (...args: unknown[]) => unknown }; close(): void };
}
