// Turns a zod failure into one line a person can act on, naming each field by its path.
import type { z } from 'zod';

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`).join('; ');
}
