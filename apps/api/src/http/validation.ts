import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { CommonErrorCode } from '@app/shared';

/** Flattens nested class-validator errors into `field.path: problem` lines. */
function flatten(errors: ValidationError[], parent = ''): Array<{ field: string; problems: string[] }> {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/** Validation at the edge: unknown fields are refused, and the message names each bad field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      return new BadRequestException({
        code: CommonErrorCode.VALIDATION_FAILED,
        message: fields.flatMap((f) => f.problems).join('; '),
        details: { fields: Object.fromEntries(fields.map((f) => [f.field, f.problems])) },
      });
    },
  });
}
