/**
 * The one way the bridge reads a message out of something caught: `catch (err)`
 * gives `unknown`, and a thrown string, `undefined` or a plain object must still
 * say something rather than `undefined`. Pure (the codec uses it too).
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string") return (err as { message: string }).message;
  return String(err);
}
