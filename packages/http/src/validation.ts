import type { ZodType, ZodTypeDef } from 'zod';
import { AppError } from './errors';

/** Parses input with a zod schema; failures become VALIDATION_FAILED with one message per field. */
export function parseInput<T>(schema: ZodType<T, ZodTypeDef, unknown>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw AppError.validation(
    result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message })),
  );
}
