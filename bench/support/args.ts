/** `--name=N` from a benchmark's arguments: an integer in [min, max], else `fallback`; RangeError names the flag. */
export function numberArg(args: readonly string[], name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${raw}`);
  }
  return value;
}
