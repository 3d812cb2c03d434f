/** An error the simulated API answers with, in the vendor's envelope `{error:{code,message,details}}`. */
export class ApiFault extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details: unknown = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  toBody(): { error: { code: string; message: string; details: unknown } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export function notFound(what: string, id: string | number): ApiFault {
  return new ApiFault(404, 'not_found', `${what} with ID ${id} not found`);
}

export function invalidInput(field: string, message: string): ApiFault {
  return new ApiFault(400, 'invalid_input', `invalid input in field '${field}'`, {
    fields: [{ name: field, messages: [message] }],
  });
}
